"""Distributed DP carried by masked SecAgg: TFF's DDP steps around our sum.

`tff.aggregators`' distributed DP (`DistributedDpSumFactory`, Skellam
mechanism, Hadamard rotation: what `--secure_aggregation=simulated
--dp_mechanism=gaussian_fixed` runs) is a chain of factories whose innermost
step is `SecureSumFactory`. That chain cannot take our masked sum in its
place: a TFF aggregation process is handed only (state, value), and each
client's masks need that client's own seeds. So the chain's client and server
steps are composed here, in order, from the same TFF and tensorflow-privacy
functions the factories call, around the masked modular sum:

  client: flatten, zero-pad to a power of 2 and rotate (`rotation`'s
    Rademacher signs and `hadamard.fast_walsh_hadamard_transform`), clip to
    L2 norm `clip` (`robust`'s clip), scale and round stochastically to
    integers (`discretization`), check the norm bounds and add the client's
    Skellam share (`tfp.DistributedSkellamSumQuery.preprocess_record`), wrap
    into [-2^(b-1), 2^(b-1)) and then into the ring [0, 2^b)
    (`modular_clipping`, as TFF's two nested modular clips), then mask in
    that ring (`masking.mask`);
  server: unmask the sum in the same ring, wrap it back to [-2^(b-1),
    2^(b-1)), de-scale, rotate back, drop the padding, divide by the number
    of clients summed (TFF's `UnweightedMeanFactory`).

The parameters (scale, inflated norm bounds, local noise) are TFF's, computed
by its own functions with the simulated path's defaults (`modclip_prob` 1e-4,
`beta` 0), so for the same flags the quantization and the noise are the
simulated path's, and so is the accounting. One difference: each client's
noise share is sized for the clients that survive a round (`n - d` with
`--secagg_dropout_rate`), so that the survivors' shares still add up to the
central noise the accountant assumes.

With noise 0 and the ring of --compression_bits, the same chain is masked
SecAgg's compression (no DP): rotation, an L2 clip fixing a range shared by
all clients, stochastic rounding and the modular wrap. The Skellam step then
adds 0, and TFF's scale heuristic stays finite (its denominator is the clip
term alone).
"""

import dataclasses
import math

import tensorflow as tf
import tensorflow_privacy as tfp
from tensorflow_federated.python.aggregators import discretization
from tensorflow_federated.python.aggregators import distributed_dp
from tensorflow_federated.python.aggregators import hadamard
from tensorflow_federated.python.aggregators import modular_clipping
from tensorflow_federated.python.aggregators import robust
from tensorflow_federated.python.aggregators import rotation

# DistributedDpSumFactory's defaults, as the simulated path uses them.
MODCLIP_PROB = 1e-4
BETA = 0.0


def wrap_stddevs() -> float:
  """Stddevs of the noisy sum the ring must hold (TFF's, for MODCLIP_PROB)."""
  return distributed_dp._clip_prob_to_num_stddevs(MODCLIP_PROB)  # pylint: disable=protected-access


def check_ring(bits: int, clients_per_round: int,
               flag: str = '--secure_bits') -> None:
  """TFF's checks of the ring 2^bits for n clients, naming the flags.

  The second is what `_heuristic_scale_factor` needs for a scale above 0:
  with or without noise, the rounding of n clients adds variance n/4 per
  coordinate of the sum, and the ring must hold k stddevs of it.
  """
  n = clients_per_round
  if 2**bits < n:
    raise ValueError(f'{flag}={bits} cannot hold the sum of {n} '
                     f'clients: use at least {math.ceil(math.log2(n))}.')
  k = wrap_stddevs()
  if 2**(2 * bits) <= n * k**2:
    need = math.floor(math.log2(n * k**2) / 2) + 1
    raise ValueError(
        f'{flag}={bits} is too narrow for --clients_per_round={n}: '
        f'the ring 2^{bits} must hold {k:.2f} standard deviations of the sum '
        f'of {n} rounded (and noised) values (TFF\'s modular-wrap bound); '
        f'use at least {need}.')


@dataclasses.dataclass(frozen=True)
class DistributedDp:
  """The DP flags of masked distributed DP (checked by AggregationConfig)."""

  noise_multiplier: float
  clip: float
  bits: int

  def parameters(self, dim: int, clients_per_round: int,
                 survivors: int) -> 'Parameters':
    """TFF's parameters for updates of `dim` values from n clients of
    which `survivors` add noise (`_build_aggregation_factory`'s, 'hd')."""
    padded_dim = 2**math.ceil(math.log2(max(1, dim)))
    central_stddev = self.noise_multiplier * self.clip
    local_stddev = central_stddev / math.sqrt(survivors)
    scale = distributed_dp._heuristic_scale_factor(  # pylint: disable=protected-access
        local_stddev, self.clip, self.bits, clients_per_round, padded_dim,
        wrap_stddevs()).numpy()
    scale = float(min(scale, distributed_dp.MAX_SCALE_FACTOR))
    inflated_l2 = float(discretization.inflated_l2_norm_bound(
        l2_norm_bound=self.clip, gamma=1.0 / scale, beta=BETA,
        dim=padded_dim).numpy())
    scaled_inflated_l2 = (inflated_l2 + 1e-5) * scale
    scaled_l1 = math.ceil(scaled_inflated_l2 * min(math.sqrt(padded_dim),
                                                   scaled_inflated_l2))
    return Parameters(
        bits=self.bits, clip=self.clip, dim=dim, padded_dim=padded_dim,
        scale=scale, scaled_inflated_l2=scaled_inflated_l2,
        scaled_l1=scaled_l1, scaled_local_stddev=local_stddev * scale)


@dataclasses.dataclass(frozen=True)
class Parameters:
  """One process's fixed DDP parameters (the clip is fixed)."""

  bits: int
  clip: float
  dim: int
  padded_dim: int
  scale: float
  scaled_inflated_l2: float
  scaled_l1: int
  scaled_local_stddev: float


class _SeededSkellamSumQuery(tfp.DistributedSkellamSumQuery):
  """tensorflow-privacy's Skellam query, its noise drawn from `seed`.

  The library seeds each draw with the clock alone: clients that encode in
  the same microsecond (the cohort runs them together) would add the same
  noise, and a server that guesses the time could draw it too.
  """

  def __init__(self, l1_norm_bound, l2_norm_bound, local_stddev, seed):
    super().__init__(l1_norm_bound, l2_norm_bound, local_stddev)
    self._seed = seed

  def add_noise_to_sample(self, local_stddev, record):
    local_stddev = tf.cast(local_stddev, tf.float64)
    lam = 0.5 * local_stddev * local_stddev

    def add_noise(v):
      poissons = tf.random.stateless_poisson(
          shape=tf.concat([tf.shape(v), [2]], axis=0), seed=self._seed,
          lam=[lam, lam], dtype=tf.int64)
      return v + tf.cast(poissons[..., 0] - poissons[..., 1], v.dtype)

    return tf.nest.map_structure(add_noise, record)


def noise_seed(position):
  """A client's [2] int64 seed of its noise share, never derived from flags.

  TF's stateful generator (seeded from the OS unless a global seed is set),
  then the clock and the client's position in the cohort, so that two
  clients never draw the same noise. The server never sees it; a deployment
  would draw it from the OS's cryptographic generator.
  """
  fresh = tf.random.uniform([], 0, 2**62, dtype=tf.int64)
  clock = tf.cast(tf.timestamp() * 1e6, tf.int64)
  return tf.stack([fresh, clock * 4096 + tf.cast(position, tf.int64)])


def _rotate(x, seed):
  x = x * rotation.sample_rademacher(tf.shape(x), x.dtype, seed)
  return hadamard.fast_walsh_hadamard_transform(x[tf.newaxis])[0]


def _rotate_back(x, seed):
  x = hadamard.fast_walsh_hadamard_transform(x[tf.newaxis])[0]
  return x * rotation.sample_rademacher(tf.shape(x), x.dtype, seed)


def client_encode(update, params: Parameters, rotation_seed, noise_seed):
  """[padded_dim] int64 in [0, 2^bits): a client's update through the
  client steps of TFF's distributed DP, ready to be masked."""
  flat = tf.concat([tf.reshape(tf.cast(u, tf.float32), [-1]) for u in update],
                   axis=0)
  padded = tf.pad(flat, [[0, params.padded_dim - params.dim]])
  rotated = _rotate(padded, tf.cast(rotation_seed, tf.int64))
  (clipped,), _ = robust._clip_by_global_l2_norm(  # pylint: disable=protected-access
      [rotated], tf.constant(params.clip, tf.float32))
  (ints,) = discretization._discretize_struct(  # pylint: disable=protected-access
      [clipped], tf.constant(params.scale, tf.float32), True, BETA,
      tf.constant(params.clip, tf.float32))
  query = _SeededSkellamSumQuery(params.scaled_l1, params.scaled_inflated_l2,
                                 params.scaled_local_stddev,
                                 tf.cast(noise_seed, tf.int64))
  (noised,) = query.preprocess_record(
      query.derive_sample_params(query.initial_global_state()), [ints])
  half = 2**(params.bits - 1)
  wrapped = modular_clipping.modular_clip_by_value(noised, -half, half)
  wrapped = modular_clipping.modular_clip_by_value(wrapped, 0, 2 * half)
  return tf.cast(wrapped, tf.int64)


def server_decode(total, num_summands, shapes, params: Parameters,
                  rotation_seed):
  """The mean update (tensors of `shapes`) from the unmasked ring sum of
  `num_summands` encoded updates: TFF's server steps, then the mean."""
  half = 2**(params.bits - 1)
  centered = modular_clipping.modular_clip_by_value(
      tf.cast(total, tf.int64), -half, half)
  (unscaled,) = discretization._undiscretize_struct(  # pylint: disable=protected-access
      [centered], tf.constant(params.scale, tf.float32), [tf.float32])
  flat = _rotate_back(unscaled, tf.cast(rotation_seed, tf.int64))[:params.dim]
  sizes = [math.prod(s) for s in shapes]
  count = tf.cast(num_summands, tf.float32)
  return [tf.math.divide_no_nan(tf.reshape(p, s), count)
          for p, s in zip(tf.split(flat, sizes), shapes)]
