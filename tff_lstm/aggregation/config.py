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

from tff_lstm.aggregation import ckks as ckks_lib
from tff_lstm.aggregation import compression
from tff_lstm.aggregation import dp
from tff_lstm.aggregation import homomorphic
from tff_lstm.aggregation import masked
from tff_lstm.aggregation import masked_ddp
from tff_lstm.aggregation import plain_mean
from tff_lstm.aggregation import robust
from tff_lstm.aggregation import secagg_protocol
from tff_lstm.aggregation import secure
from tff_lstm.aggregation import trimmed_mean

DP_MECHANISMS = ('off',) + dp.MECHANISMS
HOMOMORPHIC_ENCRYPTIONS = ('none', 'ckks')
SECURE_AGGREGATIONS = ('off', 'simulated', 'masked')
# Clip of each weighted update coordinate (w * delta, w an example count that
# can reach hundreds): 32-bit steps of 4.7e-7, far below float32 noise of a
# mean.
DEFAULT_SECAGG_BOUND = 1000.0
CLIENT_WEIGHTINGS = ('num_examples', 'uniform')
# TFF's limits: EncodedSumFactory's quantization, distributed DP's SecAgg field.
COMPRESSION_BITS_RANGE = (1, 16)
SECURE_BITS_RANGE = (1, 22)
DEFAULT_SECURE_BITS = 20  # tff.learning.ddp_secure_aggregator's default
DEFAULT_COMPRESSION_THRESHOLD = 20000  # TFF's quantize_above_threshold default
# Masked compression's L2 clip, the range shared by all clients: about the
# median update norm of the Shakespeare runs (the adaptive clip's estimate,
# results/privacy/epsilon).
DEFAULT_COMPRESSION_CLIP = 1.0


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
    dp_delta: delta of the reported (epsilon, delta); default
      `accounting.default_delta` (min(1e-5, num_clients ** -1.1)).
    dp_noise_seed: 'tree' only: seed of the tree's noise (None: TFF seeds it
      from the clock). TFF's Gaussian DP factories take no seed.
    secure_aggregation: 'off'; 'simulated': TFF's secure sum, which
      simulation lowers to a plain sum (with DP: distributed DP, clients add
      discrete noise); 'masked': the SecAgg protocol (masked.py), clients
      send masked vectors and the server only learns their sum (with
      'gaussian_fixed' DP: distributed DP in the masks' ring,
      masked_ddp.py). True/False
      (the earlier boolean) mean 'simulated'/'off'.
    secagg_neighbors: masked: k, each client's neighbours on the key graph
      (default: SecAgg+'s 2 log2(n), rounded up to even, at most n - 1).
    secagg_threshold: masked: t, shares that rebuild a client's secrets
      (default: a majority of its k + 1 share holders).
    secagg_dropout_rate: masked: share of each round's cohort that drops out
      after the key exchange (simulated; default 0).
    secagg_bound: masked: each coordinate of a client's weighted update
      (weight * delta) is clipped to [-bound, bound] before quantizing
      (default 1000; clipped coordinates are counted in the metrics).
    secure_bits: DP + secure aggregation: SecAgg field bit-width (default 20;
      masked: the ring of DDP's values and of the masks).
    compression_bits: uniform quantization bit-width of updates; None: off.
      With 'masked' secure aggregation (no DP): the width b of the ring
      2^b each coordinate is sent in (masked_compression: DDP's chain
      without noise).
    compression_clip: masked compression only: the L2 norm each client's
      update is clipped to, which fixes the range shared by all clients
      (default 1).
    compression_threshold: only tensors with more elements are quantized.
    hadamard: random Hadamard rotation before quantizing (needs compression;
      masked compression always rotates, so it needs it set).
    robust: zeroing of enormous updates plus adaptive norm clipping (with DP
      or the trimmed mean: zeroing only); non-finite updates are zeroed by
      TFF's client work regardless. Off by default, as in TFF's
      `build_weighted_fed_avg`, whose default is the plain `MeanFactory`.
    trimmed_mean_fraction: coordinate-wise trimmed mean (trimmed_mean.py)
      dropping this share of clients at each end, instead of the mean.
    homomorphic_encryption: 'none', or 'ckks': clients encrypt their weighted
      updates, the server sums ciphertexts, a key holder decrypts the sum
      (homomorphic.py). It carries the (weighted or uniform) mean only.
    ckks: the CKKS parameters (None: the defaults), with 'ckks' only.
  """

  dp_mechanism: str = 'off'
  dp_noise_multiplier: Optional[float] = None
  dp_clip: Optional[float] = None
  dp_target_unclipped_quantile: Optional[float] = None
  dp_clip_learning_rate: Optional[float] = None
  dp_delta: Optional[float] = None
  dp_noise_seed: Optional[int] = None
  secure_aggregation: str = 'off'
  secure_bits: Optional[int] = None
  secagg_neighbors: Optional[int] = None
  secagg_threshold: Optional[int] = None
  secagg_dropout_rate: Optional[float] = None
  secagg_bound: Optional[float] = None
  compression_bits: Optional[int] = None
  compression_threshold: int = DEFAULT_COMPRESSION_THRESHOLD
  compression_clip: Optional[float] = None
  hadamard: bool = False
  robust: bool = False
  trimmed_mean_fraction: Optional[float] = None
  homomorphic_encryption: str = 'none'
  ckks: Optional[ckks_lib.CkksParameters] = None

  def __post_init__(self):
    mode = self.secure_aggregation
    if isinstance(mode, bool):  # the earlier boolean flag's values
      object.__setattr__(self, 'secure_aggregation',
                         'simulated' if mode else 'off')
    elif mode not in SECURE_AGGREGATIONS:
      raise ValueError(f'Unknown --secure_aggregation {mode!r}; valid: '
                       f'{", ".join(SECURE_AGGREGATIONS)}.')
    if self.dp_mechanism not in DP_MECHANISMS:
      raise ValueError(f'Unknown --dp_mechanism {self.dp_mechanism!r}; valid: '
                       f'{", ".join(DP_MECHANISMS)}.')
    self._check_dp()
    self._check_secure()
    self._check_compression()
    self._check_trimmed_mean()
    self._check_homomorphic()

  def _check_homomorphic(self):
    if self.homomorphic_encryption not in HOMOMORPHIC_ENCRYPTIONS:
      raise ValueError(
          f'Unknown --homomorphic_encryption {self.homomorphic_encryption!r}; '
          f'valid: {", ".join(HOMOMORPHIC_ENCRYPTIONS)}.')
    if not self.homomorphic_enabled:
      if self.ckks is not None:
        raise ValueError('CKKS parameters need --homomorphic_encryption=ckks.')
      return
    # The server only adds ciphertexts: anything but a linear sum, or noise
    # drawn by the server after the sum is decrypted, is not carried.
    others = [name for name, on in (
        ('--dp_mechanism', self.dp_enabled),
        ('--secure_aggregation', self.secure_enabled),
        ('--compression', self.compression_bits is not None),
        ('--robust_aggregation', self.robust_enabled),
        ('--trimmed_mean_fraction', self.trimmed_mean_fraction is not None))
              if on]
    if others:
      raise ValueError(
          '--homomorphic_encryption=ckks lets the server add encrypted '
          'updates and nothing else; it cannot carry '
          f'{", ".join(others)} (nonlinear steps that need updates or norms '
          'in the clear, DP noise added by the server, or a second secure '
          'sum).')

  @property
  def homomorphic_enabled(self) -> bool:
    return self.homomorphic_encryption != 'none'

  @property
  def ckks_parameters(self) -> ckks_lib.CkksParameters:
    return self.ckks or ckks_lib.CkksParameters()

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
      if not (self.secure_enabled and self.dp_enabled):
        raise ValueError('--secure_bits sets the SecAgg field of distributed '
                         'DP: it needs --secure_aggregation (simulated or '
                         'masked) and --dp_mechanism '
                         '(plain secure aggregation uses TFF\'s 32-bit '
                         'quantization).')
      low, high = SECURE_BITS_RANGE
      if not low <= self.secure_bits <= high:
        raise ValueError(f'--secure_bits must be in [{low}, {high}], got '
                         f'{self.secure_bits}.')
    self._check_masked()
    if self.secure_enabled and self.dp_mechanism == 'tree':
      raise ValueError('--dp_mechanism=tree has no distributed (secure) '
                       'version in TFF; drop --secure_aggregation or use '
                       'gaussian_fixed / gaussian_adaptive.')

  def _check_compression(self):
    if self.compression_clip is not None and not self.masked_compression:
      raise ValueError('--compression_clip is the shared range of masked '
                       'compression: it needs --secure_aggregation=masked '
                       '--compression (without --dp_mechanism).')
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
    if self.secure_aggregation == 'masked' and self.dp_enabled:
      raise ValueError('--compression with --secure_aggregation=masked and '
                       '--dp_mechanism: distributed DP already sends each '
                       'coordinate as --secure_bits bits of its ring, after '
                       'a rotation; set the width with --secure_bits instead.')
    if self.secure_aggregation == 'simulated':
      raise ValueError('--compression cannot feed --secure_aggregation='
                       'simulated: its quantization uses each client\'s own '
                       'min and max, which the server needs in the clear to '
                       'decode that client alone, so quantized values of '
                       'different clients cannot be added in a ring. Use '
                       '--secure_aggregation=masked --compression (a range '
                       'shared by all clients, --compression_clip), or with '
                       'DP set the ring\'s width with --secure_bits.')
    if self.masked_compression:
      if not self.hadamard:
        raise ValueError('--secure_aggregation=masked --compression always '
                         'rotates the update (Hadamard) before rounding it '
                         'into the ring: add --hadamard.')
      clip = self.compression_clip
      if clip is not None and (not _is_number(clip) or clip <= 0):
        raise ValueError(f'--compression_clip must be > 0, got {clip}.')
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
        ('--secure_aggregation', self.secure_enabled),
        ('--compression', self.compression_bits is not None)) if on]
    if others:
      raise ValueError('--trimmed_mean_fraction needs every client update at '
                       f'the server in the clear; it cannot be combined with '
                       f'{", ".join(others)}.')
    trimmed_mean.TrimmedMeanFactory(self.trimmed_mean_fraction)  # validates

  def _check_masked(self):
    settings = ('secagg_neighbors', 'secagg_threshold', 'secagg_dropout_rate',
                'secagg_bound')
    if self.secure_aggregation != 'masked':
      for name in settings:
        if getattr(self, name) is not None:
          raise ValueError(f'--{name} needs --secure_aggregation=masked.')
      return
    if self.dp_mechanism == 'gaussian_adaptive':
      raise ValueError(
          '--secure_aggregation=masked carries distributed DP with a fixed '
          'clip (--dp_mechanism=gaussian_fixed) only: gaussian_adaptive '
          'estimates its clip from a second secure sum (of each client\'s '
          'clipped-or-not bit) that the masked protocol does not run; use '
          '--secure_aggregation=simulated for it.')
    if self.dp_enabled and self.secagg_bound is not None:
      raise ValueError('--secagg_bound clips the coordinates of the masked '
                       'path without DP; with --dp_mechanism the update is '
                       'clipped in L2 norm to --dp_clip and scaled into '
                       '--secure_bits instead.')
    if self.compression_bits is not None and self.secagg_bound is not None:
      raise ValueError('--secagg_bound clips the coordinates of the masked '
                       'path\'s 32-bit quantization; with --compression the '
                       'update is clipped in L2 norm to --compression_clip '
                       'and scaled into --compression_bits instead.')
    if self.robust_enabled:
      raise ValueError('--robust_aggregation estimates its bounds from '
                       'per-client norms outside the masked sum; it cannot be '
                       'combined with --secure_aggregation=masked (which '
                       'clips to --secagg_bound).')
    for name in ('secagg_neighbors', 'secagg_threshold'):
      value = getattr(self, name)
      if value is not None and (isinstance(value, bool)
                                or not isinstance(value, int) or value < 1):
        raise ValueError(f'--{name} must be an integer >= 1, got {value!r}.')
    rate = self.secagg_dropout_rate
    if rate is not None and (not _is_number(rate) or not 0 <= rate < 1):
      raise ValueError(f'--secagg_dropout_rate must be in [0, 1), got {rate}.')
    bound = self.secagg_bound
    if bound is not None and (not _is_number(bound) or bound <= 0):
      raise ValueError(f'--secagg_bound must be > 0, got {bound}.')

  def masked_settings(self, clients_per_round: int) -> masked.MaskedSecureMean:
    """The masked protocol's settings for this cohort size, checked (a
    ValueError naming the flag if a round could not complete)."""
    neighbors = (self.secagg_neighbors if self.secagg_neighbors is not None
                 else secagg_protocol.default_neighbors(clients_per_round))
    threshold = (self.secagg_threshold if self.secagg_threshold is not None
                 else secagg_protocol.default_threshold(neighbors))
    rate = self.secagg_dropout_rate or 0.0
    secagg_protocol.check_settings(
        clients_per_round, neighbors, threshold,
        secagg_protocol.dropout_count(clients_per_round, rate))
    ddp = None
    if self.dp_enabled:
      ddp = masked_ddp.DistributedDp(
          noise_multiplier=float(self.dp_noise_multiplier),
          clip=float(self.dp_clip),
          bits=self.secure_bits or DEFAULT_SECURE_BITS)
      masked_ddp.check_ring(ddp.bits, clients_per_round)
    elif self.masked_compression:
      # DDP's chain without noise: rotate, clip, round into the 2^b ring.
      ddp = masked_ddp.DistributedDp(
          noise_multiplier=0.0, clip=float(self.compression_clip
                                           or DEFAULT_COMPRESSION_CLIP),
          bits=self.compression_bits)
      masked_ddp.check_ring(ddp.bits, clients_per_round,
                            flag='--compression_bits')
    return masked.MaskedSecureMean(
        clients_per_round=clients_per_round, neighbors=neighbors,
        threshold=threshold, dropout_rate=rate,
        bound=self.secagg_bound or DEFAULT_SECAGG_BOUND, distributed_dp=ddp,
        compressed=self.masked_compression)

  @property
  def secure_enabled(self) -> bool:
    return self.secure_aggregation != 'off'

  @property
  def dp_enabled(self) -> bool:
    return self.dp_mechanism != 'off'

  @property
  def masked_compression(self) -> bool:
    """Masked SecAgg without DP, its updates rounded into a 2^b ring."""
    return (self.secure_aggregation == 'masked' and not self.dp_enabled
            and self.compression_bits is not None)

  @property
  def requires_uniform_weighting(self) -> bool:
    """DP, the trimmed mean and masked compression (the DDP chain, an
    unweighted mean) count every client's update once."""
    return (self.dp_enabled or self.trimmed_mean_fraction is not None
            or self.masked_compression)

  @property
  def robust_enabled(self) -> bool:
    return bool(self.robust)

  def check_weighting(self, weighting: str) -> None:
    """Raises ValueError if `weighting` cannot be used with this config."""
    if weighting not in CLIENT_WEIGHTINGS:
      raise ValueError(f'Unknown client weighting {weighting!r}; valid: '
                       f'{", ".join(CLIENT_WEIGHTINGS)}.')
    if self.masked_compression and weighting != 'uniform':
      raise ValueError(
          '--secure_aggregation=masked --compression averages clients '
          'uniformly (each client\'s clipped update, rounded into the ring, '
          'counts once; the ring has no room for example weights): set '
          '--client_weighting=uniform.')
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
  if config.homomorphic_enabled:
    # Weighting is the client work's: uniform clients weigh 1.
    config.ckks_parameters.check_fits(clients_per_round)
    return homomorphic.ClientUpdatesFactory()
  if config.dp_enabled:
    return _dp_aggregator(config, clients_per_round)
  if config.trimmed_mean_fraction is not None:
    factory = trimmed_mean.TrimmedMeanFactory(config.trimmed_mean_fraction)
    return (robust.add_zeroing(factory, secure_estimation=False)
            if config.robust_enabled else factory)
  if config.secure_aggregation == 'masked':
    return config.masked_settings(clients_per_round)
  if config.secure_aggregation == 'simulated':
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
                         weighting: str = 'num_examples',
                         clients_per_round: Optional[int] = None) -> str:
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
    bits = config.secure_bits or DEFAULT_SECURE_BITS
    if config.secure_aggregation == 'masked':
      kind = (f'distributed DP (discrete noise, masked SecAgg in the '
              f'{bits}-bit ring: {_key_graph(config, clients_per_round)})')
    elif config.secure_enabled:
      kind = f'distributed DP (discrete noise, SecAgg {bits} bits)'
    else:
      kind = 'central DP'
    seed = ('' if config.dp_noise_seed is None
            else f', noise seed {config.dp_noise_seed}')
    steps.append(f'{kind} {config.dp_mechanism}: {clip}, noise multiplier '
                 f'{config.dp_noise_multiplier:g}{seed}, uniform mean')
  elif config.trimmed_mean_fraction is not None:
    steps.append(f'coordinate-wise trimmed mean (dropping '
                 f'{config.trimmed_mean_fraction:g} of clients at each end)')
  elif config.homomorphic_enabled:
    steps.append(f'{mean} of CKKS-encrypted updates summed by the server '
                 f'({config.ckks_parameters.describe()})')
  elif config.masked_compression:
    clip = config.compression_clip or DEFAULT_COMPRESSION_CLIP
    steps.append(
        f'secure uniform mean of compressed updates (masked SecAgg in the '
        f'{config.compression_bits}-bit ring: Hadamard-rotated, clip '
        f'{clip:g}, rounded stochastically, no noise; '
        f'{_key_graph(config, clients_per_round)})')
  elif config.secure_aggregation == 'masked':
    steps.append(
        f'secure {mean} (masked SecAgg: pairwise X25519 masks on a '
        f'{_key_graph(config, clients_per_round)}, clip '
        f'{config.secagg_bound or DEFAULT_SECAGG_BOUND:g}, 32-bit '
        'quantization)')
  elif config.secure_enabled:
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


def _or_default(value) -> str:
  return 'default' if value is None else str(value)


def _key_graph(config, clients_per_round) -> str:
  """The masked protocol's key graph as resolved for the cohort, if known."""
  k, t = config.secagg_neighbors, config.secagg_threshold
  if clients_per_round is not None:
    settings = config.masked_settings(clients_per_round)
    k, t = settings.neighbors, settings.threshold
  return (f'key graph of {_or_default(k)} neighbours, threshold '
          f'{_or_default(t)}, dropout rate '
          f'{config.secagg_dropout_rate or 0.0:g}')


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
  if config.secure_aggregation == 'masked':
    # Distributed DP's client and server steps around the masked sum.
    return config.masked_settings(clients_per_round)
  if config.secure_enabled:
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
        factory, secure_estimation=config.secure_enabled)
  return factory
