"""absl flags for model-update aggregation, and the AggregationConfig they give.

A binary calls `define_aggregation_flags()` once at import time (and
`flags.adopt_module_key_flags(<this module>)` so they count as its own, e.g.
in its hparams), then `aggregation_config_from_flags()` after parsing.
"""

from typing import Any

from absl import flags

from tff_lstm.aggregation import ckks
from tff_lstm.aggregation import config as config_lib

_CKKS_FLAGS = ('ckks_poly_modulus_degree', 'ckks_coeff_mod_bit_sizes',
               'ckks_scale_bits')


def define_aggregation_flags(
    flag_values: flags.FlagValues = flags.FLAGS) -> None:
  """Defines --dp_*, --secure_*, --compression*, --hadamard, --robust_*,
  --trimmed_mean_fraction, --homomorphic_encryption, --ckks_*."""
  fv = dict(flag_values=flag_values)
  flags.DEFINE_enum(
      'dp_mechanism', 'off', config_lib.DP_MECHANISMS,
      'User-level DP of model updates: gaussian_fixed (DP-FedAvg), '
      'gaussian_adaptive (adaptive clipping, Andrew et al. 2021), tree '
      '(DP-FTRL, Kairouz et al. 2021). Needs --client_weighting=uniform.', **fv)
  flags.DEFINE_float(
      'dp_noise_multiplier', None,
      'DP: Gaussian noise stddev / clip norm (required with DP).', **fv)
  flags.DEFINE_float(
      'dp_clip', None, 'DP: L2 clip norm of a client update (required for '
      'gaussian_fixed and tree; initial clip of gaussian_adaptive, default '
      '0.1).', **fv)
  flags.DEFINE_float(
      'dp_target_unclipped_quantile', None,
      'gaussian_adaptive: fraction of updates left unclipped (default 0.5).',
      **fv)
  flags.DEFINE_float(
      'dp_clip_learning_rate', None,
      'gaussian_adaptive: geometric step of the clip per round (default 0.2).',
      **fv)
  flags.DEFINE_float(
      'dp_delta', None,
      'DP: delta of the reported epsilon (default min(1e-5, '
      'num_clients ** -1.1)). Reporting only: may change on resume.', **fv)
  flags.DEFINE_flag(flags.Flag(
      _SecureAggregationParser(), flags.ArgumentSerializer(),
      'secure_aggregation', 'off',
      'off; simulated: TFF\'s secure sum, lowered to a plain sum in '
      'simulation (with DP: distributed DP); masked: the SecAgg protocol, '
      'clients send masked vectors (docs/secure_aggregation.md). The bare '
      'flag and --nosecure_aggregation still mean simulated and off.',
      boolean=True), **fv)
  flags.DEFINE_integer(
      'secagg_neighbors', None, '--secure_aggregation=masked: neighbours of '
      'each client on the key graph, even, or clients_per_round - 1 for the '
      'complete graph (default: SecAgg+\'s 2 log2(clients_per_round)).', **fv)
  flags.DEFINE_integer(
      'secagg_threshold', None, '--secure_aggregation=masked: shares that '
      'rebuild a client\'s mask secrets (default: a majority of its '
      'neighbours and itself).', **fv)
  flags.DEFINE_float(
      'secagg_dropout_rate', None, '--secure_aggregation=masked: share of '
      'each round\'s clients that drop out after the key exchange '
      '(simulated, seeded by --client_datasets_random_seed; default 0).', **fv)
  flags.DEFINE_float(
      'secagg_bound', None, '--secure_aggregation=masked without DP: clip of '
      'each weighted update coordinate before 32-bit quantization (default '
      '1000; clipped coordinates are counted in the round\'s metrics).',
      **fv)
  flags.DEFINE_integer(
      'secure_bits', None, 'DP with --secure_aggregation: SecAgg bit-width, '
      '1..22 (default 20); masked: the ring of the masks too.', **fv)
  flags.DEFINE_bool(
      'compression', False, 'Quantize client-to-server updates (bytes are '
      'reported in the aggregator metrics).', **fv)
  flags.DEFINE_integer(
      'compression_bits', 8, '--compression: bits per coordinate, 1..16 '
      '(with --secure_aggregation=masked: the width of the ring each '
      'coordinate is sent in).', **fv)
  flags.DEFINE_float(
      'compression_clip', None, '--secure_aggregation=masked --compression: '
      'L2 norm each client update is clipped to, the range shared by all '
      f'clients (default {config_lib.DEFAULT_COMPRESSION_CLIP:g}).', **fv)
  flags.DEFINE_integer(
      'compression_threshold', config_lib.DEFAULT_COMPRESSION_THRESHOLD,
      '--compression: only tensors with more elements are quantized.', **fv)
  flags.DEFINE_bool(
      'hadamard', False,
      '--compression: random Hadamard rotation before quantizing.', **fv)
  flags.DEFINE_bool(
      'robust_aggregation', False, 'Zero enormous updates and clip norms '
      'adaptively (tff.learning.robust_aggregator; with DP or the trimmed '
      'mean: zeroing only). Off: TFF\'s plain mean.', **fv)
  flags.DEFINE_integer(
      'dp_noise_seed', None, '--dp_mechanism=tree: seed of the tree\'s '
      'Gaussian noise, for reproducible simulations (unset: TFF seeds it from '
      'the clock). A known seed makes the noise predictable: simulation only. '
      'TFF takes no seed for gaussian_fixed / gaussian_adaptive noise.',
      lower_bound=0, upper_bound=2**32 - 1, **fv)
  flags.DEFINE_float(
      'trimmed_mean_fraction', None, 'Aggregate by the coordinate-wise trimmed '
      'mean, dropping this share (0 to <0.5) of clients at each end; needs '
      '--client_weighting=uniform.', **fv)
  flags.DEFINE_enum(
      'homomorphic_encryption', 'none', config_lib.HOMOMORPHIC_ENCRYPTIONS,
      'ckks: clients encrypt their weighted updates (TenSEAL CKKS), the '
      'server adds ciphertexts with the public key only, a key holder '
      'decrypts the sum. See docs/homomorphic_encryption.md.', **fv)
  flags.DEFINE_integer(
      'ckks_poly_modulus_degree', ckks.DEFAULT_POLY_MODULUS_DEGREE,
      'CKKS ring degree N (a ciphertext packs N/2 values): '
      f'{", ".join(map(str, ckks.MAX_COEFF_BITS_128))}.', **fv)
  flags.DEFINE_list(
      'ckks_coeff_mod_bit_sizes',
      [str(b) for b in ckks.DEFAULT_COEFF_MOD_BIT_SIZES],
      'CKKS coefficient primes\' bits: data prime(s), then the special prime; '
      'their total must stay within 128-bit security for the degree.', **fv)
  flags.DEFINE_integer(
      'ckks_scale_bits', ckks.DEFAULT_SCALE_BITS,
      'CKKS encoding scale 2^bits: precision; the data prime keeps the rest '
      'as headroom for the sum.', **fv)


class _SecureAggregationParser(flags.EnumParser):
  """off / simulated / masked; the earlier boolean's spellings too."""

  _BOOLEAN = {'true': 'simulated', '1': 'simulated', 'false': 'off',
              '0': 'off'}

  def __init__(self):
    super().__init__(list(config_lib.SECURE_AGGREGATIONS))

  def parse(self, argument):
    if isinstance(argument, bool):
      return 'simulated' if argument else 'off'
    if isinstance(argument, str) and argument.lower() in self._BOOLEAN:
      return self._BOOLEAN[argument.lower()]
    return super().parse(argument)

  def flag_type(self):
    return 'enum'


def upgrade_record(record: dict[str, Any]) -> dict[str, Any]:
  """An earlier run's recorded flags, in the terms of today's flags.

  --secure_aggregation was a boolean: true is today's 'simulated', false
  'off'. Until the plain mean became the default, --robust_aggregation defaulted to
  None, meaning on unless DP or the trimmed mean was on, and a run started
  without the flag recorded that None. Resolved here, such a run resumes with
  the aggregation it trained with.
  """
  if isinstance(record.get('secure_aggregation'), bool):
    # --secure_aggregation was a boolean before the masked protocol.
    record = {**record, 'secure_aggregation': (
        'simulated' if record['secure_aggregation'] else 'off')}
  if 'robust_aggregation' not in record or (
      record['robust_aggregation'] is not None):
    return record
  robust = (record.get('dp_mechanism', 'off') == 'off'
            and record.get('trimmed_mean_fraction') is None)
  return {**record, 'robust_aggregation': robust}


def aggregation_config_from_flags(
    flag_values: flags.FlagValues = flags.FLAGS
) -> config_lib.AggregationConfig:
  """The parsed flags as a validated config (ValueError on nonsense)."""
  f = flag_values
  if not f.compression:
    for name in ('compression_bits', 'compression_threshold',
                 'compression_clip'):
      if f[name].present:
        raise ValueError(f'--{name} needs --compression.')
  elif (f.secure_aggregation == 'masked'
        and f['compression_threshold'].present):
    raise ValueError('--compression_threshold applies to the unmasked '
                     'compression; --secure_aggregation=masked --compression '
                     'rounds every coordinate into the ring.')
  ckks_params = None
  if f.homomorphic_encryption == 'ckks':
    try:
      sizes = tuple(int(b) for b in f.ckks_coeff_mod_bit_sizes)
    except ValueError:
      raise ValueError('--ckks_coeff_mod_bit_sizes must be integers, got '
                       f'{",".join(f.ckks_coeff_mod_bit_sizes)}.') from None
    ckks_params = ckks.CkksParameters(
        poly_modulus_degree=f.ckks_poly_modulus_degree,
        coeff_mod_bit_sizes=sizes, scale_bits=f.ckks_scale_bits)
  else:
    for name in _CKKS_FLAGS:
      if f[name].present:
        raise ValueError(f'--{name} needs --homomorphic_encryption=ckks.')
  return config_lib.AggregationConfig(
      dp_mechanism=f.dp_mechanism,
      dp_noise_multiplier=f.dp_noise_multiplier,
      dp_clip=f.dp_clip,
      dp_target_unclipped_quantile=f.dp_target_unclipped_quantile,
      dp_clip_learning_rate=f.dp_clip_learning_rate,
      dp_delta=f.dp_delta,
      dp_noise_seed=f.dp_noise_seed,
      secure_aggregation=f.secure_aggregation,
      secure_bits=f.secure_bits,
      secagg_neighbors=f.secagg_neighbors,
      secagg_threshold=f.secagg_threshold,
      secagg_dropout_rate=f.secagg_dropout_rate,
      secagg_bound=f.secagg_bound,
      trimmed_mean_fraction=f.trimmed_mean_fraction,
      compression_bits=f.compression_bits if f.compression else None,
      compression_threshold=f.compression_threshold,
      compression_clip=f.compression_clip if f.compression else None,
      hadamard=f.hadamard,
      robust=f.robust_aggregation,
      homomorphic_encryption=f.homomorphic_encryption,
      ckks=ckks_params)
