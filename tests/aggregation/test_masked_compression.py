"""Compression over masked SecAgg: DDP's chain without noise in a 2^b ring.

The aggregate against the plain mean within the rounding bound of b bits (and
outside it with too few), dropouts, what the server is handed, the bytes
reported, and the refusals.
"""

from absl import flags as absl_flags
import numpy as np
import pytest

from tff_lstm.aggregation import config as config_lib
from tff_lstm.aggregation import flags as aggregation_flags
from tff_lstm.aggregation import masked

_SHAPES = [(30, 20), (24,)]  # 624 values, padded to 1024 for the rotation
_DIM = sum(int(np.prod(s)) for s in _SHAPES)


def _config(bits, **kwargs):
  return config_lib.AggregationConfig(
      secure_aggregation='masked', compression_bits=bits, hadamard=True,
      **kwargs)


def _updates(n, norm=0.5, seed=0):
  rng = np.random.default_rng(seed)
  out = []
  for _ in range(n):
    flat = rng.normal(size=_DIM).astype(np.float32)
    flat *= norm / np.linalg.norm(flat)
    parts = np.split(flat, np.cumsum([np.prod(s) for s in _SHAPES])[:-1])
    out.append([p.reshape(s) for p, s in zip(parts, _SHAPES)])
  return out


def _flat(tensors):
  return np.concatenate([np.reshape(t, [-1]) for t in tensors])


def _rounding_bound(params, n):
  """Twice the RMS L2 error of the mean from stochastic rounding alone:
  each of the n clients' scaled coordinates adds variance <= 1/4, and the
  rotation back preserves the norm."""
  return 2 * np.sqrt(params.padded_dim / (4 * n)) / params.scale


def test_the_aggregate_is_the_plain_mean_within_the_rounding_bound(
    federated_runtime):
  n = 5
  updates = _updates(n)  # norms 0.5, under the default clip of 1
  want = np.mean([_flat(u) for u in updates], axis=0)
  errors, bounds = {}, {}
  for bits in (12, 4):
    settings = _config(bits).masked_settings(n)
    assert settings.bits == bits and settings.compressed
    assert settings.distributed_dp.noise_multiplier == 0.0
    params = settings.ddp_parameters(_DIM)
    mean, measurements, _, _ = masked.run_round(settings, updates,
                                                np.ones(n), seed=[4, 1])
    got = _flat(mean)
    assert np.all(np.isfinite(got))
    errors[bits] = np.linalg.norm(got - want)
    bounds[bits] = _rounding_bound(params, n)
    assert int(measurements['actual_num_clients']) == n
    assert float(measurements['scaled_local_stddev']) == 0.0
    # Each client sends its 1024 padded coordinates as b-bit ring elements.
    assert int(measurements['client_to_server_bytes']) == n * 1024 * bits // 8
    assert int(measurements['uncompressed_bytes']) == n * _DIM * 4
    assert float(measurements['compression_ratio']) == pytest.approx(
        _DIM * 4 / (1024 * bits / 8))
  # 12 bits: within the bound, itself a few percent of the mean's norm.
  assert bounds[12] < 0.05 * np.linalg.norm(want)
  assert errors[12] < bounds[12]
  # 4 bits: the rounding error exceeds what 12 bits promise, by far.
  assert errors[4] > 10 * bounds[12]
  assert errors[4] < bounds[4]


def test_the_clip_fixes_the_shared_range(federated_runtime):
  n, clip = 4, 0.2
  updates = _updates(n, norm=0.5, seed=2)
  settings = _config(12, compression_clip=clip).masked_settings(n)
  mean, measurements, _, _ = masked.run_round(settings, updates, np.ones(n),
                                              seed=[5, 1])
  want = np.mean([_flat(u) * clip / 0.5 for u in updates], axis=0)
  assert np.linalg.norm(_flat(mean) - want) < _rounding_bound(
      settings.ddp_parameters(_DIM), n)
  assert float(measurements['l2_clip']) == pytest.approx(clip)


def test_dropouts_up_to_n_minus_t_recover_and_the_server_sees_only_masks(
    federated_runtime, assert_server_saw_only_masks):
  n, bits, dropped = 6, 10, [1, 4, 5]  # n - t = 3 with t = 3
  settings = _config(bits, secagg_neighbors=5,
                     secagg_threshold=3).masked_settings(n)
  updates = _updates(n, seed=3)
  mean, measurements, keys, view = masked.run_round(
      settings, updates, np.ones(n), seed=[7, 3], dropped=dropped)
  survivors = [0, 2, 3]
  assert keys.survivors == survivors
  params = settings.ddp_parameters(_DIM)
  want = np.mean([_flat(updates[i]) for i in survivors], axis=0)
  assert np.linalg.norm(_flat(mean) - want) < _rounding_bound(params, 3)
  assert int(measurements['secagg_survivors']) == 3
  assert int(measurements['client_to_server_bytes']) == 3 * 1024 * bits // 8
  assert_server_saw_only_masks(view, params, updates, survivors, [7, 3])


@pytest.mark.parametrize('bits,n,match', [
    (3, 10, '--compression_bits=3 cannot hold the sum of 10 clients'),
    (2, 4, r'--compression_bits=2 is too narrow for --clients_per_round=4: '
     r'.* use at least 3\.'),
])
def test_a_ring_too_narrow_is_refused_naming_the_flag(bits, n, match):
  with pytest.raises(ValueError, match=match):
    config_lib.build_aggregator(_config(bits), n, 'uniform')
  _config(bits + 1).masked_settings(n)  # one more bit is enough


@pytest.mark.parametrize('kwargs,match', [
    (dict(hadamard=False), 'always rotates .* add --hadamard'),
    (dict(compression_clip=0.0), '--compression_clip must be > 0'),
    (dict(secagg_bound=10.0), '--secagg_bound clips .* --compression_clip'),
    (dict(dp_mechanism='gaussian_fixed', dp_noise_multiplier=0.1,
          dp_clip=1.0), 'set the width with --secure_bits'),
    (dict(secure_aggregation='simulated'),
     'cannot feed --secure_aggregation=simulated'),
    (dict(compression_bits=17), r'--compression_bits must be in \[1, 16\]'),
])
def test_bad_combinations_are_refused(kwargs, match):
  with pytest.raises(ValueError, match=match):
    config_lib.AggregationConfig(**{**dict(
        secure_aggregation='masked', compression_bits=8, hadamard=True),
                                    **kwargs})


def test_the_clip_needs_masked_compression():
  with pytest.raises(ValueError, match='--compression_clip .* needs'):
    config_lib.AggregationConfig(compression_bits=8, compression_clip=1.0)


def test_a_uniform_weighting_is_required():
  with pytest.raises(ValueError, match='--client_weighting=uniform'):
    config_lib.build_aggregator(_config(8), 4, 'num_examples')


@pytest.fixture
def flag_values():
  """A fresh FlagValues with our flags (absl's global FLAGS is left alone)."""
  values = absl_flags.FlagValues()
  aggregation_flags.define_aggregation_flags(values)
  return values


def test_flags(flag_values):
  flag_values(['prog', '--secure_aggregation=masked', '--compression',
               '--compression_bits=12', '--hadamard',
               '--compression_clip=0.5'])
  config = aggregation_flags.aggregation_config_from_flags(flag_values)
  assert config.masked_compression
  assert (config.compression_bits, config.compression_clip) == (12, 0.5)
  for argv, match in (
      (['--compression_clip=0.5'], '--compression_clip needs --compression'),
      (['--secure_aggregation=masked', '--compression', '--hadamard',
        '--compression_threshold=5'], '--compression_threshold applies')):
    values = absl_flags.FlagValues()
    aggregation_flags.define_aggregation_flags(values)
    values(['prog', *argv])
    with pytest.raises(ValueError, match=match):
      aggregation_flags.aggregation_config_from_flags(values)


def test_the_chain_is_described():
  text = config_lib.describe_aggregation(_config(10), 'uniform', 6)
  assert text.startswith('secure uniform mean of compressed updates (masked '
                         'SecAgg in the 10-bit ring: Hadamard-rotated, clip 1')
  assert 'no noise' in text
