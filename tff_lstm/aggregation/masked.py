"""Masked secure aggregation: the settings, and the TFF pieces of its round.

TFF's local runtime has no secure-sum protocol (it lowers secure sums to
plain sums), and a TFF aggregation factory has no way to give each client its
own key material. So masked SecAgg is built from three parts instead:

  * the key rounds run in Python between simulated clients and a server
    (`secagg_protocol`), once per round, before the TFF round;
  * each surviving client's mask seeds enter the TFF round as part of its
    input, and the client quantizes its weighted update to the ring and adds
    its masks there (`client_mask`, TF stateless generators);
  * the cohort's masked vectors are summed (`tff.federated_sum`; they are
    uniform in the ring, so the plain sum reveals only their sum), and the
    server adds its unmasking masks, rebuilt from the survivors' shares and
    carried in its aggregator state, then dequantizes (`server_unmask`).

With DP ('gaussian_fixed'), the client runs distributed DP's client steps
before masking and the server its server steps after unmasking, in DDP's
ring of 2^secure_bits (`masked_ddp`). With compression and no DP, the same
chain runs with no noise in a ring of 2^compression_bits: a rotation, an L2
clip that fixes a range shared by all clients, and stochastic rounding, the
compression that composes with a modular sum (Kairouz et al. 2021, Chen et
al. 2022); each coordinate travels as b bits.

The vectorized cohort (algorithms/vectorized_cohort.py) composes these in
its round; `training/masked_rounds.py` runs the key rounds and fills the
inputs.
"""

import collections
import dataclasses
import math

from typing import Optional

import numpy as np
import tensorflow as tf
import tensorflow_federated as tff

from tff_lstm.aggregation import masked_ddp
from tff_lstm.aggregation import masking
from tff_lstm.aggregation import secagg_protocol


@dataclasses.dataclass(frozen=True)
class MaskedSecureMean:
  """Checked settings of masked SecAgg for a cohort (see AggregationConfig).

  Not a TFF aggregation factory: its clients need their own mask seeds as
  inputs, which only a process that builds its clients' inputs can give.
  """

  clients_per_round: int
  neighbors: int
  threshold: int
  dropout_rate: float
  bound: float
  # With DP: distributed DP's client steps before masking, its server steps
  # after unmasking, in its ring of 2^bits (masked_ddp).
  distributed_dp: Optional[masked_ddp.DistributedDp] = None
  # Compression without DP: `distributed_dp` has noise 0 and its bits are
  # --compression_bits; the round reports the bytes sent.
  compressed: bool = False

  @property
  def bits(self) -> int:
    """log2 of the ring the masks live in: DDP's modular range with DP;
    else room for the sum of n 32-bit quantized values."""
    if self.distributed_dp is not None:
      return self.distributed_dp.bits
    return masking.ring_bits(self.clients_per_round)

  @property
  def survivors(self) -> int:
    """Clients whose masked inputs each round sums."""
    return self.clients_per_round - secagg_protocol.dropout_count(
        self.clients_per_round, self.dropout_rate)

  @property
  def client_rows(self) -> int:
    """A client's mask rows: its self-mask and one per neighbour."""
    return self.neighbors + 1

  @property
  def server_rows(self) -> int:
    """Room for the server's rows: a self-mask per survivor, and a pairwise
    mask per (dropped client, surviving neighbour)."""
    return self.clients_per_round * (self.neighbors + 1)

  def material_type(self) -> tff.StructType:
    """A client's input of mask seeds: ([rows, 2] int64 seeds, [rows] signs)."""
    return tff.StructType([
        tff.TensorType(np.int64, [self.client_rows, 2]),
        tff.TensorType(np.int64, [self.client_rows])])

  def initial_state(self) -> collections.OrderedDict:
    """The server's unmasking rows for no round (all signs 0); with DP,
    also the round's rotation seed, public like TFF's rotation seed."""
    state = collections.OrderedDict(
        seeds=np.zeros([self.server_rows, 2], np.int64),
        signs=np.zeros([self.server_rows], np.int64),
        survivors=np.int32(0))
    if self.distributed_dp is not None:
      state['rotation_seed'] = np.zeros([2], np.int64)
    return state

  def state_for(self, keys: secagg_protocol.RoundKeys,
                rotation_seed=None) -> collections.OrderedDict:
    """The server's aggregator state for a round whose keys are `keys`
    (with DP: and whose rotation is drawn from `rotation_seed`)."""
    state = self.initial_state()
    rows = len(keys.server_signs)
    state['seeds'][:rows] = keys.server_seeds
    state['signs'][:rows] = keys.server_signs
    state['survivors'] = np.int32(len(keys.survivors))
    if self.distributed_dp is not None:
      if rotation_seed is None:
        raise ValueError('Masked distributed DP needs the round\'s rotation '
                         'seed.')
      state['rotation_seed'] = np.asarray(rotation_seed, np.int64)
    return state

  def ddp_parameters(self, dim: int) -> masked_ddp.Parameters:
    """DDP's parameters for updates of `dim` values (with DP only)."""
    return self.distributed_dp.parameters(dim, self.clients_per_round,
                                          self.survivors)

  def key_rounds(self, num_clients: int, seed, dropped=None):
    """The protocol's key rounds for one round's cohort."""
    return secagg_protocol.run_key_rounds(
        num_clients, neighbors=self.neighbors, threshold=self.threshold,
        seed=seed, dropped=dropped, dropout_rate=self.dropout_rate)


def build_round_computations(settings: MaskedSecureMean, delta_type):
  """(client_mask, server_unmask, initial_state) TFF computations.

  client_mask: (update, weight, (seeds, signs)) -> the masked int64 vector;
    with DP, (update, (seeds, signs), position, rotation seed) instead.
  server_unmask: (summed masked vectors, aggregator state) -> (mean update,
    measurements); only the sum and the server's rows enter it.
  """
  if settings.distributed_dp is not None:
    return _ddp_round_computations(settings, delta_type)
  shapes = [tuple(t.shape) for t in delta_type]
  bits, bound = settings.bits, settings.bound

  @tff.tensorflow.computation(delta_type, np.float32, settings.material_type())
  def client_mask(update, weight, material):
    quantized = masking.quantize(list(update), weight, bound)
    return masking.mask(quantized, material[0], material[1], bits)

  @tff.tensorflow.computation
  def initial_state():
    return collections.OrderedDict(
        (k, tf.constant(v)) for k, v in settings.initial_state().items())

  size = sum(math.prod(s) for s in shapes) + 2
  state_type = initial_state.type_signature.result

  @tff.tensorflow.computation(tff.TensorType(np.int64, [size]), state_type)
  def server_unmask(summed, state):
    total = masking.unmask(summed, state['seeds'], state['signs'], bits)
    values, weight_sum, clipped = masking.dequantize(
        total, state['survivors'], shapes, bound)
    mean = [tf.math.divide_no_nan(v, weight_sum) for v in values]
    measurements = collections.OrderedDict(
        secagg_survivors=state['survivors'],
        secagg_clipped_coordinates=clipped)
    return mean, measurements

  return client_mask, server_unmask, initial_state


def _initial_state_computation(settings):
  @tff.tensorflow.computation
  def initial_state():
    return collections.OrderedDict(
        (k, tf.constant(v)) for k, v in settings.initial_state().items())
  return initial_state


def _ddp_round_computations(settings: MaskedSecureMean, delta_type):
  """build_round_computations with distributed DP (masked_ddp)."""
  shapes = [tuple(t.shape) for t in delta_type]
  params = settings.ddp_parameters(sum(math.prod(s) for s in shapes))
  bits = settings.bits
  seed_type = tff.TensorType(np.int64, [2])

  @tff.tensorflow.computation(delta_type, settings.material_type(), np.int32,
                              seed_type)
  def client_mask(update, material, position, rotation_seed):
    noise_seed = masked_ddp.noise_seed(position)
    encoded = masked_ddp.client_encode(list(update), params, rotation_seed,
                                       noise_seed)
    return masking.mask(encoded, material[0], material[1], bits)

  initial_state = _initial_state_computation(settings)
  state_type = initial_state.type_signature.result

  @tff.tensorflow.computation(
      tff.TensorType(np.int64, [params.padded_dim]), state_type)
  def server_unmask(summed, state):
    total = masking.unmask(summed, state['seeds'], state['signs'], bits)
    mean = masked_ddp.server_decode(total, state['survivors'], shapes, params,
                                    state['rotation_seed'])
    # The simulated path's DDP measurements (clip and scale are fixed here).
    measurements = collections.OrderedDict(
        secagg_survivors=state['survivors'],
        l2_clip=tf.constant(params.clip, tf.float32),
        scale_factor=tf.constant(params.scale, tf.float32),
        scaled_inflated_l2=tf.constant(params.scaled_inflated_l2, tf.float32),
        scaled_local_stddev=tf.constant(params.scaled_local_stddev,
                                        tf.float32),
        actual_num_clients=state['survivors'],
        padded_dim=tf.constant(params.padded_dim, tf.int32))
    if settings.compressed:
      measurements.update(compression_bytes(params, state['survivors']))
    return mean, measurements

  return client_mask, server_unmask, initial_state


def compression_bytes(params: masked_ddp.Parameters, survivors):
  """The compression path's byte counts for `survivors` clients: each sends
  its padded vector as `bits`-bit ring elements, against float32 updates."""
  survivors = tf.cast(survivors, tf.int64)
  sent = survivors * ((params.padded_dim * params.bits + 7) // 8)
  plain = survivors * (params.dim * 4)
  return collections.OrderedDict(
      client_to_server_bytes=sent, uncompressed_bytes=plain,
      compression_ratio=tf.cast(plain, tf.float32) / tf.cast(
          tf.maximum(sent, 1), tf.float32))


@dataclasses.dataclass
class ServerView:
  """Everything the server was handed in one round (for tests and audits)."""
  protocol_messages: list  # (sender, kind, payload) of the key rounds
  masked_inputs: list  # what each survivor sent in round 2
  masked_sum: np.ndarray  # the sum the unmasking step received


def rotation_seed(seed) -> np.ndarray:
  """A round's [2] int64 rotation seed (DDP) from a generator seed."""
  return np.random.default_rng(seed).integers(0, 2**62, size=2,
                                              dtype=np.int64)


def run_round(settings: MaskedSecureMean, updates, weights, seed,
              dropped=None):
  """One masked round outside a learning process: (mean update, view).

  `updates` are the clients' update tensors, `weights` their weights (unused
  with DP: each client counts once). Runs the same key rounds and the same
  TFF computations (client_mask, server_unmask) as a training round; the
  server side is handed only what `ServerView` records.
  """
  delta_type = tff.StructType([tff.TensorType(np.float32, np.shape(u))
                               for u in updates[0]])
  client_mask, server_unmask, _ = build_round_computations(settings,
                                                           delta_type)
  keys = settings.key_rounds(len(updates), seed=seed, dropped=dropped)
  ddp = settings.distributed_dp is not None
  rotation = rotation_seed(seed) if ddp else None
  masked = []
  for p, i in enumerate(keys.survivors):
    material = (keys.client_seeds[p], keys.client_signs[p])
    masked.append(
        client_mask(list(updates[i]), material, np.int32(p), rotation) if ddp
        else client_mask(list(updates[i]), np.float32(weights[i]), material))
  # The transport's sum of masked vectors (in the ring: int64 cannot
  # overflow for the ring widths and cohorts allowed).
  summed = np.sum(masked, axis=0)
  mean, measurements = server_unmask(summed, settings.state_for(keys,
                                                                rotation))
  view = ServerView(protocol_messages=list(keys.server.received),
                    masked_inputs=masked, masked_sum=summed)
  return mean, measurements, keys, view
