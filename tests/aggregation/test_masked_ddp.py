"""Distributed DP over masked SecAgg: TFF's DDP parameters and aggregate,
the noise the mechanism promises, dropouts, what the server sees, refusals,
and training beside the simulated DDP path."""

import numpy as np
import pytest
import tensorflow_federated as tff
from tensorflow_federated.python.aggregators import distributed_dp

from tff_lstm.aggregation import config as config_lib
from tff_lstm.aggregation import masked
from tff_lstm.algorithms import fedavg
from tff_lstm.algorithms import learning_process
from tff_lstm.algorithms import optimizers
from tff_lstm.algorithms import vectorized_cohort
from tff_lstm.training import masked_rounds

_SHAPES = [(30, 20), (24,)]  # 624 values, padded to 1024 for the rotation
_DIM = sum(int(np.prod(s)) for s in _SHAPES)


def _config(mode, z, clip=1.0, bits=20, **kwargs):
  return config_lib.AggregationConfig(
      secure_aggregation=mode, dp_mechanism='gaussian_fixed',
      dp_noise_multiplier=z, dp_clip=clip, secure_bits=bits, **kwargs)


def _updates(n, norm=0.5, seed=0, big=()):
  """n clients' updates of L2 norm `norm` (clients in `big`: 10 x that)."""
  rng = np.random.default_rng(seed)
  out = []
  for i in range(n):
    flat = rng.normal(size=_DIM).astype(np.float32)
    flat *= norm * (10 if i in big else 1) / np.linalg.norm(flat)
    parts = np.split(flat, np.cumsum([np.prod(s) for s in _SHAPES])[:-1])
    out.append([p.reshape(s) for p, s in zip(parts, _SHAPES)])
  return out


def _flat(tensors):
  return np.concatenate([np.reshape(t, [-1]) for t in tensors])


def _clipped_mean(updates, clients, clip):
  flats = [_flat(updates[i]) for i in clients]
  return np.mean([f * min(1.0, clip / np.linalg.norm(f)) for f in flats],
                 axis=0)


def _simulated(n, z, updates, **kwargs):
  factory = config_lib.build_aggregator(_config('simulated', z, **kwargs), n,
                                        'uniform')
  process = factory.create(tff.StructWithPythonType(
      [tff.TensorType(np.float32, s) for s in _SHAPES], list))
  output = process.next(process.initialize(), updates)
  return _flat(output.result), output.measurements['mean_value']


def _quantization_tolerance(params, n):
  """A bound on the L2 error of the mean from rounding alone: each client's
  stochastic rounding adds variance <= 1/4 per scaled coordinate."""
  return 4 * np.sqrt(params.padded_dim / (4 * n)) / params.scale


def test_parameters_are_the_simulated_paths(federated_runtime):
  n = 5
  settings = _config('masked', 0.7).masked_settings(n)
  params = settings.ddp_parameters(_DIM)
  _, measured = _simulated(n, 0.7, _updates(n))
  assert params.padded_dim == measured['padded_dim'] == 1024
  assert settings.bits == 20
  np.testing.assert_allclose(params.scale, measured['scale_factor'],
                             rtol=1e-6)
  np.testing.assert_allclose(params.scaled_inflated_l2,
                             measured['scaled_inflated_l2'], rtol=1e-6)
  np.testing.assert_allclose(params.scaled_local_stddev,
                             measured['scaled_local_stddev'], rtol=1e-6)


def test_without_noise_the_masked_aggregate_is_the_simulated_one(
    federated_runtime):
  n, clip = 5, 1.0
  updates = _updates(n, big=(2,))  # client 2 is clipped
  settings = _config('masked', 0.0).masked_settings(n)
  mean, measurements, _, _ = masked.run_round(
      settings, updates, np.ones(n), seed=[4, 1])
  got = _flat(mean)
  simulated, _ = _simulated(n, 0.0, updates)
  want = _clipped_mean(updates, range(n), clip)
  tolerance = _quantization_tolerance(settings.ddp_parameters(_DIM), n)
  assert tolerance < 1e-3 * np.linalg.norm(want)
  assert np.linalg.norm(got - want) < tolerance
  assert np.linalg.norm(got - simulated) < 2 * tolerance
  # The unclipped mean is far from it: the clip did act.
  assert np.linalg.norm(np.mean([_flat(u) for u in updates], 0) - want) > 0.1
  assert int(measurements['actual_num_clients']) == n
  assert float(measurements['l2_clip']) == clip


@pytest.mark.parametrize('n,kwargs', [
    (5, {}),
    # One of six drops: the survivors' shares still make the central noise.
    (6, dict(secagg_dropout_rate=1 / 6)),
])
def test_the_noise_of_the_sum_is_the_mechanisms(federated_runtime, n, kwargs):
  z, clip = 1.0, 1.0
  shapes = [(64, 128)]  # 8192 coordinates: the variance's relative SE is 1.6%
  rng = np.random.default_rng(5)
  updates = [[rng.normal(0, 0.01, shapes[0]).astype(np.float32)]
             for _ in range(n)]
  settings = _config('masked', z, clip=clip, **kwargs).masked_settings(n)
  mean, measurements, keys, _ = masked.run_round(
      settings, updates, np.ones(n), seed=[9, 2])
  survivors = keys.survivors
  assert len(survivors) == settings.survivors
  noise = (np.reshape(mean[0], -1) * len(survivors)
           - sum(np.reshape(updates[i][0], -1) for i in survivors))
  # Central stddev z * clip on every coordinate of the sum (rounding adds
  # n / (4 scale^2), under 1e-8 here).
  assert abs(np.mean(noise)) < 4 * z * clip / np.sqrt(noise.size)
  assert np.var(noise) == pytest.approx((z * clip)**2, rel=0.08)
  assert int(measurements['actual_num_clients']) == len(survivors)


def test_dropouts_up_to_n_minus_t_recover_and_the_server_sees_only_masks(
    federated_runtime, assert_server_saw_only_masks):
  n, clip, dropped = 6, 1.0, [1, 4, 5]  # n - t = 3 with t = 3
  settings = _config('masked', 0.0, secagg_neighbors=5,
                     secagg_threshold=3).masked_settings(n)
  updates = _updates(n, seed=3)
  mean, measurements, keys, view = masked.run_round(
      settings, updates, np.ones(n), seed=[7, 3], dropped=dropped)
  survivors = [0, 2, 3]
  assert keys.survivors == survivors
  params = settings.ddp_parameters(_DIM)
  want = _clipped_mean(updates, survivors, clip)
  assert np.linalg.norm(_flat(mean) - want) < _quantization_tolerance(
      params, len(survivors))
  assert int(measurements['secagg_survivors']) == 3
  assert_server_saw_only_masks(view, params, updates, survivors, [7, 3])


@pytest.mark.parametrize('kwargs,n,match', [
    (dict(secure_bits=3), 10, '--secure_bits=3 cannot hold the sum of 10'),
    # 2^2 holds 4 clients' values, not 3.9 stddevs of their noisy sum.
    (dict(secure_bits=2), 4, r'--secure_bits=2 is too narrow for '
     r'--clients_per_round=4: .* use at least 3\.'),
])
def test_a_ring_too_narrow_is_refused_naming_the_flag(kwargs, n, match):
  config = _config('masked', 1.0, **{'bits': kwargs['secure_bits']})
  with pytest.raises(ValueError, match=match):
    config.masked_settings(n)
  with pytest.raises(ValueError, match=match):
    config_lib.build_aggregator(config, n, 'uniform')
  # TFF's DDP refuses the same ring.
  with pytest.raises(ValueError):
    distributed_dp.DistributedDpSumFactory(
        noise_multiplier=1.0, expected_clients_per_round=n,
        bits=kwargs['secure_bits'], l2_clip=1.0)
  config_lib.AggregationConfig(**{**config.__dict__, 'secure_bits': (
      kwargs['secure_bits'] + 1)}).masked_settings(n)  # one more bit is enough


@pytest.mark.parametrize('kwargs,match', [
    (dict(dp_mechanism='gaussian_adaptive', dp_noise_multiplier=0.1),
     'gaussian_adaptive estimates its clip from a second secure sum'),
    (dict(dp_mechanism='tree', dp_noise_multiplier=0.1, dp_clip=1.0),
     'no distributed'),
    (dict(dp_mechanism='gaussian_fixed', dp_noise_multiplier=0.1,
          dp_clip=1.0, secagg_bound=10.0), '--secagg_bound clips'),
    (dict(secure_bits=16), '--secure_bits sets the SecAgg field'),
    (dict(dp_mechanism='gaussian_fixed', dp_noise_multiplier=0.1,
          dp_clip=1.0, compression_bits=8),
     'set the width with --secure_bits'),
])
def test_bad_combinations_are_refused(kwargs, match):
  with pytest.raises(ValueError, match=match):
    config_lib.AggregationConfig(secure_aggregation='masked', **kwargs)


def test_a_uniform_weighting_is_required():
  with pytest.raises(ValueError, match='--client_weighting=uniform'):
    config_lib.build_aggregator(_config('masked', 0.5), 4, 'num_examples')


def test_the_chain_is_described():
  text = config_lib.describe_aggregation(_config('masked', 0.5, bits=18),
                                         'uniform', 6)
  assert text.startswith('distributed DP (discrete noise, masked SecAgg in '
                         'the 18-bit ring: key graph of ')
  assert 'noise multiplier 0.5' in text


def test_rounds_of_masked_ddp_training_follow_the_simulated_path(
    federated_runtime, char_task, char_datasets):
  """Without noise, two FedAvg rounds with the masked DDP sum give the model
  the simulated secure sum's DDP gives, up to rounding."""
  n = 4
  algorithm = fedavg.Config(optimizers.OptimizerConfig(learning_rate=0.5))

  def build(aggregator):
    return learning_process.build_learning_process(
        char_task, algorithm, client_parallelism='vectorized',
        client_weighting='uniform', client_batch_size=2,
        model_aggregator=aggregator)

  simulated = build(config_lib.build_aggregator(
      _config('simulated', 0.0, clip=0.5), n, 'uniform'))
  secure = masked_rounds.MaskedRoundsProcess(build(config_lib.build_aggregator(
      _config('masked', 0.0, clip=0.5, secagg_neighbors=3,
              secagg_threshold=2), n, 'uniform')), seed=0)
  indexed = vectorized_cohort.indexed_client_data(char_datasets(n))
  sim_state, sec_state = simulated.initialize(), secure.initialize()
  for round_num in range(1, 3):
    sim_state = simulated.next(sim_state, indexed).state
    out = secure.next(sec_state, masked_rounds.Round(round_num, indexed))
    sec_state = out.state
    aggregator = out.metrics['aggregator']
    assert aggregator['secagg_survivors'] == n
    assert aggregator['l2_clip'] == pytest.approx(0.5)
  before = simulated.get_model_weights(simulated.initialize()).trainable
  after_sim = simulated.get_model_weights(sim_state).trainable
  after_sec = secure.get_model_weights(sec_state).trainable
  assert any(not np.allclose(a, b) for a, b in zip(before, after_sim))
  for a, b in zip(after_sim, after_sec):
    np.testing.assert_allclose(a, b, atol=1e-4)
