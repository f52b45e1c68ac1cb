"""Shared fixtures: one TFF worker for the whole pytest session, stopped at the end."""

import subprocess

import pytest

from tff_lstm import runtime


@pytest.fixture(scope='session')
def federated_runtime():
  """Sets the TFF execution context to a worker this test process owns."""
  runtime.quiet_logging()
  worker = runtime.configure(runtime.WorkerSettings())
  yield worker
  runtime.shutdown()


@pytest.fixture(scope='session')
def shakespeare_cache_dir(tmp_path_factory):
  """A cache dir with the full offline Shakespeare database (built in ~1 s)."""
  from tff_lstm.data import shakespeare  # pylint: disable=g-import-not-at-top
  cache_dir = str(tmp_path_factory.mktemp('shakespeare_cache'))
  shakespeare.ensure_database(cache_dir)
  return cache_dir


@pytest.fixture(scope='session')
def macbeth_client_data(tmp_path_factory):
  """(train, test) ClientData of Macbeth only: small, real, fast to iterate."""
  from tff_lstm.data import shakespeare  # pylint: disable=g-import-not-at-top
  cache_dir = str(tmp_path_factory.mktemp('macbeth_cache'))
  plays = ['tragedies/macbeth.md']
  shakespeare.ensure_database(cache_dir, play_names=plays)
  return shakespeare.load_client_data(cache_dir, play_names=plays)


@pytest.fixture
def spawn():
  """Starts child processes (text pipes); SIGKILLs any left running at the end.

  A killed child's TFF worker dies with it (PR_SET_PDEATHSIG), so a failing
  test leaves no process behind.
  """
  children = []

  def start(argv, **popen_kwargs) -> subprocess.Popen:
    child = subprocess.Popen(argv, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, **popen_kwargs)
    children.append(child)
    return child

  yield start
  for child in children:
    if child.poll() is None:
      child.kill()
    child.communicate()


def _flat_metrics(metrics, prefix=''):
  flat = {}
  for key, value in metrics.items():
    if isinstance(value, dict):
      flat.update(_flat_metrics(value, f'{prefix}{key}/'))
    else:
      flat[f'{prefix}{key}'] = value
  return flat


@pytest.fixture
def assert_cohort_matches_sequential(federated_runtime):
  """check(task, datasets, algorithm, batch_size, rounds, **settings): the
  vectorized cohort and TFF's sequential path give the same global model and
  the same metrics (names and values) over `rounds` rounds; returns the
  cohort's weights and flattened metrics ('client_work/train/loss', ...)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from tff_lstm.algorithms import learning_process  # pylint: disable=g-import-not-at-top
  from tff_lstm.algorithms import vectorized_cohort  # pylint: disable=g-import-not-at-top
  del federated_runtime

  def run(task, datasets, algorithm, parallelism, batch_size, rounds,
          settings):
    process = learning_process.build_learning_process(
        task, algorithm, client_parallelism=parallelism,
        client_batch_size=batch_size, **settings)
    data = (vectorized_cohort.indexed_client_data(datasets)
            if parallelism == 'vectorized' else datasets)
    state, history = process.initialize(), []
    for _ in range(rounds):
      state, metrics = process.next(state, data)
      history.append(_flat_metrics(metrics))
    return process.get_model_weights(state).trainable, history

  def check(task, datasets, algorithm, batch_size, rounds=2, atol=2e-5,
            rtol=1e-5, **settings):
    seq_weights, seq_metrics = run(task, datasets, algorithm, 'sequential',
                                   batch_size, rounds, settings)
    vec_weights, vec_metrics = run(task, datasets, algorithm, 'vectorized',
                                   batch_size, rounds, settings)
    for s, v in zip(seq_weights, vec_weights):
      np.testing.assert_allclose(v, s, atol=atol)
    for s, v in zip(seq_metrics, vec_metrics):
      assert v.keys() == s.keys()
      for name in s:
        np.testing.assert_allclose(v[name], s[name], rtol=rtol, err_msg=name)
    return vec_weights, vec_metrics

  return check


@pytest.fixture
def loop_body_ops():
  """`f(graph_function, *args)`: each while-loop body's op types, as traced.

  The recurrences' loop bodies are what a timestep costs, so tests pin
  their contents (which products, how many ops) through this one reader.
  """
  def read(graph_function, *args):
    library = graph_function.get_concrete_function(
        *args).graph.as_graph_def().library
    return [[node.op for node in f.node_def] for f in library.function
            if '_body_' in f.signature.name]
  return read
