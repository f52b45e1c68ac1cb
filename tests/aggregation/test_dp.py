"""DP aggregators on the TFF runtime: clipping, noise, adaptive clip, tree."""

import numpy as np
import pytest
import tensorflow_federated as tff

from tff_lstm.aggregation import config as config_lib
from tff_lstm.algorithms import fedavg
from tff_lstm.algorithms import fedsgd
from tff_lstm.algorithms import learning_process
from tff_lstm.algorithms import optimizers


def _dp_process(num_clients, dim, **config):
  config = config_lib.AggregationConfig(**config)
  factory = config_lib.build_aggregator(config, num_clients, 'uniform')
  return factory.create(tff.TensorType(np.float32, [dim]))


def test_fixed_clipping_bounds_every_client(federated_runtime):
  process = _dp_process(4, 8, dp_mechanism='gaussian_fixed',
                        dp_noise_multiplier=0.0, dp_clip=1.0)
  updates = np.zeros((4, 8), np.float32)
  updates[0, 0] = 1000.0  # a huge update: clipped to norm 1
  updates[1:, 1:4] = 0.3  # norm 0.52: untouched
  output = process.next(process.initialize(), list(updates))
  expected = updates.copy()
  expected[0, 0] = 1.0
  np.testing.assert_allclose(output.result, expected.mean(axis=0), atol=1e-6)
  # Whatever one client sends, it moves the mean by at most clip / cohort.
  assert np.abs(output.result[0]) <= 1.0 / 4 + 1e-6


def test_gaussian_noise_has_the_configured_scale(federated_runtime):
  clip, z, k, dim = 2.0, 0.5, 4, 40000
  process = _dp_process(k, dim, dp_mechanism='gaussian_fixed',
                        dp_noise_multiplier=z, dp_clip=clip)
  output = process.next(process.initialize(),
                        [np.zeros(dim, np.float32)] * k)
  # Noise of stddev z * clip on the sum, divided by the cohort size.
  expected_std = z * clip / k
  assert np.std(output.result) == pytest.approx(expected_std, rel=0.03)
  assert abs(np.mean(output.result)) < 5 * expected_std / np.sqrt(dim)


def _clip_after(target_quantile, rounds=15):
  """The adaptive clip after `rounds` over clients of update norms 1..10."""
  k = 10
  process = _dp_process(k, k, dp_mechanism='gaussian_adaptive',
                        dp_noise_multiplier=0.1, dp_clip=0.1,
                        dp_target_unclipped_quantile=target_quantile,
                        dp_clip_learning_rate=1.0)
  updates = list(np.diag(np.arange(1, k + 1, dtype=np.float32)))
  state = process.initialize()
  clips = []
  for _ in range(rounds):
    output = process.next(state, updates)
    state = output.state
    clips.append(float(output.measurements['dp_query_metrics']['clip']))
  return clips


def test_adaptive_clip_moves_toward_the_target_quantile(federated_runtime):
  median_clips = _clip_after(0.5)
  # From 0.1, every update is clipped: the clip grows geometrically...
  assert all(b > a for a, b in zip(median_clips[:5], median_clips[1:6]))
  # ...until about half the norms (1..10) are below it.
  assert 3.0 < median_clips[-1] < 8.0
  high_clips = _clip_after(0.9)
  assert high_clips[-1] > median_clips[-1]
  assert 7.0 < high_clips[-1] < 14.0


def test_tree_aggregation_outputs_each_round_clipped_mean(federated_runtime):
  process = _dp_process(2, 3, dp_mechanism='tree', dp_noise_multiplier=0.0,
                        dp_clip=1.0)
  state = process.initialize()
  rounds = [[np.float32([3, 0, 0]), np.float32([0, .5, 0])],
            [np.float32([0, 0, .2]), np.float32([0, 0, .4])]]
  expected = [[0.5, 0.25, 0], [0, 0, 0.3]]  # clipped, divided by 2
  for updates, mean in zip(rounds, expected):
    output = process.next(state, updates)
    state = output.state
    np.testing.assert_allclose(output.result, mean, atol=1e-6)


def test_tree_aggregation_adds_noise(federated_runtime):
  process = _dp_process(2, 10000, dp_mechanism='tree', dp_noise_multiplier=1.0,
                        dp_clip=1.0)
  result = process.next(process.initialize(),
                        [np.zeros(10000, np.float32)] * 2).result
  assert np.all(np.isfinite(result))
  # Tree noise of the first prefix sum: one node, stddev z * clip, halved.
  assert np.std(result) == pytest.approx(0.5, rel=0.05)


def test_tree_noise_follows_its_seed(federated_runtime):
  """--dp_noise_seed fixes the tree's noise: the same seed, the same noised
  rounds; another seed, or none (TFF's clock-based one), other noise."""

  def two_rounds(**seed):
    process = _dp_process(2, 50, dp_mechanism='tree', dp_noise_multiplier=1.0,
                          dp_clip=1.0, **seed)
    state, results = process.initialize(), []
    for _ in range(2):
      output = process.next(state, [np.zeros(50, np.float32)] * 2)
      state = output.state
      results.append(output.result)
    return np.stack(results)

  seeded = two_rounds(dp_noise_seed=7)
  np.testing.assert_array_equal(two_rounds(dp_noise_seed=7), seeded)
  assert not np.allclose(two_rounds(dp_noise_seed=8), seeded)
  assert not np.allclose(two_rounds(), two_rounds())


@pytest.mark.parametrize('algorithm', ['fedavg', 'fedsgd'])
def test_dp_round_moves_model_at_most_clip(federated_runtime, char_task,
                                           char_datasets, algorithm):
  clip = 0.05
  config = config_lib.AggregationConfig(
      dp_mechanism='gaussian_fixed', dp_noise_multiplier=0.0, dp_clip=clip)
  with pytest.raises(ValueError, match='client_weighting=uniform'):
    config_lib.build_aggregator(config, 3, 'num_examples')
  aggregator = config_lib.build_aggregator(config, 3, 'uniform')
  with pytest.raises(ValueError, match="weighting='uniform'"):
    learning_process.build_learning_process(
        char_task,
        model_aggregator=aggregator)
  algorithm_config = {
      'fedavg': fedavg.Config(optimizers.OptimizerConfig(learning_rate=0.5)),
      'fedsgd': fedsgd.Config()}[algorithm]
  process = learning_process.build_learning_process(
      char_task, algorithm_config, client_weighting='uniform',
      model_aggregator=aggregator)
  state = process.initialize()
  before = process.get_model_weights(state).trainable
  state, metrics = process.next(state, char_datasets(3))
  after = process.get_model_weights(state).trainable
  moved = np.sqrt(sum(np.sum((a - b)**2) for a, b in zip(after, before)))
  # Each client's update (FedSGD: gradient) is clipped to `clip`, so with
  # server SGD at learning rate 1 their mean moves the model at most that.
  assert 0 < moved <= clip + 1e-6
  assert np.isfinite(metrics['client_work']['train']['loss'])
