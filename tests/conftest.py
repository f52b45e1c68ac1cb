"""Shared fixtures: one TFF worker for the whole pytest session, stopped at the end."""

import subprocess

import pytest

from tff_lstm import runtime


@pytest.fixture(scope='session')
def federated_runtime():
  """Sets the TFF execution context to a worker this test process owns."""
  runtime.quiet_logging()
  worker = runtime.configure(runtime.WorkerSettings(), install_signal_handlers=False)
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
