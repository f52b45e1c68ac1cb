"""The trimmed-mean aggregator: hand-checked values, and a poisoned client."""

import collections

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_federated as tff

from tff_lstm.aggregation import trimmed_mean


def _aggregate(factory, client_values):
  value_type = tff.types.tensorflow_to_type(tf.nest.map_structure(
      lambda v: tf.TensorSpec(np.shape(v), tf.float32), client_values[0]))
  process = factory.create(value_type)
  return process.next(process.initialize(), client_values)


def test_trims_each_coordinate_separately(federated_runtime):
  clients = [np.array([1.0, 50.0], np.float32),
             np.array([2.0, -40.0], np.float32),
             np.array([3.0, 1.0], np.float32),
             np.array([100.0, 2.0], np.float32),
             np.array([4.0, 3.0], np.float32)]
  out = _aggregate(trimmed_mean.TrimmedMeanFactory(0.2), clients)
  # n=5, one dropped per side: [2, 3, 4] -> 3 ; [1, 2, 3] -> 2
  np.testing.assert_allclose(out.result, [3.0, 2.0])
  assert out.measurements['trim_fraction'] == pytest.approx(0.2)


def test_zero_trim_is_the_plain_mean_over_structures(federated_runtime):
  clients = [collections.OrderedDict(a=np.full([2, 2], i, np.float32),
                                     b=np.float32(2 * i)) for i in range(4)]
  out = _aggregate(trimmed_mean.TrimmedMeanFactory(0.0), clients)
  np.testing.assert_allclose(out.result['a'], np.full([2, 2], 1.5))
  assert out.result['b'] == pytest.approx(3.0)


def test_a_poisoned_client_cannot_move_the_result(federated_runtime):
  rng = np.random.default_rng(0)
  honest = [rng.normal(size=6).astype(np.float32) for _ in range(9)]
  poisoned = honest + [np.full(6, 1e6, np.float32)]
  out = _aggregate(trimmed_mean.TrimmedMeanFactory(0.1), poisoned)
  assert np.all(out.result <= np.max(honest, axis=0))
  assert np.all(out.result >= np.min(honest, axis=0))


@pytest.mark.parametrize('bad', [-0.1, 0.5, float('nan'), '0.1'])
def test_bad_trim_fraction_is_named(bad):
  with pytest.raises(ValueError, match='trim_fraction'):
    trimmed_mean.TrimmedMeanFactory(bad)


def test_config_builds_it_uniformly_and_refuses_mixing():
  from tff_lstm.aggregation import config  # pylint: disable=g-import-not-at-top
  cfg = config.AggregationConfig(trimmed_mean_fraction=0.1)
  assert not cfg.robust_enabled
  assert isinstance(config.build_aggregator(cfg, 10, 'uniform'),
                    trimmed_mean.TrimmedMeanFactory)
  with pytest.raises(ValueError, match='--client_weighting=uniform'):
    config.build_aggregator(cfg, 10, 'num_examples')
  with pytest.raises(ValueError, match='--secure_aggregation'):
    config.AggregationConfig(trimmed_mean_fraction=0.1,
                             secure_aggregation=True)
  with pytest.raises(ValueError, match='trim_fraction'):
    config.AggregationConfig(trimmed_mean_fraction=0.7)


def test_trains_through_the_vectorized_cohort(federated_runtime,
                                              macbeth_client_data):
  from tff_lstm.algorithms import learning_process  # pylint: disable=g-import-not-at-top
  from tff_lstm.algorithms import vectorized_cohort  # pylint: disable=g-import-not-at-top
  from tff_lstm.tasks import model_config  # pylint: disable=g-import-not-at-top
  from tff_lstm.tasks import shakespeare_char  # pylint: disable=g-import-not-at-top
  spec = tff.simulation.baselines.ClientSpec(num_epochs=1, batch_size=4,
                                             max_elements=4)
  task = shakespeare_char.create_task(
      spec, sequence_length=12, client_data=macbeth_client_data,
      model_config=model_config.ModelConfig(units=8, num_layers=1, seed=1))
  process = learning_process.build_learning_process(
      task,
      client_weighting='uniform',
      model_aggregator=trimmed_mean.TrimmedMeanFactory(0.2),
      client_parallelism='vectorized',
      client_batch_size=4)
  train = task.datasets.train_data
  data = [task.datasets.train_preprocess_fn(train.create_tf_dataset_for_client(c))
          for c in sorted(train.client_ids)[:5]]
  state = process.initialize()
  before = process.get_model_weights(state).trainable
  out = process.next(state, vectorized_cohort.indexed_client_data(data))
  after = process.get_model_weights(out.state).trainable
  assert all(np.isfinite(a).all() for a in after)
  assert any(not np.allclose(a, b) for a, b in zip(after, before))
  assert out.metrics['aggregator']['trim_fraction'] == pytest.approx(0.2)
