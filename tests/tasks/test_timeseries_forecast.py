"""Forecast windows stay in one client and skip gaps; test targets are test
readings; readings are scaled by their client's train statistics only, and
scores are in the data's own units."""

import logging

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_federated as tff

from tff_lstm.algorithms import fedavg
from tff_lstm.algorithms import learning_process
from tff_lstm.algorithms import optimizers
from tff_lstm.data import user_import
from tff_lstm.models import forecaster
from tff_lstm.tasks import forecast_baselines
from tff_lstm.tasks import model_config
from tff_lstm.tasks import registry
from tff_lstm.tasks import timeseries_forecast
from tff_lstm.training import evaluation

_SPEC = tff.simulation.baselines.ClientSpec(
    num_epochs=1, batch_size=4, shuffle_buffer_size=1)
_TINY = model_config.ModelConfig(units=8, seed=1)
_WINDOW = 4
# Client c's reading t is (base + t, -(base + t)): each value names its
# client and time, so a window across clients or out of order shows.
_BASES = {'meter_a': 100, 'meter_b': 200, 'short': 300}
_LENGTHS = {'meter_a': 12, 'meter_b': 10, 'short': 5}
# 'gappy' misses readings after t=4 (a gap of 50 steps); 'flat' reads 7, 7
# in train (zero variance), then 9 in test.
_GAPPY = [0, 1, 2, 3, 4, 54, 55, 56, 57, 58, 59]


@pytest.fixture(scope='module')
def database(tmp_path_factory):
  tmp = tmp_path_factory.mktemp('meters')
  source = tmp / 'meters.csv'
  lines = ['client_id,timestamp,kwh,neg']
  for client, base in _BASES.items():
    # Rows out of time order: the import sorts each client's readings.
    for t in reversed(range(_LENGTHS[client])):
      lines.append(f'{client},{1000 + t},{base + t},{-(base + t)}')
  lines += [f'gappy,{1000 + t},{t},{-t}' for t in _GAPPY]
  lines += [f'flat,{1000 + t},{7 if t < 8 else 9},1' for t in range(10)]
  source.write_text('\n'.join(lines) + '\n')
  path = str(tmp / 'meters.sqlite')
  user_import.import_file(str(source), path, 'timeseries')
  return path


@pytest.fixture(scope='module')
def task(database):
  return registry.create_task('timeseries_forecast', _SPEC,
                              model_config=_TINY, database_path=database,
                              window=_WINDOW, cache_dir='/unused')


def _raw(x, y):
  """(window, target) in the data's own units, from a scaled example."""
  center, scale = y[..., forecaster.CENTER, :], y[..., forecaster.SCALE, :]
  window = x * scale[..., np.newaxis, :] + center[..., np.newaxis, :]
  return (np.round(window, 3).tolist(),
          np.round(y[..., forecaster.TARGET, :], 3).tolist())


def _windows(dataset):
  return [_raw(x, y) for x, y in dataset.as_numpy_iterator()]


def _expected(base, targets):
  return [([[base + t, -(base + t)] for t in range(s - _WINDOW, s)],
           [base + s, -(base + s)]) for s in targets]


def test_train_windows(task):
  assert task.name == 'timeseries_forecast'
  # 'short' has 4 train readings: no window of 4 plus a target.
  assert task.datasets.train_data.client_ids == ['flat', 'gappy', 'meter_a',
                                                 'meter_b']
  # meter_a: 12 readings, the later floor(0.2 * 12) = 2 are test.
  windows = _windows(
      task.datasets.train_data.create_tf_dataset_for_client('meter_a'))
  assert windows == _expected(100, range(_WINDOW, 10))


def test_test_windows_forecast_test_readings_from_recent_history(task):
  assert task.datasets.test_data.client_ids == ['flat', 'gappy', 'meter_a',
                                                'meter_b', 'short']
  windows = _windows(
      task.datasets.test_data.create_tf_dataset_for_client('meter_a'))
  assert windows == _expected(100, [10, 11])
  windows = _windows(
      task.datasets.test_data.create_tf_dataset_for_client('short'))
  assert windows == _expected(300, [4])


def test_pooled_evaluation_never_mixes_clients(task):
  # Pooling chosen clients goes through the tensor-keyed dataset function.
  x, y = next(iter(evaluation.pooled_test_dataset(task, ['short', 'meter_b'])))
  assert x.shape == (3, _WINDOW, 2) and y.shape == (3, 4, 2)
  assert x.dtype == y.dtype == tf.float32
  got = sorted(zip(*_raw(x.numpy(), y.numpy())))
  assert got == sorted(_expected(200, [8, 9]) + _expected(300, [4]))


def test_scaled_by_train_readings_only(task):
  x, y = next(iter(task.datasets.test_data.create_tf_dataset_for_client(
      'meter_b')))
  # meter_b's 8 train readings are 200..207: mean 203.5, std sqrt(5.25).
  np.testing.assert_allclose(y[forecaster.CENTER], [203.5, -203.5])
  np.testing.assert_allclose(y[forecaster.SCALE], [5.25**0.5] * 2, rtol=1e-6)
  np.testing.assert_allclose(x[:, 0], (np.arange(204, 208) - 203.5) /
                             5.25**0.5, rtol=1e-5)
  # The model forecasts the change from the last reading, given in y.
  np.testing.assert_allclose(y[forecaster.BASE], x[-1])


def test_windows_never_span_a_gap(task):
  # 'gappy' trains on t = 0..4, 54..57: only 0..3 -> 4 has no gap in it;
  # its test targets 58 and 59 follow four gap-free readings each.
  windows = _windows(
      task.datasets.train_data.create_tf_dataset_for_client('gappy'))
  assert [target for _, target in windows] == [[4.0, -4.0]]
  windows = _windows(
      task.datasets.test_data.create_tf_dataset_for_client('gappy'))
  assert [target for _, target in windows] == [[58.0, -58.0], [59.0, -59.0]]


def test_constant_train_split_is_centred_not_divided(task):
  x, y = next(iter(task.datasets.test_data.create_tf_dataset_for_client(
      'flat')))
  np.testing.assert_allclose(y[forecaster.SCALE], [1.0, 1.0])
  np.testing.assert_allclose(y[forecaster.CENTER], [7.0, 1.0])
  assert np.isfinite(x).all()
  _, y = next(iter(task.datasets.eval_preprocess_fn(
      task.datasets.test_data.create_tf_dataset_for_client('flat'))))
  # Forecasting "no change" misses 7 -> 9 by 2 standard (= own) units.
  loss = task.loss_fn()(y, tf.zeros([2, 2]))
  assert float(loss) == pytest.approx((2**2 / 2 + 0) / 2)


def test_naive_baselines_on_the_same_windows(task):
  results = forecast_baselines.evaluate_baselines(task, seasons=[2])
  # Every client's reading rises by 1 per step (flat: 9 after 7, 9), so the
  # naive forecast misses by 1 on the moving column and 0 on the other.
  # Test targets: meter_a 2, meter_b 2, short 1, gappy 2 (each off by 1 in
  # both columns) and flat 2 (7 -> 9: off by 2; then 9 -> 9: 0).
  errors = [1] * 7 * 2 + [2, 0, 0, 0]
  assert results['naive']['mean_absolute_error'] == pytest.approx(
      np.mean(errors))
  assert results['naive']['root_mean_squared_error'] == pytest.approx(
      np.sqrt(np.mean(np.square(errors))))
  assert results['seasonal_naive_2']['mean_absolute_error'] > results[
      'naive']['mean_absolute_error']
  with pytest.raises(ValueError, match='window of at least 5'):
    forecast_baselines.evaluate_baselines(task, seasons=[5])


def test_clients_without_a_window_are_named(database, caplog):
  with caplog.at_level(logging.WARNING):
    timeseries_forecast.create_task(_SPEC, database_path=database, window=8)
  # Train: 8 readings and a target need 9 gap-free train readings.
  assert 'in train, and are left out of it: flat, gappy, meter_b, short' in (
      caplog.text)
  assert 'in test, and are left out of it: gappy, short' in caplog.text


def test_batches_model_and_keras_loss(task):
  x, y = next(iter(task.datasets.train_preprocess_fn(
      task.datasets.train_data.create_tf_dataset_for_client('meter_a'))))
  assert x.shape == (4, _WINDOW, 2) and y.shape == (4, 4, 2)
  model = task.compiled_keras_model()
  assert model.output_shape == (None, 2)
  history = model.fit(x, y, verbose=0)
  assert np.isfinite(history.history['loss'][0])
  values = model.evaluate(x, y, verbose=0, return_dict=True)
  assert sorted(values) == ['loss', 'mean_absolute_error',
                            'root_mean_squared_error']
  assert isinstance(task.model_fn(), tff.learning.models.VariableModel)


def test_sequence_length_is_the_window(database):
  task = timeseries_forecast.create_task(_SPEC, database_path=database,
                                         sequence_length=3)
  assert task.datasets.element_type_structure[0].shape.as_list() == [
      None, 3, 2]
  with pytest.raises(ValueError, match='disagree'):
    timeseries_forecast.create_task(_SPEC, database_path=database, window=2,
                                    sequence_length=3)


def test_bad_settings(database):
  with pytest.raises(ValueError, match='the longest has 10.*lower --window'):
    timeseries_forecast.create_task(_SPEC, database_path=database, window=10)
  with pytest.raises(ValueError, match='--series=gait and --database_path'):
    timeseries_forecast.create_task(_SPEC, database_path=database,
                                    series='gait')
  with pytest.raises(ValueError, match='embedding_dim'):
    timeseries_forecast.create_task(
        _SPEC, database_path=database,
        model_config=model_config.ModelConfig(embedding_dim=4))


def test_default_is_the_stock_prices(tmp_path):
  task = timeseries_forecast.create_task(_SPEC, model_config=_TINY,
                                         cache_dir=str(tmp_path))
  assert (tmp_path / 'stocks_timeseries.sqlite').is_file()
  assert task.datasets.train_data.client_ids == [
      'AAPL', 'AMZN', 'GOOG', 'IBM', 'MSFT']


def test_one_federated_round(federated_runtime, task):
  process = learning_process.build_learning_process(
      task,
      fedavg.Config(optimizers.OptimizerConfig(learning_rate=0.01)))
  state = process.initialize()
  before = process.get_model_weights(state).trainable
  clients = [task.datasets.train_preprocess_fn(
      task.datasets.train_data.create_tf_dataset_for_client(c))
             for c in task.datasets.train_data.client_ids]
  result = process.next(state, clients)
  after = process.get_model_weights(result.state).trainable
  train = result.metrics['client_work']['train']
  assert np.isfinite(train['loss'])
  assert train['num_examples'] == 6 + 4 + 4 + 1  # meter_a, _b, flat, gappy
  assert any(not np.allclose(b, a) for b, a in zip(before, after))


def test_vectorized_cohort_matches_sequential(task,
                                             assert_cohort_matches_sequential):
  """A float-input LSTM forecaster with the scaled squared error: meter_a's
  6 windows end in a short batch of 2."""
  clients = [task.datasets.train_preprocess_fn(
      task.datasets.train_data.create_tf_dataset_for_client(c))
             for c in task.datasets.train_data.client_ids]
  _, metrics = assert_cohort_matches_sequential(
      task, clients, fedavg.Config(optimizers.OptimizerConfig(
          learning_rate=0.001)), batch_size=4)
  assert metrics[0]['client_work/train/num_examples'] == 6 + 4 + 4 + 1
