"""AggregationConfig validation, factory kinds, and the absl flags."""

from absl import flags as absl_flags
import pytest
import tensorflow_federated as tff

from tff_lstm.aggregation import config as config_lib
from tff_lstm.aggregation import flags as aggregation_flags

Config = config_lib.AggregationConfig
_FIXED = dict(dp_mechanism='gaussian_fixed', dp_noise_multiplier=1.0,
              dp_clip=0.5)


@pytest.mark.parametrize('kwargs, message', [
    (dict(dp_mechanism='laplace'), 'off, gaussian_fixed, gaussian_adaptive'),
    (dict(dp_noise_multiplier=1.0), '--dp_noise_multiplier needs --dp_mech'),
    (dict(dp_clip=1.0), '--dp_clip needs --dp_mechanism'),
    (dict(dp_delta=1e-5), '--dp_delta needs --dp_mechanism'),
    (dict(dp_mechanism='gaussian_fixed', dp_clip=1.0),
     'needs --dp_noise_multiplier'),
    ({**_FIXED, 'dp_noise_multiplier': -0.5}, 'must be >= 0, got -0.5'),
    ({**_FIXED, 'dp_noise_multiplier': float('nan')}, 'must be >= 0'),
    ({**_FIXED, 'dp_clip': None}, 'gaussian_fixed needs --dp_clip'),
    (dict(dp_mechanism='tree', dp_noise_multiplier=1.0),
     'tree needs --dp_clip'),
    ({**_FIXED, 'dp_clip': 0.0}, '--dp_clip must be > 0, got 0.0'),
    ({**_FIXED, 'dp_clip': -1.0}, '--dp_clip must be > 0'),
    ({**_FIXED, 'dp_target_unclipped_quantile': 0.5},
     'applies to --dp_mechanism=gaussian_adaptive only'),
    ({**_FIXED, 'dp_clip_learning_rate': 0.5}, 'gaussian_adaptive only'),
    (dict(dp_mechanism='gaussian_adaptive', dp_noise_multiplier=1.0,
          dp_target_unclipped_quantile=1.5), r'must be in \[0, 1\], got 1.5'),
    (dict(dp_mechanism='gaussian_adaptive', dp_noise_multiplier=1.0,
          dp_clip_learning_rate=-0.1), 'must be >= 0, got -0.1'),
    ({**_FIXED, 'dp_delta': 1.0}, r'--dp_delta must be in \(0, 1\)'),
    (dict(secure_bits=16),
     r'needs --secure_aggregation \(simulated or masked\) and --dp_mechanism'),
    (dict(secure_aggregation=True, secure_bits=16), 'needs --secure_aggreg'),
    ({**_FIXED, 'secure_aggregation': True, 'secure_bits': 30},
     r'--secure_bits must be in \[1, 22\]'),
    (dict(dp_mechanism='tree', dp_noise_multiplier=1.0, dp_clip=1.0,
          secure_aggregation=True), 'tree has no distributed'),
    (dict(hadamard=True), '--hadamard .* needs --compression'),
    (dict(compression_bits=0), r'--compression_bits must be in \[1, 16\]'),
    (dict(compression_bits=32), r'must be in \[1, 16\], got 32'),
    (dict(compression_bits=8, compression_threshold=-1), 'must be >= 0'),
    (dict(compression_bits=8, secure_aggregation=True),
     'cannot feed --secure_aggregation'),
    ({**_FIXED, 'compression_bits': 8}, 'use --secure_aggregation with DP'),
])
def test_nonsense_is_rejected_clearly(kwargs, message):
  with pytest.raises(ValueError, match=message):
    Config(**kwargs)


def test_dp_needs_uniform_weighting():
  config = Config(**_FIXED)
  assert config.requires_uniform_weighting
  with pytest.raises(ValueError, match='set --client_weighting=uniform'):
    config.check_weighting('num_examples')
  with pytest.raises(ValueError, match='num_examples, uniform'):
    config.check_weighting('by_size')
  config.check_weighting('uniform')
  assert not Config().requires_uniform_weighting


@pytest.mark.filterwarnings('ignore:A significant amount of noise')
@pytest.mark.parametrize('z, k, ok', [(1.0, 11, True), (1.0, 10, False),
                                      (0.5, 6, True)])
def test_adaptive_clipping_needs_a_large_enough_cohort(z, k, ok):
  config = Config(dp_mechanism='gaussian_adaptive', dp_noise_multiplier=z)
  if ok:
    config_lib.build_aggregator(config, k, 'uniform')
  else:
    with pytest.raises(ValueError,
                       match=f'needs clients_per_round > {10 * z:g}'):
      config_lib.build_aggregator(config, k, 'uniform')


def test_secure_bits_must_hold_the_cohort():
  config = Config(**_FIXED, secure_aggregation=True, secure_bits=4)
  with pytest.raises(ValueError, match='use at least 5'):
    config_lib.build_aggregator(config, 20, 'uniform')


def test_robust_aggregation_is_off_unless_asked_for():
  """As in TFF's build_weighted_fed_avg: the default is the plain mean."""
  assert not Config().robust_enabled
  assert Config(robust=True).robust_enabled
  assert not Config(**_FIXED).robust_enabled
  assert Config(**_FIXED, robust=True).robust_enabled
  plain = config_lib.build_aggregator(Config(), 5, 'num_examples')
  assert isinstance(plain, tff.aggregators.MeanFactory)


@pytest.mark.parametrize('kwargs, weighting, described', [
    (dict(), 'num_examples',
     'example-weighted mean (tff.aggregators.MeanFactory)'),
    (dict(), 'uniform', 'uniform mean (tff.aggregators.UnweightedMeanFactory)'),
    (dict(robust=True), 'num_examples',
     'zeroing of enormous updates (adaptive max-abs threshold) -> adaptive L2 '
     'clipping (to a high quantile of the norms) -> example-weighted mean'),
    ({**_FIXED, 'robust': True}, 'uniform',
     'zeroing of enormous updates (adaptive max-abs threshold) -> central DP '
     'gaussian_fixed: clip 0.5, noise multiplier 1, uniform mean'),
    (dict(dp_mechanism='tree', dp_noise_multiplier=1.0, dp_clip=1.0,
          dp_noise_seed=4), 'uniform',
     'central DP tree: clip 1, noise multiplier 1, noise seed 4'),
    (dict(trimmed_mean_fraction=0.2), 'uniform',
     'coordinate-wise trimmed mean (dropping 0.2 of clients at each end)'),
    (dict(secure_aggregation=True), 'num_examples',
     'secure example-weighted mean'),
    (dict(compression_bits=4, hadamard=True), 'num_examples',
     'example-weighted mean of updates quantized to 4 bits (tensors over '
     '20000 elements, Hadamard-rotated)'),
])
def test_the_chain_is_described_as_built(kwargs, weighting, described):
  assert config_lib.describe_aggregation(Config(**kwargs),
                                         weighting).startswith(described)


def test_dp_noise_seed_is_for_the_tree_only():
  with pytest.raises(ValueError, match='--dp_noise_seed needs --dp_mech'):
    Config(dp_noise_seed=1)
  with pytest.raises(ValueError, match='seeds --dp_mechanism=tree only; TFF '
                     'gives gaussian_fixed noise no seed'):
    Config(**_FIXED, dp_noise_seed=1)


@pytest.mark.parametrize('kwargs', [
    dict(), dict(robust=True), dict(secure_aggregation=True),
    dict(compression_bits=8), dict(compression_bits=4, hadamard=True,
                                   robust=False)])
@pytest.mark.parametrize('weighting', ['num_examples', 'uniform'])
def test_factory_kind_follows_weighting(kwargs, weighting):
  factory = config_lib.build_aggregator(Config(**kwargs), 5, weighting)
  kind = (tff.aggregators.WeightedAggregationFactory
          if weighting == 'num_examples'
          else tff.aggregators.UnweightedAggregationFactory)
  assert isinstance(factory, kind)


@pytest.mark.parametrize('kwargs', [
    _FIXED, {**_FIXED, 'robust': True},
    dict(dp_mechanism='gaussian_adaptive', dp_noise_multiplier=0.5),
    dict(dp_mechanism='tree', dp_noise_multiplier=1.0, dp_clip=1.0),
    {**_FIXED, 'secure_aggregation': True, 'secure_bits': 16}])
def test_dp_factories_are_unweighted(kwargs):
  factory = config_lib.build_aggregator(Config(**kwargs), 20, 'uniform')
  assert isinstance(factory, tff.aggregators.UnweightedAggregationFactory)


@pytest.fixture
def flag_values():
  """A fresh FlagValues with our flags (absl's global FLAGS is left alone)."""
  values = absl_flags.FlagValues()
  aggregation_flags.define_aggregation_flags(values)
  return values


def test_flags_give_the_config(flag_values):
  flag_values(['prog', '--dp_mechanism=gaussian_adaptive',
               '--dp_noise_multiplier=0.7',
               '--dp_target_unclipped_quantile=0.6',
               '--secure_aggregation', '--secure_bits=18',
               '--norobust_aggregation'])
  assert aggregation_flags.aggregation_config_from_flags(flag_values) == Config(
      dp_mechanism='gaussian_adaptive', dp_noise_multiplier=0.7,
      dp_target_unclipped_quantile=0.6, secure_aggregation=True,
      secure_bits=18, robust=False)


def test_robust_aggregation_flag_defaults_to_the_plain_mean(flag_values):
  flag_values(['prog'])
  assert not aggregation_flags.aggregation_config_from_flags(
      flag_values).robust_enabled
  flag_values(['prog', '--robust_aggregation'])
  assert aggregation_flags.aggregation_config_from_flags(
      flag_values).robust_enabled


@pytest.mark.parametrize('recorded, robust', [
    (dict(robust_aggregation=None), True),
    (dict(robust_aggregation=None, dp_mechanism='gaussian_fixed'), False),
    (dict(robust_aggregation=None, trimmed_mean_fraction=0.1), False),
    (dict(robust_aggregation=False), False),
    (dict(robust_aggregation=True, dp_mechanism='tree'), True),
])
def test_an_earlier_record_is_read_with_the_aggregation_it_ran(recorded,
                                                               robust):
  """Before the plain-mean default, a run left at the default recorded None:
  robust unless DP or the trimmed mean was on."""
  record = {'dp_mechanism': 'off', 'units': 8, **recorded}
  upgraded = aggregation_flags.upgrade_record(record)
  assert upgraded == {**record, 'robust_aggregation': robust}
  assert aggregation_flags.upgrade_record({'units': 8}) == {'units': 8}


def test_compression_flags(flag_values):
  flag_values(['prog', '--compression', '--hadamard'])
  assert aggregation_flags.aggregation_config_from_flags(flag_values) == Config(
      compression_bits=8, hadamard=True)


@pytest.mark.parametrize('argv, message', [
    (['--compression_bits=4'], '--compression_bits needs --compression'),
    (['--hadamard'], 'needs --compression'),
    (['--dp_clip=1.0'], '--dp_clip needs --dp_mechanism'),
    (['--dp_mechanism=gaussian_fixed', '--dp_noise_multiplier=-1',
      '--dp_clip=1'], 'must be >= 0'),
])
def test_flag_nonsense_is_rejected(flag_values, argv, message):
  flag_values(['prog'] + argv)
  with pytest.raises(ValueError, match=message):
    aggregation_flags.aggregation_config_from_flags(flag_values)
