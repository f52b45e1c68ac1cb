"""SCAFFOLD: control variates as the paper defines them, on both paths."""

import numpy as np
import pytest
import tensorflow_federated as tff

from tff_lstm.aggregation import config as aggregation_config
from tff_lstm.algorithms import learning_process
from tff_lstm.algorithms import scaffold
from tff_lstm.algorithms import vectorized_cohort
from tff_lstm.tasks import model_config
from tff_lstm.tasks import shakespeare_char

_BATCH = 4
_LR = 0.5


def _task(client_data, cell_type='lstm'):
  spec = tff.simulation.baselines.ClientSpec(
      num_epochs=1, batch_size=_BATCH, shuffle_buffer_size=1)
  return shakespeare_char.create_task(
      spec, sequence_length=12, client_data=client_data,
      model_config=model_config.ModelConfig(cell_type=cell_type, units=8,
                                            num_layers=1, seed=5))


def _cohort(task, sizes):
  train = task.datasets.train_data
  return [task.datasets.train_preprocess_fn(
      train.create_tf_dataset_for_client(cid).take(size))
          for size, cid in zip(sizes, sorted(train.client_ids))]


def _run(task, parallelism, data, rounds):
  """Rounds over the same clients, carrying their states as the loop does."""
  process = learning_process.build_learning_process(
      task, scaffold.Config(client_learning_rate=_LR),
      client_parallelism=parallelism, client_batch_size=_BATCH)
  states = [[np.zeros(s.shape, np.float32) for s in process.client_state_specs]
            for _ in data]
  state, history = process.initialize(), []
  for _ in range(rounds):
    out = process.next(state, vectorized_cohort.indexed_client_data(
        data, states))
    state = out.state
    positions, new = out.metrics['client_work'].pop('client_states')
    for k, position in enumerate(positions):
      states[position] = [t[k] for t in new]
    history.append(out.metrics)
  return process, state, states, history


# The fused LSTM and a plain recurrence of the cohort (the other cells' paths
# are covered under FedAvg in test_vectorized_cohort.py).
@pytest.mark.parametrize('cell_type', ['lstm', 'simple_rnn'])
def test_vectorized_matches_sequential(federated_runtime, macbeth_client_data,
                                       cell_type):
  task = _task(macbeth_client_data, cell_type)
  data = _cohort(task, [9, 1, 13, 0, 2, 6])
  seq = _run(task, 'sequential', data, 3)
  vec = _run(task, 'vectorized', data, 3)
  for s, v in zip(seq[0].get_model_weights(seq[1]).trainable,
                  vec[0].get_model_weights(vec[1]).trainable):
    np.testing.assert_allclose(v, s, atol=2e-5)
  for s, v in zip(seq[1].client_work, vec[1].client_work):
    np.testing.assert_allclose(v, s, atol=1e-6)
  for seq_client, vec_client in zip(seq[2], vec[2]):
    for s, v in zip(seq_client, vec_client):
      np.testing.assert_allclose(v, s, atol=1e-5)
  for s, v in zip(seq[3], vec[3]):
    s_train, v_train = s['client_work']['train'], v['client_work']['train']
    assert v_train.keys() == s_train.keys()
    for name in s_train:
      np.testing.assert_allclose(v_train[name], s_train[name], rtol=1e-5)


def test_control_variates_follow_the_paper(federated_runtime,
                                           macbeth_client_data):
  """Round 1 (all c = 0): c_i+ = (x - y_i) / (K_i lr), the client's mean
  gradient along its path; the server's c = |S|/N * mean_i(c_i+). A client
  without data keeps c_i = 0. Round 2 uses c - c_i: clients move otherwise
  than plain SGD would."""
  task = _task(macbeth_client_data)
  data = _cohort(task, [5, 0, 3])
  steps = [sum(1 for _ in ds) for ds in data]
  process, state, states, _ = _run(task, 'vectorized', data, 1)
  population = len(task.datasets.train_data.client_ids)
  x = process.get_model_weights(process.initialize()).trainable
  assert not any(np.any(c) for c in states[1])          # no data, no change
  for w, c_server in enumerate(state.client_work):
    mean = np.mean([client[w] for client in states], axis=0)
    np.testing.assert_allclose(c_server, 3 / population * mean, atol=1e-7)
  # With server SGD at lr 1 and one client, the new model is its y, so
  # c_1+ = (x - y) / (K lr) can be checked against the weights themselves.
  one_process, one_state, one_states, _ = _run(task, 'vectorized', data[:1], 1)
  y = one_process.get_model_weights(one_state).trainable
  for w in range(len(x)):
    np.testing.assert_allclose(one_states[0][w],
                               (x[w] - y[w]) / (steps[0] * _LR), atol=1e-5)
  assert np.any(one_states[0][0])


def test_refuses_what_it_cannot_combine(macbeth_client_data):
  task = _task(macbeth_client_data)
  aggregator = aggregation_config.build_aggregator(
      aggregation_config.AggregationConfig(
          dp_mechanism='gaussian_fixed', dp_noise_multiplier=0.5,
          dp_clip=0.1), 3, 'uniform')
  with pytest.raises(ValueError, match='control-variate'):
    learning_process.build_learning_process(
        task, scaffold.Config(), client_weighting='uniform',
        model_aggregator=aggregator)
  with pytest.raises(ValueError, match='learning rate must be > 0'):
    scaffold.Config(client_learning_rate=0.0)
