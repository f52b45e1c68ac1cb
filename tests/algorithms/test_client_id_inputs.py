"""A process fed client ids trains exactly as the same process fed datasets."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_federated as tff

from tff_lstm.algorithms import client_id_inputs
from tff_lstm.algorithms import learning_process
from tff_lstm.algorithms import vectorized_cohort
from tff_lstm.tasks import model_config
from tff_lstm.tasks import shakespeare_char

_BATCH = 4


@pytest.fixture(scope='module')
def task(macbeth_client_data):
  spec = tff.simulation.baselines.ClientSpec(
      num_epochs=1, batch_size=_BATCH, max_elements=6,
      shuffle_buffer_size=1)  # no shuffling: both inputs give the same batches
  return shakespeare_char.create_task(
      spec, sequence_length=12, client_data=macbeth_client_data,
      model_config=model_config.ModelConfig(units=8, num_layers=1, seed=3))


@pytest.mark.parametrize('parallelism', ['sequential', 'vectorized'])
def test_ids_give_the_same_round_as_datasets(task, parallelism,
                                             federated_runtime):
  del federated_runtime
  process = learning_process.build_learning_process(
      task,
      client_parallelism=parallelism,
      client_batch_size=_BATCH)
  by_ids = client_id_inputs.compose(process, task.datasets.train_data,
                                    task.datasets.train_preprocess_fn)
  assert client_id_inputs.takes_indexed_clients(process) == (
      parallelism == 'vectorized')
  ids = sorted(task.datasets.train_data.client_ids)[:3]
  datasets = [task.datasets.train_preprocess_fn(
      task.datasets.train_data.create_tf_dataset_for_client(i)) for i in ids]
  if parallelism == 'vectorized':
    datasets = vectorized_cohort.indexed_client_data(datasets)

  state = process.initialize()
  expected = process.next(state, datasets)
  got = by_ids.next(state, client_id_inputs.round_inputs(by_ids, ids))

  for e, g in zip(process.get_model_weights(expected.state).trainable,
                  by_ids.get_model_weights(got.state).trainable):
    np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-7)
  e_train = expected.metrics['client_work']['train']
  g_train = got.metrics['client_work']['train']
  assert g_train['num_examples'] == e_train['num_examples'] > 0
  # The weights moved: the round trained on real data, not on nothing.
  initial = process.get_model_weights(state).trainable
  assert any(not np.allclose(i, g) for i, g in zip(
      initial, by_ids.get_model_weights(got.state).trainable))


def test_round_inputs_match_the_process(task):
  ids = ['a', 'b']
  sequential = client_id_inputs.compose(
      learning_process.build_learning_process(task),
      task.datasets.train_data, task.datasets.train_preprocess_fn)
  assert client_id_inputs.round_inputs(sequential, ids) == ids
  assert client_id_inputs.round_inputs(sequential, ids, [5, 6]) == [
      ('a', 5), ('b', 6)]
  vectorized = client_id_inputs.compose(
      learning_process.build_learning_process(
          task, client_parallelism='vectorized', client_batch_size=_BATCH),
      task.datasets.train_data, task.datasets.train_preprocess_fn)
  assert client_id_inputs.round_inputs(vectorized, ids) == [(0, 'a'),
                                                            (1, 'b')]
  assert client_id_inputs.round_inputs(vectorized, ids, [5, 6]) == [
      (0, 'a', 5), (1, 'b', 6)]
  with pytest.raises(ValueError, match='2 clients, 1 seeds'):
    client_id_inputs.round_inputs(vectorized, ids, [5])


@pytest.fixture(scope='module')
def shuffled_task(macbeth_client_data):
  spec = tff.simulation.baselines.ClientSpec(
      num_epochs=1, batch_size=_BATCH, max_elements=6)  # TFF's shuffle buffer
  return shakespeare_char.create_task(
      spec, sequence_length=12, client_data=macbeth_client_data,
      model_config=model_config.ModelConfig(units=8, num_layers=1, seed=3))


@pytest.mark.parametrize('parallelism', ['sequential', 'vectorized'])
def test_seeded_ids_train_on_the_seeds_shuffles(shuffled_task, parallelism,
                                                federated_runtime):
  """A client's seed reaches its shuffle inside the worker: the round equals
  the round on datasets shuffled with those seeds in Python, and other seeds
  give another round."""
  del federated_runtime
  task = shuffled_task
  process = learning_process.build_learning_process(
      task, client_parallelism=parallelism, client_batch_size=_BATCH)
  by_ids = client_id_inputs.compose(process, task.datasets.train_data,
                                    task.datasets.train_preprocess_fn,
                                    task.seeded_train_preprocess_fn)
  train = task.datasets.train_data
  ids = sorted(train.client_ids, key=lambda c: -len(list(
      train.create_tf_dataset_for_client(c))))[:3]  # long: orders can differ
  seeds = [11, 12, 13]
  # tf.data pairs a shuffle seed with the global seed, which the worker's
  # graphs do not have; the model's construction set one here.
  tf.random.set_seed(None)
  datasets = [task.seeded_train_preprocess_fn(
      train.create_tf_dataset_for_client(c), tf.constant(s, tf.int64))
              for c, s in zip(ids, seeds)]
  if parallelism == 'vectorized':
    datasets = vectorized_cohort.indexed_client_data(datasets)
  state = process.initialize()

  def weights(output):
    return by_ids.get_model_weights(output.state).trainable

  expected = process.next(state, datasets)
  got = by_ids.next(state, client_id_inputs.round_inputs(by_ids, ids, seeds))
  other = by_ids.next(state, client_id_inputs.round_inputs(
      by_ids, ids, [21, 22, 23]))

  for e, g in zip(weights(expected), weights(got)):
    np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-7)
  assert any(not np.allclose(g, o) for g, o in zip(weights(got),
                                                   weights(other)))
