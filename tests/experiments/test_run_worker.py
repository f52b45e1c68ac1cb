"""run_worker.py: serves workers, prints addresses, leaves none behind."""

import os
import signal
import socket
import subprocess
import sys

import numpy as np
import portpicker
import pytest
import tensorflow_federated as tff

from tff_lstm.runtime import processes
from tff_lstm.runtime import remote
from tff_lstm import runtime

_BINARY = os.path.join(os.path.dirname(__file__), '..', '..', 'experiments',
                       'run_worker.py')


@pytest.fixture
def start_binary(spawn):
  """Starts run_worker.py; the `spawn` fixture SIGKILLs it if left running."""
  return lambda *flags: spawn([sys.executable, _BINARY, *flags])


_LOOPBACK = '--plaintext_loopback'



def _read(child: subprocess.Popen, key: str) -> list[str]:
  for line in child.stdout:
    if line.startswith(key + '='):
      return line.strip().split('=', 1)[1].split(',')
  raise AssertionError(f'run_worker ended before printing {key}=: '
                       f'{child.stderr.read()[-2000:]}')


@tff.federated_computation(tff.FederatedType(np.float32, tff.CLIENTS))
def _federated_sum(values):
  return tff.federated_sum(values)


@pytest.mark.parametrize('sig', [signal.SIGTERM, signal.SIGINT])
def test_serves_two_workers_until_signalled(start_binary, sig):
  child = start_binary('--num_workers=2', _LOOPBACK)
  addresses = _read(child, 'worker_addresses')
  pids = [int(p) for p in _read(child, 'worker_pids')]
  pids += [p for pid in pids for p in processes.descendants(pid)]
  assert len(set(addresses)) == 2
  assert all(a.startswith('127.0.0.1:') for a in addresses)
  with remote.remote_runtime(addresses):
    assert _federated_sum([1.0, 2.0, 3.0]) == pytest.approx(6.0)

  child.send_signal(sig)

  assert child.wait(timeout=30) == 0
  for pid in pids:
    assert processes.wait_gone(pid), f'worker {pid} outlived run_worker'


def test_workers_die_with_a_killed_binary(start_binary):
  # --verbose: logs to stderr, so that a SIGKILL leaves no temp log files.
  child = start_binary('--num_workers=2', '--verbose', _LOOPBACK)
  _read(child, 'worker_addresses')
  pids = [int(p) for p in _read(child, 'worker_pids')]
  pids += [p for pid in pids for p in processes.descendants(pid)]
  assert all(processes.is_running(pid) for pid in pids)
  child.kill()  # no chance to clean up: PR_SET_PDEATHSIG must do it
  child.wait(timeout=30)
  for pid in pids:
    assert processes.wait_gone(pid), f'worker {pid} outlived a SIGKILLed run_worker'


def _certificates(directory):
  from tff_lstm.runtime import certificates  # pylint: disable=g-import-not-at-top
  certificates.make_certificates(str(directory), ['127.0.0.1'])
  return certificates.controller_paths(str(directory))


def test_a_worker_for_other_hosts_serves_only_our_controllers(start_binary,
                                                              tmp_path):
  """On every interface with mutual TLS: our controller computes; a plaintext
  client and a client whose certificate another CA signed are refused; the
  worker itself listens only inside its own network namespace."""
  ours = _certificates(tmp_path / 'ours')
  theirs = _certificates(tmp_path / 'theirs')
  port = portpicker.pick_unused_port()
  child = start_binary(f'--port={port}', '--host=0.0.0.0',
                       f'--tls_dir={tmp_path / "ours"}')
  assert _read(child, 'worker_addresses') == [f'{socket.getfqdn()}:{port}']
  pid = int(_read(child, 'worker_pids')[0])
  address = f'127.0.0.1:{port}'
  with remote.remote_runtime([address], tls=ours):
    assert _federated_sum([1.0, 2.5]) == pytest.approx(3.5)
  for tls in (None, theirs):
    with pytest.raises((runtime.WorkerError, ValueError)):
      with remote.remote_runtime([address], tls=tls,
                                         connect_timeout_s=3):
        pass
  tree = [pid, *processes.descendants(pid)]
  for p in tree:
    for host, listen_port, own in processes.listening_sockets(p):
      # Our namespace: the TLS listener only; the worker's is in its own.
      assert not own or listen_port == port, (p, host, listen_port)
  child.terminate()
  assert child.wait(timeout=30) == 0
  for p in tree:
    assert processes.wait_gone(p)


def test_plaintext_is_refused_off_loopback_and_needs_asking(start_binary):
  for flags_, message in (
      (['--host=0.0.0.0', _LOOPBACK], 'serves loopback only'),
      ([], 'give --tls_dir')):
    child = start_binary(*flags_)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 2, err
    assert message in err and 'Traceback' not in err


@pytest.mark.parametrize('flags, message', [
    (['--num_workers=0'], '--num_workers must be >= 1'),
    (['--port=8000,x'], '--port must be integers'),
    (['--port=8000', '--num_workers=2'], 'do not combine it'),
])
def test_bad_flags_give_clear_errors(start_binary, flags, message):
  child = start_binary(*flags, _LOOPBACK)
  _, err = child.communicate(timeout=120)
  assert child.returncode == 2
  assert message in err
  assert 'Traceback' not in err
