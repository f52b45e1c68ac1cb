"""Seeded training preprocessing: the task's pipeline, its order a seed's."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_federated as tff

from tff_lstm.data import user_import
from tff_lstm.tasks import model_config
from tff_lstm.tasks import registry
from tff_lstm.tasks import seeded_shuffle
from tff_lstm.tasks import shakespeare_char

_TINY = model_config.ModelConfig(units=8, num_layers=1, seed=0)


def _spec(**kwargs):
  return tff.simulation.baselines.ClientSpec(batch_size=4, **kwargs)


def _batches(dataset):
  return [tuple(np.asarray(t).tolist() for t in batch)
          for batch in dataset.as_numpy_iterator()]


def _rows(dataset):
  """Every example, sorted: the multiset, whatever the order."""
  rows = []
  for x, y in dataset.as_numpy_iterator():
    rows += [repr((a.tolist(), b.tolist())) for a, b in zip(x, y)]
  return sorted(rows)


@pytest.fixture(scope='module')
def macbeth_client(macbeth_client_data):
  train = macbeth_client_data[0]
  # The client with the most speeches, so that orders can differ.
  client_id = max(train.client_ids, key=lambda c: len(list(
      train.create_tf_dataset_for_client(c))))
  return train.create_tf_dataset_for_client(client_id)


@pytest.fixture(scope='module')
def meters_database(tmp_path_factory):
  tmp = tmp_path_factory.mktemp('meters')
  lines = ['client_id,timestamp,kwh'] + [
      f'm{c},{t},{100 * c + t}' for c in range(2) for t in range(40)]
  (tmp / 'meters.csv').write_text('\n'.join(lines) + '\n')
  path = str(tmp / 'meters.sqlite')
  user_import.import_file(str(tmp / 'meters.csv'), path, 'timeseries')
  return path


def _shakespeare(spec, macbeth_client_data):
  return shakespeare_char.create_task(
      spec, sequence_length=20, client_data=macbeth_client_data,
      model_config=_TINY)


def _timeseries(spec, database):
  return registry.create_task('timeseries_forecast', spec, model_config=_TINY,
                              database_path=database, window=4)


def test_one_seed_one_order_and_other_seeds_other_orders(macbeth_client_data,
                                                          macbeth_client):
  """TFF's character preprocessing, seeded: epochs differ from each other,
  the same seed repeats them exactly, another seed gives other batches."""
  task = _shakespeare(_spec(num_epochs=2), macbeth_client_data)
  seeded = task.seeded_train_preprocess_fn
  assert seeded.shuffle_buffer_size == 50  # TFF's Shakespeare default
  first = _batches(seeded(macbeth_client, tf.constant(7, tf.int64)))
  assert first == _batches(seeded(macbeth_client, tf.constant(7, tf.int64)))
  assert first != _batches(seeded(macbeth_client, tf.constant(8, tf.int64)))
  half = len(first) // 2
  assert first[:half] != first[half:2 * half]  # each epoch reshuffled


def test_the_same_examples_as_the_tasks_own_preprocessing(
    macbeth_client_data, macbeth_client, meters_database):
  """Seeding changes the order only: the examples are those TFF's (and our)
  unseeded preprocessing makes, and without shuffling the very batches."""
  for build, data in ((_shakespeare, macbeth_client_data),
                      (_timeseries, meters_database)):
    task = build(_spec(num_epochs=2), data)
    client = (macbeth_client if build is _shakespeare else
              task.datasets.train_data.create_tf_dataset_for_client('m1'))
    seeded = task.seeded_train_preprocess_fn(client, tf.constant(3, tf.int64))
    assert _rows(seeded) == _rows(task.datasets.train_preprocess_fn(client))
    unshuffled = build(_spec(num_epochs=2, shuffle_buffer_size=1), data)
    assert unshuffled.seeded_train_preprocess_fn.shuffle_buffer_size == 1
    assert _batches(unshuffled.seeded_train_preprocess_fn(
        client, tf.constant(3, tf.int64))) == _batches(
            unshuffled.datasets.train_preprocess_fn(client))


def test_the_cap_takes_seeded_examples(meters_database):
  """max_elements counts after the shuffle, as TFF's: which windows a capped
  client trains on is the seed's choice, the same for the same seed."""
  task = _timeseries(_spec(num_epochs=1, max_elements=4), meters_database)
  client = task.datasets.train_data.create_tf_dataset_for_client('m0')
  picks = {tuple(map(tuple, _rows(task.seeded_train_preprocess_fn(
      client, tf.constant(s, tf.int64))))) for s in range(4)}
  assert len(picks) > 1
  assert all(len(p) == 4 for p in picks)


def test_build_keeps_the_specs_other_settings():
  built = []
  spec = _spec(num_epochs=3, max_elements=5)
  result = seeded_shuffle.build(spec, 17, lambda s: built.append(s) or (
      lambda d: d))
  assert result.shuffle_buffer_size == 17
  (unshuffled,) = built
  assert (unshuffled.num_epochs, unshuffled.batch_size,
          unshuffled.max_elements, unshuffled.shuffle_buffer_size) == (
              3, 4, 5, 1)
