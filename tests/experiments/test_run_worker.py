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

from tff_lstm import process_utils
from tff_lstm import remote_runtime

_BINARY = os.path.join(os.path.dirname(__file__), '..', '..', 'experiments',
                       'run_worker.py')


@pytest.fixture
def start_binary(spawn):
  """Starts run_worker.py; the `spawn` fixture SIGKILLs it if left running."""
  return lambda *flags: spawn([sys.executable, _BINARY, *flags])


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
  child = start_binary('--num_workers=2')
  addresses = _read(child, 'worker_addresses')
  pids = [int(p) for p in _read(child, 'worker_pids')]
  assert len(set(addresses)) == 2
  assert all(a.startswith('127.0.0.1:') for a in addresses)
  with remote_runtime.remote_runtime(addresses):
    assert _federated_sum([1.0, 2.0, 3.0]) == pytest.approx(6.0)

  child.send_signal(sig)

  assert child.wait(timeout=30) == 0
  for pid in pids:
    assert process_utils.wait_gone(pid), f'worker {pid} outlived run_worker'


def test_workers_die_with_a_killed_binary(start_binary):
  # --verbose: logs to stderr, so that a SIGKILL leaves no temp log files.
  child = start_binary('--num_workers=2', '--verbose')
  _read(child, 'worker_addresses')
  pids = [int(p) for p in _read(child, 'worker_pids')]
  assert all(process_utils.is_running(pid) for pid in pids)
  child.kill()  # no chance to clean up: PR_SET_PDEATHSIG must do it
  child.wait(timeout=30)
  for pid in pids:
    assert process_utils.wait_gone(pid), f'worker {pid} outlived a SIGKILLed run_worker'


def test_one_worker_on_a_chosen_port_for_other_hosts(start_binary):
  port = portpicker.pick_unused_port()
  child = start_binary(f'--port={port}', '--host=0.0.0.0')
  assert _read(child, 'worker_addresses') == [f'{socket.getfqdn()}:{port}']
  pid = int(_read(child, 'worker_pids')[0])
  with remote_runtime.remote_runtime([f'127.0.0.1:{port}']):
    assert _federated_sum([1.0, 2.5]) == pytest.approx(3.5)
  child.terminate()
  assert child.wait(timeout=30) == 0
  assert process_utils.wait_gone(pid)


def test_port_in_use_is_a_clear_error(start_binary):
  with socket.socket() as taken:
    taken.bind(('', 0))
    taken.listen()
    port = taken.getsockname()[1]
    child = start_binary(f'--port={port}')
    _, err = child.communicate(timeout=120)
  assert child.returncode == 1
  assert f'Port {port} is not free' in err
  assert 'Traceback' not in err


@pytest.mark.parametrize('flags, message', [
    (['--num_workers=0'], '--num_workers must be >= 1'),
    (['--port=8000,x'], '--port must be integers'),
    (['--port=8000', '--num_workers=2'], 'do not combine it'),
])
def test_bad_flags_give_clear_errors(start_binary, flags, message):
  child = start_binary(*flags)
  _, err = child.communicate(timeout=120)
  assert child.returncode == 2
  assert message in err
  assert 'Traceback' not in err
