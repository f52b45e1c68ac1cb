"""Forecasting the next reading of your own time series (a `timeseries` import).

An example is `window` consecutive readings of one client and the reading that
follows them. Windows are cut from each client's own readings when its
dataset is created, not by the preprocess function, because evaluation pools
the test clients into one dataset before preprocessing; cut there, windows
would span two clients. A window never spans a gap in a client's readings,
and each client's readings are standardized by its own train statistics
(both in `series_stats`); the model maps its forecast back to the data's own
units (`forecaster`), so MAE and RMSE are in those units.

An example is `(x, y)`: x = [window, k] readings standardized by the
client's train mean (center) and spread (scale), y = [4, k]: the target
reading in the data's own units, the center, the scale and x's last reading
(the model forecasts the change from it; see `forecaster`).

A test example is a test reading forecast from the `window` readings before
it, which may include the client's last train readings: the past is known,
only the targets are held out. So a client with a single test reading still
gives a test example. Clients with no complete, gap-free window in a split are
left out of it (and named in the log); a window longer than every client's
train series is refused.

Without --database_path the task trains on real data out of the box: by
default monthly prices of five stocks, 2000-2010, one client per symbol;
--series picks another built-in set (`public_series.SERIES`).
"""

import json
from typing import Optional

import numpy as np
import tensorflow as tf
import tensorflow_federated as tff

from tff_lstm.data import public_series
from tff_lstm.data import user_import
from tff_lstm.models import forecaster
from tff_lstm.tasks import client_specs
from tff_lstm.tasks import data_identity
from tff_lstm.tasks import model_config as model_config_lib
from tff_lstm.tasks import seeded_shuffle
from tff_lstm.tasks import series_stats
from tff_lstm.tasks import task as task_lib
from tff_lstm.tasks import user_data

DEFAULT_WINDOW = 8
DEFAULT_SHUFFLE_BUFFER_SIZE = 100


def _windows(readings: tf.data.Dataset, window: int) -> tf.data.Dataset:
  """Readings -> (values [window + 1, k], timestamps [window + 1]), in order."""

  def stack(parts):
    return tf.data.Dataset.zip((
        parts['values'].batch(window + 1, drop_remainder=True),
        parts['timestamp'].batch(window + 1, drop_remainder=True)))

  return readings.window(window + 1, shift=1, drop_remainder=True).flat_map(
      stack)


def window_client_data(
    train_data: tff.simulation.datasets.ClientData,
    test_data: tff.simulation.datasets.ClientData,
    window: int,
    train_ids: list[str],
    test_ids: list[str],
    series: Optional[dict[str, series_stats.ClientSeries]] = None,
):
  """(train, test) ClientData of (x, y) windows, each within one client.

  `series`: each client's scaling and step (`series_stats.read_series`);
  without it (or for a client it lacks) readings are unscaled and any
  spacing is allowed.
  """
  series = series or {}
  ids = sorted(series)
  num_features = train_data.element_type_structure['values'].shape[0]
  centers = np.asarray([series[c].center for c in ids] or
                       np.zeros((0, num_features)), np.float32)
  scales = np.asarray([series[c].scale for c in ids] or
                      np.ones((0, num_features)), np.float32)
  max_steps = np.asarray([series[c].max_step for c in ids], np.float64)

  def client_constants(client_id):
    """(center [k], scale [k], largest gap-free step) of `client_id`."""
    if not ids:
      return (tf.zeros([num_features]), tf.ones([num_features]),
              tf.constant(np.inf, tf.float64))
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(ids), tf.range(len(ids), dtype=tf.int64)), -1)
    index = table.lookup(tf.convert_to_tensor(client_id, tf.string))
    found = index >= 0
    index = tf.maximum(index, 0)
    return (tf.where(found, tf.gather(centers, index), 0.0),
            tf.where(found, tf.gather(scales, index), 1.0),
            tf.where(found, tf.gather(max_steps, index), np.inf))

  def windows_of(client_id, readings):
    center, scale, max_step = client_constants(client_id)

    def no_gap(unused_values, timestamps):
      steps = tf.cast(timestamps[1:] - timestamps[:-1], tf.float64)
      return tf.reduce_all(steps <= max_step)

    def split(values, unused_timestamps):
      x = (values[:window] - center) / scale
      return x, forecaster.pack_target(values[window], center, scale, x[-1])

    return _windows(readings, window).filter(no_gap), split

  def train_windows(client_id):
    readings = train_data.serializable_dataset_fn(client_id)
    windows, split = windows_of(client_id, readings)
    return windows.map(split)

  def test_windows(client_id):
    test = test_data.serializable_dataset_fn(client_id)
    # Test readings are the client's latest, so a target is a test reading
    # exactly when it is no earlier than the first of them.
    first_test = test.map(lambda e: e['timestamp']).reduce(
        tf.constant(tf.int64.max, tf.int64), tf.minimum)
    history = train_data.serializable_dataset_fn(client_id).concatenate(test)
    windows, split = windows_of(client_id, history)
    return windows.filter(
        lambda unused_values, timestamps: timestamps[window] >= first_test
    ).map(split)

  from_fn = tff.simulation.datasets.ClientData.from_clients_and_tf_fn
  return from_fn(train_ids, train_windows), from_fn(test_ids, test_windows)


def create_preprocess_fn(spec: tff.simulation.baselines.ClientSpec):
  """Shuffles, repeats and caps a client's windows, then batches them."""

  def preprocess(dataset: tf.data.Dataset) -> tf.data.Dataset:
    dataset = client_specs.shuffle_repeat_take(dataset, spec,
                                               DEFAULT_SHUFFLE_BUFFER_SIZE)
    return dataset.batch(spec.batch_size)

  return preprocess


def create_task(
    train_client_spec: tff.simulation.baselines.ClientSpec,
    eval_client_spec: Optional[tff.simulation.baselines.ClientSpec] = None,
    *,
    database_path: Optional[str] = None,
    series: Optional[str] = None,
    window: Optional[int] = None,
    sequence_length: Optional[int] = None,
    model_config: model_config_lib.ModelConfig = model_config_lib.ModelConfig(),
    cache_dir: Optional[str] = None,
) -> task_lib.Task:
  """The task: windows of your readings and a recurrent forecaster.

  Args:
    train_client_spec: batch size, epochs, shuffling, max elements (all in
      windows) for training.
    eval_client_spec: the same for evaluation (default: batch 64, one epoch).
    database_path: a database imported with shape `timeseries`; default
      the built-in set `series`, built in `cache_dir`.
    series: a built-in set (`public_series.SERIES`: stocks, glucose, gait);
      default stocks; not with `database_path`.
    window: readings the model sees before forecasting the next one
      (default 8).
    sequence_length: another name for `window` (the shared flag); must agree
      with `window` if both are given.
    model_config: cell type and sizes (default: one layer of 64 units); there
      is no embedding, so `embedding_dim` must be unset.
    cache_dir: where the default database is built (see `paths`); unused
      with `database_path`.
  """
  if None not in (window, sequence_length) and window != sequence_length:
    raise ValueError(f'window={window} and sequence_length={sequence_length} '
                     'disagree; they are the same setting, give one.')
  if window is None:
    window = DEFAULT_WINDOW if sequence_length is None else sequence_length
  if window < 1:
    raise ValueError(f'window must be >= 1, got {window}.')
  if model_config.embedding_dim is not None:
    raise ValueError('timeseries_forecast reads numbers, not token ids: it '
                     'has no embedding, so leave embedding_dim unset.')
  if database_path is not None and series is not None:
    raise ValueError(f'--series={series} and --database_path both name the '
                     'data; give one.')
  if database_path is None:
    database_path = public_series.ensure_database(series or 'stocks',
                                                  cache_dir)
  path, metadata = user_data.check_database(database_path, 'timeseries',
                                            'timeseries_forecast')
  stats = series_stats.read_series(path)
  longest = max((len(c.train_timestamps) for c in stats.values()), default=0)
  if longest <= window:
    raise ValueError(
        f'--window={window}: no client of {path} has more than {window} '
        f'train readings (the longest has {longest}), so none has a window '
        'to train on; lower --window or import longer series.')
  train_ids = series_stats.usable_clients(stats, window, 'train')
  test_ids = series_stats.usable_clients(stats, window, 'test')
  if not train_ids:
    raise ValueError(
        f'--window={window}: every client of {path} has a gap within each '
        f'{window + 1} consecutive train readings, so none has a window to '
        'train on; lower --window.')
  series_stats.warn_constant(stats, train_ids)
  train_data, test_data = window_client_data(
      *user_import.load_client_data(path), window, train_ids, test_ids, stats)
  num_features = len(json.loads(metadata['value_names']))
  datasets = client_specs.task_datasets(
      train_data, test_data, create_preprocess_fn, train_client_spec,
      eval_client_spec)
  return task_lib.Task(
      name='timeseries_forecast',
      datasets=datasets,
      keras_model_fn=lambda: forecaster.build_forecaster(
          num_features, window,
          units=model_config.pick('units', 64),
          num_layers=model_config.pick('num_layers', 1),
          cell_type=model_config.cell_type,
          seed=model_config.seed),
      loss_fn=forecaster.ScaledMeanSquaredError,
      metrics_fns=[forecaster.MeanAbsoluteError,
                   forecaster.RootMeanSquaredError],
      data_identity=data_identity.of_database(path),
      seeded_train_preprocess_fn=seeded_shuffle.build(
          train_client_spec, DEFAULT_SHUFFLE_BUFFER_SIZE,
          create_preprocess_fn))
