"""A validated description of how model updates are aggregated; its factory.

Every choice (DP, secure aggregation, compression, robustness) is a TFF
aggregation factory; this module checks that the choices make sense together
before any TFF computation is built, with messages in terms of the flags, and
then composes the factories.
"""

import dataclasses
import math
from typing import Optional

import tensorflow_federated as tff

from tff_lstm.aggregation import compression
from tff_lstm.aggregation import dp
from tff_lstm.aggregation import plain_mean
from tff_lstm.aggregation import robust
from tff_lstm.aggregation import secure
from tff_lstm.aggregation import trimmed_mean

DP_MECHANISMS = ('off',) + dp.MECHANISMS
CLIENT_WEIGHTINGS = ('num_examples', 'uniform')
# TFF's limits: EncodedSumFactory's quantization, distributed DP's SecAgg field.
COMPRESSION_BITS_RANGE = (1, 16)
SECURE_BITS_RANGE = (1, 22)
DEFAULT_SECURE_BITS = 20  # tff.learning.ddp_secure_aggregator's default
DEFAULT_COMPRESSION_THRESHOLD = 20000  # TFF's quantize_above_threshold default


def _is_number(x) -> bool:
  return isinstance(x, (int, float)) and not isinstance(x, bool) and (
      math.isfinite(x))


@dataclasses.dataclass(frozen=True)
class AggregationConfig:
  """How client model updates are combined on the server.

  Optional fields are None when unset, so that a setting that would have no
  effect is rejected instead of silently ignored.

  Attributes:
    dp_mechanism: 'off', 'gaussian_fixed' (DP-FedAvg, McMahan et al. 2018),
      'gaussian_adaptive' (adaptive clipping, Andrew et al. 2021) or 'tree'
      (DP-FTRL tree aggregation, Kairouz et al. 2021).
    dp_noise_multiplier: Gaussian noise stddev / clip norm (required with DP).
    dp_clip: L2 clip norm of each client update: required for
      'gaussian_fixed' and 'tree'; the initial clip for 'gaussian_adaptive'
      (default 0.1).
    dp_target_unclipped_quantile: 'gaussian_adaptive': fraction of clients the
      clip should leave unclipped (default 0.5).
    dp_clip_learning_rate: 'gaussian_adaptive': geometric step of the clip
      estimate per round (default 0.2).
    dp_delta: delta of the reported (epsilon, delta); default 1/num_clients.
    dp_noise_seed: 'tree' only: seed of the tree's noise (None: TFF seeds it
      from the clock). TFF's Gaussian DP factories take no seed.
    secure_aggregation: the server only sees the sum of updates (simulated);
      with DP this is distributed DP (clients add discrete noise).
    secure_bits: DP + secure aggregation: SecAgg field bit-width (default 20).
    compression_bits: uniform quantization bit-width of updates; None: off.
    compression_threshold: only tensors with more elements are quantized.
    hadamard: random Hadamard rotation before quantizing (needs compression).
    robust: zeroing of enormous updates plus adaptive norm clipping (with DP
      or the trimmed mean: zeroing only); non-finite updates are zeroed by
      TFF's client work regardless. Off by default, as in TFF's
      `build_weighted_fed_avg`, whose default is the plain `MeanFactory`.
    trimmed_mean_fraction: coordinate-wise trimmed mean (trimmed_mean.py)
      dropping this share of clients at each end, instead of the mean.
  """

  dp_mechanism: str = 'off'
  dp_noise_multiplier: Optional[float] = None
  dp_clip: Optional[float] = None
  dp_target_unclipped_quantile: Optional[float] = None
  dp_clip_learning_rate: Optional[float] = None
  dp_delta: Optional[float] = None
  dp_noise_seed: Optional[int] = None
  secure_aggregation: bool = False
  secure_bits: Optional[int] = None
  compression_bits: Optional[int] = None
  compression_threshold: int = DEFAULT_COMPRESSION_THRESHOLD
  hadamard: bool = False
  robust: bool = False
  trimmed_mean_fraction: Optional[float] = None

  def __post_init__(self):
    if self.dp_mechanism not in DP_MECHANISMS:
      raise ValueError(f'Unknown --dp_mechanism {self.dp_mechanism!r}; valid: '
                       f'{", ".join(DP_MECHANISMS)}.')
    self._check_dp()
    self._check_secure()
    self._check_compression()
    self._check_trimmed_mean()

  def _check_dp(self):
    dp_settings = ('dp_noise_multiplier', 'dp_clip',
                   'dp_target_unclipped_quantile', 'dp_clip_learning_rate',
                   'dp_delta', 'dp_noise_seed')
    if not self.dp_enabled:
      for name in dp_settings:
        if getattr(self, name) is not None:
          raise ValueError(f'--{name} needs --dp_mechanism (one of '
                           f'{", ".join(dp.MECHANISMS)}).')
      return
    mechanism = f'--dp_mechanism={self.dp_mechanism}'
    z = self.dp_noise_multiplier
    if z is None:
      raise ValueError(f'{mechanism} needs --dp_noise_multiplier (noise stddev '
                       'as a multiple of the clip norm).')
    if not _is_number(z) or z < 0:
      raise ValueError(f'--dp_noise_multiplier must be >= 0, got {z}.')
    if self.dp_clip is None and self.dp_mechanism != 'gaussian_adaptive':
      raise ValueError(f'{mechanism} needs --dp_clip (the L2 norm each client '
                       'update is clipped to).')
    if self.dp_clip is not None and (not _is_number(self.dp_clip)
                                     or self.dp_clip <= 0):
      raise ValueError(f'--dp_clip must be > 0, got {self.dp_clip}.')
    for name in ('dp_target_unclipped_quantile', 'dp_clip_learning_rate'):
      if (getattr(self, name) is not None
          and self.dp_mechanism != 'gaussian_adaptive'):
        raise ValueError(f'--{name} applies to --dp_mechanism='
                         f'gaussian_adaptive only, not {self.dp_mechanism}.')
    q = self.dp_target_unclipped_quantile
    if q is not None and (not _is_number(q) or not 0 <= q <= 1):
      raise ValueError(f'--dp_target_unclipped_quantile must be in [0, 1], '
                       f'got {q}.')
    lr = self.dp_clip_learning_rate
    if lr is not None and (not _is_number(lr) or lr < 0):
      raise ValueError(f'--dp_clip_learning_rate must be >= 0, got {lr}.')
    if self.dp_noise_seed is not None and self.dp_mechanism != 'tree':
      raise ValueError(
          f'--dp_noise_seed seeds --dp_mechanism=tree only; TFF gives '
          f'{self.dp_mechanism} noise no seed (it is drawn afresh each run).')
    d = self.dp_delta
    if d is not None and (not _is_number(d) or not 0 < d < 1):
      raise ValueError(f'--dp_delta must be in (0, 1), got {d}.')

  def _check_secure(self):
    if self.secure_bits is not None:
      if not (self.secure_aggregation and self.dp_enabled):
        raise ValueError('--secure_bits sets the SecAgg field of distributed '
                         'DP: it needs --secure_aggregation and --dp_mechanism '
                         '(plain secure aggregation uses TFF\'s 32-bit '
                         'quantization).')
      low, high = SECURE_BITS_RANGE
      if not low <= self.secure_bits <= high:
        raise ValueError(f'--secure_bits must be in [{low}, {high}], got '
                         f'{self.secure_bits}.')
    if self.secure_aggregation and self.dp_mechanism == 'tree':
      raise ValueError('--dp_mechanism=tree has no distributed (secure) '
                       'version in TFF; drop --secure_aggregation or use '
                       'gaussian_fixed / gaussian_adaptive.')

  def _check_compression(self):
    if self.compression_bits is None:
      if self.hadamard:
        raise ValueError('--hadamard rotates updates before quantizing them: '
                         'it needs --compression.')
      return
    low, high = COMPRESSION_BITS_RANGE
    if not low <= self.compression_bits <= high:
      raise ValueError(f'--compression_bits must be in [{low}, {high}], got '
                       f'{self.compression_bits}.')
    if self.compression_threshold < 0:
      raise ValueError('--compression_threshold must be >= 0, got '
                       f'{self.compression_threshold}.')
    if self.secure_aggregation:
      raise ValueError('--compression cannot feed --secure_aggregation: TFF\'s '
                       'EncodedSumFactory sums with a plain aggregate. Secure '
                       'aggregation already sends quantized integers (with DP, '
                       'set their width with --secure_bits).')
    if self.dp_enabled:
      raise ValueError('--compression after DP clipping can raise the update '
                       'norm the privacy accounting assumes; use '
                       '--secure_aggregation with DP (distributed DP quantizes '
                       'to --secure_bits) instead.')

  def _check_trimmed_mean(self):
    if self.trimmed_mean_fraction is None:
      return
    others = [name for name, on in (
        ('--dp_mechanism', self.dp_enabled),
        ('--secure_aggregation', self.secure_aggregation),
        ('--compression', self.compression_bits is not None)) if on]
    if others:
      raise ValueError('--trimmed_mean_fraction needs every client update at '
                       f'the server in the clear; it cannot be combined with '
                       f'{", ".join(others)}.')
    trimmed_mean.TrimmedMeanFactory(self.trimmed_mean_fraction)  # validates

  @property
  def dp_enabled(self) -> bool:
    return self.dp_mechanism != 'off'

  @property
  def requires_uniform_weighting(self) -> bool:
    """DP and the trimmed mean count every client's update once."""
    return self.dp_enabled or self.trimmed_mean_fraction is not None

  @property
  def robust_enabled(self) -> bool:
    return bool(self.robust)

  def check_weighting(self, weighting: str) -> None:
    """Raises ValueError if `weighting` cannot be used with this config."""
    if weighting not in CLIENT_WEIGHTINGS:
      raise ValueError(f'Unknown client weighting {weighting!r}; valid: '
                       f'{", ".join(CLIENT_WEIGHTINGS)}.')
    if self.requires_uniform_weighting and weighting != 'uniform':
      setting = (f'--dp_mechanism={self.dp_mechanism}' if self.dp_enabled else
                 f'--trimmed_mean_fraction={self.trimmed_mean_fraction}')
      raise ValueError(
          f'{setting} averages clients uniformly '
          '(each clipped update counts once; weighting by example count would '
          'undo the bound on a client\'s influence): set '
          '--client_weighting=uniform.')


def build_aggregator(
    config: AggregationConfig, clients_per_round: int,
    weighting: str = 'num_examples') -> tff.aggregators.AggregationFactory:
  """The TFF model-update aggregation factory `config` describes.

  Args:
    config: the aggregation choices.
    clients_per_round: the cohort size (DP normalizes by it and sizes noise).
    weighting: 'num_examples' or 'uniform', as passed to
      `build_learning_process`.

  Returns:
    A `tff.aggregators.WeightedAggregationFactory` for 'num_examples'; an
    `UnweightedAggregationFactory` for 'uniform' (always so with DP), which
    `build_learning_process` accepts with weighting='uniform'.
  """
  config.check_weighting(weighting)
  if (isinstance(clients_per_round, bool) or not isinstance(
      clients_per_round, int) or clients_per_round < 1):
    raise ValueError(f'clients_per_round must be an integer >= 1, got '
                     f'{clients_per_round}.')
  weighted = weighting == 'num_examples'
  if config.dp_enabled:
    return _dp_aggregator(config, clients_per_round)
  if config.trimmed_mean_fraction is not None:
    factory = trimmed_mean.TrimmedMeanFactory(config.trimmed_mean_fraction)
    return (robust.add_zeroing(factory, secure_estimation=False)
            if config.robust_enabled else factory)
  if config.secure_aggregation:
    return secure.secure_mean(weighted=weighted, robust=config.robust_enabled)
  if config.compression_bits is not None:
    factory = compression.compressed_mean(
        config.compression_bits, threshold=config.compression_threshold,
        hadamard=config.hadamard, weighted=weighted)
    return (robust.add_robustness(factory) if config.robust_enabled
            else factory)
  if config.robust_enabled:
    return robust.robust_mean(weighted=weighted)
  return plain_mean.plain_mean(weighted)


def describe_aggregation(config: AggregationConfig,
                         weighting: str = 'num_examples') -> str:
  """The chain `build_aggregator` builds, in words, outermost step first.

  Printed when a run starts and recorded in its hparams.json, so a reader
  sees what was done to the updates without reconstructing it from flags.
  """
  mean = ('example-weighted mean' if weighting == 'num_examples'
          else 'uniform mean')
  steps = []
  if config.robust_enabled:
    steps.append('zeroing of enormous updates (adaptive max-abs threshold)')
    if not (config.dp_enabled or config.trimmed_mean_fraction is not None):
      steps.append('adaptive L2 clipping (to a high quantile of the norms)')
  if config.dp_enabled:
    clip = ('adaptive clip' if config.dp_mechanism == 'gaussian_adaptive'
            else f'clip {config.dp_clip:g}')
    kind = ('distributed DP (discrete noise, SecAgg '
            f'{config.secure_bits or DEFAULT_SECURE_BITS} bits)'
            if config.secure_aggregation else 'central DP')
    seed = ('' if config.dp_noise_seed is None
            else f', noise seed {config.dp_noise_seed}')
    steps.append(f'{kind} {config.dp_mechanism}: {clip}, noise multiplier '
                 f'{config.dp_noise_multiplier:g}{seed}, uniform mean')
  elif config.trimmed_mean_fraction is not None:
    steps.append(f'coordinate-wise trimmed mean (dropping '
                 f'{config.trimmed_mean_fraction:g} of clients at each end)')
  elif config.secure_aggregation:
    steps.append(f'secure {mean} (simulated SecAgg)')
  elif config.compression_bits is not None:
    rotation = ', Hadamard-rotated' if config.hadamard else ''
    steps.append(f'{mean} of updates quantized to {config.compression_bits} '
                 f'bits (tensors over {config.compression_threshold} '
                 f'elements{rotation})')
  else:
    factory = ('MeanFactory' if weighting == 'num_examples'
               else 'UnweightedMeanFactory')
    steps.append(f'{mean} (tff.aggregators.{factory})')
  return ' -> '.join(steps)


def _dp_aggregator(config, clients_per_round):
  """Central DP, or distributed DP with secure aggregation; optional zeroing."""
  z = config.dp_noise_multiplier
  adaptive = config.dp_mechanism == 'gaussian_adaptive'
  if adaptive and z >= 0.1 * clients_per_round:
    # TFF spends part of the privacy budget on the clip estimate (noised
    # clipped-count, stddev 0.05 * clients_per_round) and refuses otherwise.
    raise ValueError(
        f'--dp_mechanism=gaussian_adaptive with --dp_noise_multiplier={z} '
        f'needs clients_per_round > {10 * z:g} (got {clients_per_round}): the '
        'adaptive clip estimate is noised too, with stddev 0.05 * '
        'clients_per_round.')
  clip_kwargs = dict(
      clip=config.dp_clip,
      target_unclipped_quantile=config.dp_target_unclipped_quantile,
      clip_learning_rate=config.dp_clip_learning_rate)
  clip_kwargs = {k: v for k, v in clip_kwargs.items() if v is not None}
  if config.secure_aggregation:
    bits = config.secure_bits or DEFAULT_SECURE_BITS
    if 2**bits < clients_per_round:
      raise ValueError(f'--secure_bits={bits} cannot hold the sum of '
                       f'{clients_per_round} clients: use at least '
                       f'{math.ceil(math.log2(clients_per_round))}.')
    factory = secure.distributed_dp_mean(
        noise_multiplier=z, clients_per_round=clients_per_round, bits=bits,
        adaptive=adaptive, **clip_kwargs)
  else:
    if config.dp_noise_seed is not None:
      clip_kwargs['noise_seed'] = config.dp_noise_seed
    factory = dp.dp_mean(config.dp_mechanism, noise_multiplier=z,
                         clients_per_round=clients_per_round, **clip_kwargs)
  if config.robust_enabled:
    factory = robust.add_zeroing(
        factory, secure_estimation=config.secure_aggregation)
  return factory
