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

The vectorized cohort (algorithms/vectorized_cohort.py) composes these in
its round; `training/masked_rounds.py` runs the key rounds and fills the
inputs.
"""

import collections
import dataclasses
import math

import numpy as np
import tensorflow as tf
import tensorflow_federated as tff

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

  @property
  def bits(self) -> int:
    return masking.ring_bits(self.clients_per_round)

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
    """The server's unmasking rows for no round (all signs 0)."""
    return collections.OrderedDict(
        seeds=np.zeros([self.server_rows, 2], np.int64),
        signs=np.zeros([self.server_rows], np.int64),
        survivors=np.int32(0))

  def state_for(self, keys: secagg_protocol.RoundKeys
                ) -> collections.OrderedDict:
    """The server's aggregator state for a round whose keys are `keys`."""
    state = self.initial_state()
    rows = len(keys.server_signs)
    state['seeds'][:rows] = keys.server_seeds
    state['signs'][:rows] = keys.server_signs
    state['survivors'] = np.int32(len(keys.survivors))
    return state

  def key_rounds(self, num_clients: int, seed, dropped=None):
    """The protocol's key rounds for one round's cohort."""
    return secagg_protocol.run_key_rounds(
        num_clients, neighbors=self.neighbors, threshold=self.threshold,
        seed=seed, dropped=dropped, dropout_rate=self.dropout_rate)


def build_round_computations(settings: MaskedSecureMean, delta_type):
  """(client_mask, server_unmask, initial_state) TFF computations.

  client_mask: (update, weight, (seeds, signs)) -> the masked int64 vector.
  server_unmask: (summed masked vectors, aggregator state) -> (mean update,
    measurements); only the sum and the server's rows enter it.
  """
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


@dataclasses.dataclass
class ServerView:
  """Everything the server was handed in one round (for tests and audits)."""
  protocol_messages: list  # (sender, kind, payload) of the key rounds
  masked_inputs: list  # what each survivor sent in round 2
  masked_sum: np.ndarray  # the sum the unmasking step received


def run_round(settings: MaskedSecureMean, updates, weights, seed,
              dropped=None):
  """One masked round outside a learning process: (mean update, view).

  `updates` are the clients' update tensors, `weights` their weights. Runs the
  same key rounds and the same TFF computations (client_mask, server_unmask)
  as a training round; the server side is handed only what `ServerView`
  records.
  """
  delta_type = tff.StructType([tff.TensorType(np.float32, np.shape(u))
                               for u in updates[0]])
  client_mask, server_unmask, _ = build_round_computations(settings,
                                                           delta_type)
  keys = settings.key_rounds(len(updates), seed=seed, dropped=dropped)
  masked = [client_mask(list(updates[i]), np.float32(weights[i]),
                        (keys.client_seeds[p], keys.client_signs[p]))
            for p, i in enumerate(keys.survivors)]
  summed = np.sum(masked, axis=0)  # the transport's sum of masked vectors
  mean, measurements = server_unmask(summed, settings.state_for(keys))
  view = ServerView(protocol_messages=list(keys.server.received),
                    masked_inputs=masked, masked_sum=summed)
  return mean, measurements, keys, view
