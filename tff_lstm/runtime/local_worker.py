"""The local TFF worker: a `worker_binary` process owned by this one.

TFF's default context starts a C++ `worker_binary` helper that runs the TensorFlow
work. Left to itself it inherits the parent's stdout (so `... | tail` never ends),
and it outlives the Python process when that process is killed. `LocalWorker`
starts that worker itself, so that:

* no other host can reach it: it runs in a network namespace of its own, and
  we talk to it over a Unix socket only our user can open (`sandbox.py`; a
  machine without namespaces refuses unless the user accepts the exposure with
  `allow_exposed`);
* the worker dies with us: the kernel kills it when our process dies (even by
  SIGKILL, via PR_SET_PDEATHSIG), and `stop()` ends it cleanly;
* its output goes to stderr (verbose) or a log file, never to our stdout;
* thread settings reach it through its environment (TensorFlow runs inside it,
  so `tf.config.threading` in Python has no effect on federated computations).
"""

import ctypes
import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Optional

from absl import logging
import grpc
import portpicker
import tensorflow_federated as tff

from tff_lstm.runtime import sandbox

_PR_SET_PDEATHSIG = 1
_WORKER_START_TIMEOUT_S = 60.0
_WORKER_STOP_TIMEOUT_S = 5.0
_GRPC_MAX_MESSAGE_BYTES = 2 * 1000 * 1000 * 1000
# Channel options of every channel to a worker: TFF's values can be large.
GRPC_OPTIONS = (
    ('grpc.max_message_length', _GRPC_MAX_MESSAGE_BYTES),
    ('grpc.max_receive_message_length', _GRPC_MAX_MESSAGE_BYTES),
    ('grpc.max_send_message_length', _GRPC_MAX_MESSAGE_BYTES),
)


class WorkerError(RuntimeError):
  """The TFF worker could not be started or stopped answering."""


def worker_binary_path() -> str:
  """Path of the C++ executor service shipped in the TFF wheel."""
  return os.path.join(os.path.dirname(tff.__file__), 'data', 'worker_binary')


@dataclasses.dataclass(frozen=True)
class WorkerSettings:
  """How the local worker process is started.

  Attributes:
    intra_op_threads: TF_NUM_INTRAOP_THREADS for the worker. None: the
      variable from our environment if set, else 1.
    inter_op_threads: TF_NUM_INTEROP_THREADS for the worker. None: the
      variable from our environment if set, else the CPU count.

  One thread per op and one op per core is the measured best for federated
  recurrent rounds: an LSTM step is many small ops, and clients of a cohort run
  side by side (TF's defaults, all cores for both, were 10-20% slower on the
  Shakespeare round, and intra=2/inter=1 was 1.7x slower).
    max_concurrent_computation_calls: passed to the worker; <= 0 is unlimited.
    verbose: worker logs go to stderr; otherwise to `log_path` (a temp file).
    extra_env: further environment variables for the worker.
    allow_exposed: where no network namespace can be made, run the worker on
      every interface anyway (default: refuse).
  """

  intra_op_threads: Optional[int] = None
  inter_op_threads: Optional[int] = None
  max_concurrent_computation_calls: int = -1
  verbose: bool = False
  extra_env: tuple[tuple[str, str], ...] = ()
  allow_exposed: bool = False

  def environment(self) -> dict[str, str]:
    env = dict(os.environ)
    if not self.verbose:
      env.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
    for name, value, default in (
        ('TF_NUM_INTRAOP_THREADS', self.intra_op_threads, 1),
        ('TF_NUM_INTEROP_THREADS', self.inter_op_threads, os.cpu_count() or 1)):
      if value is not None:
        env[name] = str(value)
      else:
        env.setdefault(name, str(default))
    env.update(dict(self.extra_env))
    return env


def _die_with_parent() -> None:
  """Runs in the forked child: ask the kernel to SIGKILL it when we die."""
  libc = ctypes.CDLL('libc.so.6', use_errno=True)
  libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


@dataclasses.dataclass(frozen=True)
class TlsFiles:
  """PEM files of a worker's mutual TLS: its certificate and key, and the CA
  that signs the controllers it accepts."""

  cert: str
  key: str
  client_ca: str


class LocalWorker:
  """A `worker_binary` process in its own network namespace, owned by us.

  We reach it over a private Unix socket. With `tcp` (or a `port`) it also
  serves controllers on other hosts at `host:port`: with mutual TLS given
  `tls`, else in plaintext on a loopback host only.
  """

  def __init__(self, settings: WorkerSettings, port: Optional[int] = None, *,
               tcp: bool = False, host: str = '127.0.0.1',
               tls: Optional[TlsFiles] = None):
    """`port`: the TCP port to serve on (None with `tcp`: a free one)."""
    self._settings = settings
    self._requested_port = port
    self._tcp = tcp or port is not None
    self._host = host
    self._tls = tls
    self._socket_dir: Optional[str] = None
    self.port: Optional[int] = None
    self._process: Optional[subprocess.Popen] = None
    self._stub = None
    self._log_file = None
    self.log_path: Optional[str] = None
    self._lock = threading.Lock()

  @property
  def settings(self) -> WorkerSettings:
    return self._settings

  @property
  def pid(self) -> Optional[int]:
    return self._process.pid if self._process else None

  @property
  def returncode(self) -> Optional[int]:
    """None while it runs (or before it starts); then its exit code."""
    return self._process.poll() if self._process else None

  def _sandbox_command(self, socket_path: str) -> list[str]:
    command = [sys.executable, '-m', sandbox.__name__,
               f'--unix_socket={socket_path}']
    if self._tcp:
      host = f'[{self._host}]' if ':' in self._host else self._host
      command.append(f'--tcp={host}:{self.port}')
    if self._tls is not None:
      command += [f'--tls_cert={self._tls.cert}', f'--tls_key={self._tls.key}',
                  f'--tls_client_ca={self._tls.client_ca}']
    if self._settings.allow_exposed:
      command.append('--allow_exposed')
    return command + [
        '--', worker_binary_path(),
        '--max_concurrent_computation_calls='
        f'{self._settings.max_concurrent_computation_calls}']

  def _start(self) -> None:
    binary = worker_binary_path()
    if not os.path.isfile(binary):
      raise WorkerError(f'TFF worker binary not found at {binary}; reinstall '
                        'tensorflow-federated (make setup).')
    if self._tcp:
      self.port = self._requested_port or portpicker.pick_unused_port()
    if self._socket_dir is not None:  # of a worker that exited on its own
      shutil.rmtree(self._socket_dir, ignore_errors=True)
    self._socket_dir = tempfile.mkdtemp(prefix='tff_lstm_worker_')  # 0700
    socket_path = os.path.join(self._socket_dir, 'worker.sock')
    if self._settings.verbose:
      output = sys.stderr
    else:
      self._log_file = tempfile.NamedTemporaryFile(
          prefix='tff_lstm_worker_', suffix='.log', delete=False)
      self.log_path = self._log_file.name
      output = self._log_file
    self._process = subprocess.Popen(  # pylint: disable=subprocess-popen-preexec-fn
        self._sandbox_command(socket_path),
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=output,
        env=self._settings.environment(),
        preexec_fn=_die_with_parent,
    )
    channel = grpc.insecure_channel(f'unix:{socket_path}', GRPC_OPTIONS)
    self._stub = tff.framework.RemoteExecutorGrpcStub(channel)
    deadline = time.monotonic() + _WORKER_START_TIMEOUT_S
    while not self._stub.is_ready:
      if self._process.poll() is not None:
        raise WorkerError(self._start_failure(self._process.returncode))
      if time.monotonic() > deadline:
        self.stop()
        raise WorkerError('TFF worker did not answer within '
                          f'{_WORKER_START_TIMEOUT_S:.0f} s.')
      time.sleep(0.05)
    logging.info('TFF worker pid %d at %s', self._process.pid, socket_path)

  def _start_failure(self, code: int) -> str:
    if code == sandbox.NO_NAMESPACE_EXIT:
      return ('this machine cannot give the TFF worker a network namespace of '
              'its own (no user namespaces?), and without one it would accept '
              'connections from any host that can reach this one and run any '
              'graph they send. Pass --allow_exposed_worker to accept that '
              f'risk; details in {self.log_path or "stderr"}.')
    return (f'TFF worker exited with code {code} at start; see '
            f'{self.log_path or "stderr"}.')

  def stub(self):
    """Returns a ready stub, (re)starting the worker if it is not running."""
    with self._lock:
      if self._process is None or self._process.poll() is not None:
        if self._process is not None:
          logging.warning('TFF worker exited (code %s); restarting it.',
                          self._process.returncode)
        self._start()
      return self._stub

  def stop(self) -> None:
    """Stops the worker: SIGTERM, then SIGKILL if it does not exit in time.

    Not SIGINT (what TFF sends): a process started from a non-interactive
    shell's background job inherits SIGINT as ignored, and the worker then
    never exits.
    """
    process, self._process = self._process, None
    if process is not None and process.poll() is None:
      process.terminate()
      try:
        process.wait(timeout=_WORKER_STOP_TIMEOUT_S)
      except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if self._socket_dir is not None:
      shutil.rmtree(self._socket_dir, ignore_errors=True)
      self._socket_dir = None
    if self._log_file is not None:
      self._log_file.close()
      if self.log_path and os.path.getsize(self.log_path) == 0:
        os.remove(self.log_path)
      self._log_file = None
