"""Secure aggregation (simulated): plain mean within discretization; DDP."""

import numpy as np
import pytest
import tensorflow_federated as tff

from tff_lstm.aggregation import config as config_lib
from tff_lstm.algorithms import fedavg
from tff_lstm.algorithms import learning_process
from tff_lstm.algorithms import optimizers

_DIM = 1000


def _updates(num_clients, scale=1.0):
  rng = np.random.default_rng(1)
  return [scale * rng.normal(size=_DIM).astype(np.float32)
          for _ in range(num_clients)]


@pytest.mark.parametrize('weighting', ['num_examples', 'uniform'])
def test_secure_mean_matches_plain_mean(federated_runtime, weighting):
  config = config_lib.AggregationConfig(secure_aggregation=True, robust=False)
  factory = config_lib.build_aggregator(config, 4, weighting)
  value_type = tff.TensorType(np.float32, [_DIM])
  updates = _updates(4)
  if weighting == 'uniform':
    process = factory.create(value_type)
    output = process.next(process.initialize(), updates)
    expected = np.mean(updates, axis=0)
  else:
    process = factory.create(value_type, tff.TensorType(np.float32))
    weights = [1.0, 2.0, 3.0, 10.0]
    output = process.next(process.initialize(), updates, weights)
    expected = np.average(updates, axis=0, weights=weights)
  # Values are clipped to +-range (initially 50) and quantized to 32 bits.
  measured = output.measurements['mean_value']
  assert measured['secure_upper_clipped_count'] == 0
  assert measured['secure_upper_threshold'] >= np.max(np.abs(updates))
  np.testing.assert_allclose(output.result, expected, atol=1e-5)


def test_distributed_dp_mean_without_noise_is_the_clipped_mean(federated_runtime):
  config = config_lib.AggregationConfig(
      dp_mechanism='gaussian_fixed', dp_noise_multiplier=0.0, dp_clip=100.0,
      secure_aggregation=True, secure_bits=20)
  process = config_lib.build_aggregator(config, 4, 'uniform').create(
      tff.TensorType(np.float32, [_DIM]))
  updates = _updates(4, scale=0.1)  # norm ~3: not clipped
  output = process.next(process.initialize(), updates)
  error = output.result - np.mean(updates, axis=0)
  # Rotation, scaling and rounding to integers cost a little precision.
  assert np.linalg.norm(error) < 0.01 * np.linalg.norm(np.mean(updates, 0))


def test_distributed_dp_fedavg_round_runs(federated_runtime, char_task,
                                          char_datasets):
  config = config_lib.AggregationConfig(
      dp_mechanism='gaussian_adaptive', dp_noise_multiplier=0.2,
      secure_aggregation=True, secure_bits=16)
  process = learning_process.build_learning_process(
      char_task,
      fedavg.Config(optimizers.OptimizerConfig(learning_rate=0.5)),
      client_weighting='uniform',
      model_aggregator=config_lib.build_aggregator(config, 3, 'uniform'))
  state = process.initialize()
  before = process.get_model_weights(state).trainable
  clips = []
  for _ in range(2):
    state, metrics = process.next(state, char_datasets(3))
    clips.append(metrics['aggregator']['mean_value']['l2_clip'])
    assert metrics['aggregator']['mean_value']['actual_num_clients'] == 3
  after = process.get_model_weights(state).trainable
  assert all(np.all(np.isfinite(w)) for w in after)
  assert any(not np.allclose(a, b) for a, b in zip(after, before))
  # The clip of round 1 is the initial 0.1; round 2's adapted to the norms.
  assert clips[0] == pytest.approx(0.1)
  assert clips[1] != pytest.approx(0.1)
