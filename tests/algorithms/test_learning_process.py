"""The LearningProcesses our flags build: weighting, optimizers, algorithms."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_federated as tff

from tff_lstm.algorithms import fedavg
from tff_lstm.algorithms import fedprox
from tff_lstm.algorithms import fedsgd
from tff_lstm.algorithms import learning_process
from tff_lstm.algorithms import mime_lite
from tff_lstm.algorithms import optimizers
from tff_lstm.algorithms import schedules
from tff_lstm.tasks import model_config
from tff_lstm.tasks import shakespeare_char

# No shuffling: each client's local update is deterministic.
_SPEC = tff.simulation.baselines.ClientSpec(
    num_epochs=1, batch_size=2, max_elements=6, shuffle_buffer_size=1)


@pytest.fixture(scope='module')
def task(macbeth_client_data):
  return shakespeare_char.create_task(
      _SPEC, sequence_length=10, client_data=macbeth_client_data,
      model_config=model_config.ModelConfig(units=4, num_layers=1, seed=7))


def _client_datasets(task, client_ids):
  return [task.datasets.train_preprocess_fn(
      task.datasets.train_data.create_tf_dataset_for_client(c))
          for c in client_ids]


_CLIENT_SGD = optimizers.OptimizerConfig(learning_rate=0.3)


def _one_round(task, data, algorithm=None, **kwargs):
  process = learning_process.build_learning_process(
      task, algorithm or fedavg.Config(_CLIENT_SGD), **kwargs)
  result = process.next(process.initialize(), data)
  return process.get_model_weights(result.state).trainable, result.metrics


def _two_clients_of_unequal_size(task):
  """A client with few examples and one with many (after preprocessing)."""
  sizes = {}
  for cid in sorted(task.datasets.train_data.client_ids):
    n = sum(int(x.shape[0]) for x, _ in _client_datasets(task, [cid])[0])
    sizes.setdefault(n, cid)
  small, large = min(sizes), max(sizes)
  assert small < large
  return sizes[small], sizes[large]


def test_weighted_and_uniform_means_match_hand_computation(
    federated_runtime, task):
  small_id, large_id = _two_clients_of_unequal_size(task)
  processes = {weighting: learning_process.build_learning_process(
      task, fedavg.Config(_CLIENT_SGD), client_weighting=weighting)
               for weighting in ('num_examples', 'uniform')}

  def one_round(weighting, client_ids):
    process = processes[weighting]
    result = process.next(process.initialize(),
                          _client_datasets(task, client_ids))
    return process.get_model_weights(result.state).trainable, result.metrics

  # Each client alone: with server SGD(lr=1) the new global model is exactly
  # that client's locally trained model.
  model_small, m_small = one_round('num_examples', [small_id])
  model_large, m_large = one_round('num_examples', [large_id])
  n_small = m_small['client_work']['train']['num_examples']
  n_large = m_large['client_work']['train']['num_examples']
  assert n_small < n_large

  weighted, _ = one_round('num_examples', [small_id, large_id])
  uniform, _ = one_round('uniform', [small_id, large_id])

  for w, u, a, b in zip(weighted, uniform, model_small, model_large):
    np.testing.assert_allclose(
        w, (n_small * a + n_large * b) / (n_small + n_large), atol=1e-5)
    np.testing.assert_allclose(u, (a + b) / 2, atol=1e-5)
  assert any(not np.allclose(w, u, atol=1e-5)
             for w, u in zip(weighted, uniform))


@pytest.mark.parametrize('server', [
    optimizers.OptimizerConfig('sgd', learning_rate=1.0),
    optimizers.OptimizerConfig('sgd', learning_rate=1.0, momentum=0.9),
    optimizers.OptimizerConfig('sgdm', learning_rate=1.0, momentum=0.9),
    optimizers.OptimizerConfig('adam', learning_rate=0.01),
    optimizers.OptimizerConfig('yogi', learning_rate=0.01),
    optimizers.OptimizerConfig('adagrad', learning_rate=0.01),
], ids=lambda c: f'{c.name}_m{c.momentum}')
def test_every_server_optimizer_runs_two_rounds(federated_runtime, task,
                                                server):
  process = learning_process.build_learning_process(
      task, fedavg.Config(_CLIENT_SGD), server_optimizer=server)
  state = process.initialize()
  start = process.get_model_weights(state).trainable
  data = _client_datasets(task, sorted(task.datasets.train_data.client_ids)[:2])
  for _ in range(2):
    state, metrics = process.next(state, data)
  end = process.get_model_weights(state).trainable
  assert np.isfinite(metrics['client_work']['train']['loss'])
  assert any(not np.allclose(s, e) for s, e in zip(start, end))


@pytest.mark.parametrize('algorithm', [
    fedprox.Config(_CLIENT_SGD, mu=0.5),
    fedsgd.Config(),
    fedavg.Config(_CLIENT_SGD, client_lr_schedule='exp_decay',
                  decay_rate=0.5, decay_rounds=1),
    mime_lite.Config(optimizers.OptimizerConfig(
        'sgdm', learning_rate=0.3, momentum=0.9)),
], ids=['fedprox', 'fedsgd', 'client_lr_schedule', 'mime_lite'])
def test_other_algorithms_train(federated_runtime, task, algorithm):
  data = _client_datasets(task, sorted(task.datasets.train_data.client_ids)[:2])
  process = learning_process.build_learning_process(task, algorithm)
  state = process.initialize()
  result = process.next(state, data)
  before = process.get_model_weights(state).trainable
  after = process.get_model_weights(result.state).trainable
  assert any(not np.allclose(b, a) for b, a in zip(before, after))


@pytest.mark.parametrize('schedule', schedules.SCHEDULES)
def test_every_schedule_builds_and_trains(federated_runtime, task, schedule):
  """TFF traces each schedule on a tensor round number (Python's min fails)."""
  data = _client_datasets(task, sorted(task.datasets.train_data.client_ids)[:1])
  process = learning_process.build_learning_process(
      task, fedavg.Config(_CLIENT_SGD, client_lr_schedule=schedule,
                          warmup_rounds=4))
  state = process.initialize()
  for _ in range(2):
    state, metrics = process.next(state, data)
  assert np.isfinite(metrics['client_work']['train']['loss'])


def test_mime_lite_falls_back_to_the_sequential_path_saying_why(task):
  parallelism, reason = learning_process.resolve_client_parallelism(
      task, mime_lite.Config(), 'auto')
  assert parallelism == 'sequential'
  assert 'server\'s optimizer state' in reason


def test_fedprox_with_mu_zero_equals_fedavg(federated_runtime, task):
  data = _client_datasets(task, sorted(task.datasets.train_data.client_ids)[:2])
  fedavg_model, _ = _one_round(task, data)
  fedprox_model, _ = _one_round(task, data, fedprox.Config(_CLIENT_SGD, mu=0.0))
  for a, p in zip(fedavg_model, fedprox_model):
    np.testing.assert_allclose(a, p, atol=1e-6)


def _distance(a, b):
  return np.sqrt(sum(np.sum((x - y)**2) for x, y in zip(a, b)))


def test_fedprox_pulls_clients_towards_the_global_model(federated_runtime,
                                                        task):
  """The proximal gradient is mu * (w - w_global): a larger mu moves a client
  less far from the global model (TFF 0.87's FedProx adds the opposite sign
  and moves it further)."""
  data = _client_datasets(task, sorted(task.datasets.train_data.client_ids)[:1])
  start = learning_process.build_learning_process(task).initialize()
  start = start.global_model_weights.trainable
  moved = [_distance(start, _one_round(task, data, fedprox.Config(
      _CLIENT_SGD, mu=mu))[0]) for mu in (0.0, 1.0, 2.0)]
  assert moved[0] > moved[1] > moved[2] > 0


@pytest.mark.parametrize('build, message', [
    (lambda task: learning_process.build_learning_process(
        task, client_weighting='by_size'), 'num_examples, uniform'),
    (lambda task: fedprox.Config(mu=-1.0), 'fedprox_mu must be >= 0'),
    (lambda task: fedavg.Config(client_lr_schedule='cosine'),
     'constant, exp_decay'),
    (lambda task: learning_process.build_learning_process(
        task, fedsgd.Config(), client_weighting='uniform'),
     'client_weighting=num_examples'),
    (lambda task: learning_process.build_learning_process(
        task, client_parallelism='vectorized'), 'batch size'),
    (lambda task: learning_process.build_learning_process(task, 'fedavg'),
     'not the Config of a registered algorithm'),
])
def test_bad_settings_are_rejected_clearly(task, build, message):
  with pytest.raises((ValueError, TypeError), match=message):
    build(task)


@pytest.mark.parametrize('kwargs, message', [
    (dict(name='rmsprop'), 'sgd, sgdm, adam, yogi, adagrad'),
    (dict(learning_rate=0.0), 'learning rate must be > 0'),
    (dict(momentum=1.5), r'momentum must be in \[0, 1\)'),
    (dict(name='sgdm'), 'sgdm needs momentum'),
])
def test_bad_optimizer_settings_are_rejected(kwargs, message):
  with pytest.raises(ValueError, match=message):
    optimizers.OptimizerConfig(**kwargs)


def test_schedules():
  """Each schedule on a Python round and on a tensor one, as TFF calls it."""
  value = lambda fn, r: float(fn(r))
  for round_num in (3, tf.constant(3)):
    assert value(schedules.build_schedule('constant', 0.5), round_num) == 0.5
    decay = schedules.build_schedule('exp_decay', 1.0, decay_rate=0.1,
                                     decay_rounds=3)
    assert value(decay, round_num) == pytest.approx(0.1)
    warm = schedules.build_schedule('linear_warmup', 1.0, warmup_rounds=8)
    assert value(warm, round_num) == pytest.approx(0.5)
    inv = schedules.build_schedule('inv_sqrt_decay', 1.0, decay_rounds=1)
    assert value(inv, round_num) == pytest.approx(0.5)
  warm = schedules.build_schedule('linear_warmup', 1.0, warmup_rounds=4)
  assert [value(warm, r) for r in range(5)] == [0.25, 0.5, 0.75, 1.0, 1.0]
