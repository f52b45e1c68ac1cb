"""Shared fixtures for the data tests: no network, databases built once."""

import os
import socket

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import pytest  # pylint: disable=g-import-not-at-top

from tff_lstm.data import shakespeare  # pylint: disable=g-import-not-at-top

SMALL_PLAYS = ['tragedies/macbeth.md', 'comedies/twelfth-night.md']
_LOCAL_HOSTS = frozenset({'127.0.0.1', '::1', 'localhost', ''})


@pytest.fixture(autouse=True, scope='module')
def no_network():
  """Makes any attempted download fail at once instead of hanging.

  Module-scoped, so the patch never outlives the data tests.
  """
  real_connect = socket.socket.connect
  real_getaddrinfo = socket.getaddrinfo

  def connect(sock, address):
    if (sock.family in (socket.AF_INET, socket.AF_INET6) and
        address[0] not in _LOCAL_HOSTS):
      raise OSError(f'tests/data must not use the network: {address}')
    return real_connect(sock, address)

  def getaddrinfo(host, *args, **kwargs):
    if host not in _LOCAL_HOSTS and host is not None:
      raise OSError(f'tests/data must not use the network: {host}')
    return real_getaddrinfo(host, *args, **kwargs)

  patch = pytest.MonkeyPatch()
  patch.setattr(socket.socket, 'connect', connect)
  patch.setattr(socket, 'getaddrinfo', getaddrinfo)
  yield
  patch.undo()


@pytest.fixture(scope='session')
def full_cache_dir(tmp_path_factory):
  """A cache dir holding the full Shakespeare database, built once."""
  cache_dir = str(tmp_path_factory.mktemp('full_cache'))
  shakespeare.ensure_database(cache_dir)
  return cache_dir


@pytest.fixture(scope='session')
def small_plays():
  return list(SMALL_PLAYS)


@pytest.fixture(scope='session')
def small_cache_dir(tmp_path_factory, small_plays):
  """A cache dir holding a two-play database, for quick rebuild tests."""
  cache_dir = str(tmp_path_factory.mktemp('small_cache'))
  shakespeare.ensure_database(cache_dir, play_names=small_plays)
  return cache_dir


@pytest.fixture(scope='session')
def full_client_data(full_cache_dir):
  return shakespeare.load_client_data(full_cache_dir)
