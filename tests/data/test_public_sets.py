"""The stock prices from the vega-datasets wheel: built offline, stable."""

import hashlib
import os
import sqlite3

import numpy as np
import pytest

from tff_lstm.data import public_sets
from tff_lstm.data import sql_writer
from tff_lstm.data import user_import

_SYMBOLS = ['AAPL', 'AMZN', 'GOOG', 'IBM', 'MSFT']
_JAN_2000 = 946684800  # 2000-01-01T00:00:00Z.


def _sha256(path):
  with open(path, 'rb') as f:
    return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture(scope='module')
def cache_dir(tmp_path_factory):
  return str(tmp_path_factory.mktemp('stocks_cache'))


@pytest.fixture(scope='module')
def database(cache_dir):
  return public_sets.ensure_stocks_database(cache_dir)


def test_dates_convert_without_the_locale():
  data = b'symbol,date,price\nIBM,Feb 1 2000,100.25\nIBM,Dec 31 2009,1\n'
  assert public_sets.stocks_timeseries_csv(data) == (
      b'client_id,timestamp,price\nIBM,2000-02-01,100.25\n'
      b'IBM,2009-12-31,1\n')


def test_five_clients_with_train_and_test(database, cache_dir):
  assert database == os.path.join(cache_dir, 'stocks_timeseries.sqlite')
  info = user_import.read_metadata(database)
  assert info['shape'] == 'timeseries'
  assert info['value_names'] == '["price"]'
  with sqlite3.connect(database) as con:
    counts = dict(((c, s), n) for c, s, n in con.execute(
        'SELECT client_id, split_name, num_examples FROM client_metadata'))
  # 123 months (Jan 2000 - Mar 2010); GOOG starts in Aug 2004 (68 months).
  assert counts == {
      **{(c, 'train'): 99 for c in _SYMBOLS if c != 'GOOG'},
      **{(c, 'test'): 24 for c in _SYMBOLS if c != 'GOOG'},
      ('GOOG', 'train'): 55, ('GOOG', 'test'): 13}


def test_readings_are_monthly_float_prices(database):
  train, test = user_import.load_client_data(database)
  assert sorted(train.client_ids) == sorted(test.client_ids) == _SYMBOLS
  readings = list(train.create_tf_dataset_for_client('MSFT').as_numpy_iterator())
  assert readings[0]['timestamp'] == _JAN_2000
  assert readings[0]['values'].dtype == np.float32
  np.testing.assert_allclose(readings[0]['values'], [39.81], rtol=1e-6)
  times = [r['timestamp'] for r in readings]
  assert times == sorted(times)
  last_train = times[-1]
  first_test = next(iter(test.create_tf_dataset_for_client('MSFT')))
  assert int(first_test['timestamp']) > last_train


def test_rebuild_is_a_no_op_and_deterministic(database, cache_dir):
  digest, mtime = _sha256(database), os.stat(database).st_mtime_ns
  assert public_sets.ensure_stocks_database(cache_dir) == database
  assert os.stat(database).st_mtime_ns == mtime  # Not rewritten.
  public_sets.ensure_stocks_database(cache_dir, force=True)
  assert _sha256(database) == digest


def test_foreign_file_is_never_replaced(tmp_path):
  (tmp_path / 'stocks_timeseries.sqlite').write_text('mine')
  with pytest.raises(sql_writer.ForeignDatabaseError):
    public_sets.ensure_stocks_database(str(tmp_path))
  assert (tmp_path / 'stocks_timeseries.sqlite').read_text() == 'mine'


def test_timeseries_forecast_defaults_to_the_stocks(database, cache_dir):
  import tensorflow_federated as tff  # pylint: disable=g-import-not-at-top
  from tff_lstm.tasks import model_config  # pylint: disable=g-import-not-at-top
  from tff_lstm.tasks import registry  # pylint: disable=g-import-not-at-top
  spec = tff.simulation.baselines.ClientSpec(num_epochs=1, batch_size=8)
  task = registry.create_task('timeseries_forecast', spec,
                              model_config=model_config.ModelConfig(
                                  units=4, seed=1),
                              cache_dir=cache_dir)
  assert task.datasets.train_data.client_ids == _SYMBOLS
  x, y = next(iter(task.datasets.train_preprocess_fn(
      task.datasets.train_data.create_tf_dataset_for_client('IBM'))))
  assert x.shape == (8, 8, 1) and y.shape == (8, 4, 1)
  loss = task.compiled_keras_model().evaluate(x, y, verbose=0,
                                              return_dict=True)['loss']
  assert np.isfinite(loss)
