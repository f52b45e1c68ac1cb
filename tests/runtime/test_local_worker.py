"""The local TFF worker of tff_lstm.runtime never outlives its parent."""

import ipaddress
import os
import signal
import stat
import subprocess
import sys

import pytest

from tff_lstm.runtime import processes

_CHILD = os.path.join(os.path.dirname(__file__), 'runtime_child.py')


def _default_sigint():
  signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def start_child(spawn):
  """Starts runtime_child.py in a mode; the `spawn` fixture cleans up."""
  # As from a terminal: a background job of a non-interactive shell (as CI may
  # run us) inherits SIGINT ignored, and then nothing exits on it.
  return lambda mode: spawn([sys.executable, _CHILD, mode],
                            preexec_fn=_default_sigint)


def _read_until(process: subprocess.Popen, prefix: str) -> str:
  for line in process.stdout:
    if line.startswith(prefix):
      return line.strip().split('=', 1)[1]
  raise AssertionError(f'child ended before printing {prefix!r}: '
                       f'{process.stderr.read()[-2000:]}')


@pytest.mark.parametrize('mode, expected_code', [('exit', 0), ('raise', 1)])
def test_worker_stops_when_process_ends(start_child, mode, expected_code):
  child = start_child(mode)
  worker_pid = int(_read_until(child, 'worker_pid='))
  assert processes.is_running(worker_pid)
  assert float(_read_until(child, 'result=')) == pytest.approx(6.5)
  assert child.wait(timeout=120) == expected_code
  assert processes.wait_gone(worker_pid), (
      f'worker {worker_pid} outlived its parent')


def test_restart_worker_replaces_it_and_computations_go_on(start_child):
  child = start_child('restart')
  first = int(_read_until(child, 'worker_pid='))
  assert float(_read_until(child, 'result=')) == pytest.approx(6.5)
  second = int(_read_until(child, 'worker_pid='))
  assert second != first
  assert processes.wait_gone(first), f'replaced worker {first} lives on'
  assert float(_read_until(child, 'result=')) == pytest.approx(6.5)
  assert child.wait(timeout=120) == 0
  assert processes.wait_gone(second)


@pytest.mark.parametrize('sig', [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_worker_stops_when_process_is_signalled(start_child, sig):
  child = start_child('wait')
  worker_pid = int(_read_until(child, 'worker_pid='))
  _read_until(child, 'waiting=')
  assert processes.is_running(worker_pid)
  inner = processes.descendants(worker_pid)  # the sandboxed worker_binary
  assert inner
  child.send_signal(sig)
  child.wait(timeout=60)
  for pid in [worker_pid, *inner]:
    assert processes.wait_gone(pid), (
        f'worker process {pid} outlived a parent ended by {sig.name}')


def test_worker_output_never_reaches_our_stdout(start_child):
  """A `... | tail` pipeline must end: our stdout carries only our own lines."""
  child = start_child('exit')
  out, _ = child.communicate(timeout=120)
  assert out.splitlines()[0].startswith('worker_pid=')
  assert all(line.startswith(('worker_pid=', 'result=', 'waiting=')) for line in
             out.splitlines()), out


def test_worker_threads_default_to_one_per_op_and_one_op_per_core(monkeypatch):
  from tff_lstm import runtime  # pylint: disable=g-import-not-at-top
  monkeypatch.delenv('TF_NUM_INTRAOP_THREADS', raising=False)
  monkeypatch.delenv('TF_NUM_INTEROP_THREADS', raising=False)
  env = runtime.WorkerSettings().environment()
  assert env['TF_NUM_INTRAOP_THREADS'] == '1'
  assert env['TF_NUM_INTEROP_THREADS'] == str(os.cpu_count())


def test_worker_threads_from_our_environment_or_settings(monkeypatch):
  from tff_lstm import runtime  # pylint: disable=g-import-not-at-top
  monkeypatch.setenv('TF_NUM_INTRAOP_THREADS', '3')
  monkeypatch.setenv('TF_NUM_INTEROP_THREADS', '5')
  assert runtime.WorkerSettings().environment()['TF_NUM_INTRAOP_THREADS'] == '3'
  env = runtime.WorkerSettings(intra_op_threads=2,
                               inter_op_threads=7).environment()
  assert (env['TF_NUM_INTRAOP_THREADS'], env['TF_NUM_INTEROP_THREADS']) == (
      '2', '7')


def _is_loopback(address: str) -> bool:
  return ipaddress.ip_address(address).is_loopback


def test_the_worker_listens_nowhere_another_host_can_reach(federated_runtime):
  """Every listening socket of our worker's process tree is on loopback or
  inside a network namespace of its own; the worker itself is in one."""
  tree = [federated_runtime.pid, *processes.descendants(
      federated_runtime.pid)]
  sockets = {pid: processes.listening_sockets(pid) for pid in tree}
  assert any(not own for found in sockets.values()
             for _, _, own in found), sockets  # worker_binary, namespaced
  for pid, found in sockets.items():
    for address, port, own in found:
      assert not own or _is_loopback(address), (
          f'{pid} listens on {address}:{port} in our namespace')


def test_the_worker_socket_is_private(federated_runtime):
  del federated_runtime
  from tff_lstm import runtime  # pylint: disable=g-import-not-at-top
  worker = runtime.active_worker()
  # pylint: disable=protected-access
  directory = worker._socket_dir
  # pylint: enable=protected-access
  assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
  assert stat.S_IMODE(os.stat(os.path.join(directory, 'worker.sock'))
                      .st_mode) == 0o600
