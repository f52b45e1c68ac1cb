"""The one place that owns TFF's execution runtime for tff-lstm.

TFF's default context starts a C++ `worker_binary` helper that runs the TensorFlow
work. Left to itself it inherits the parent's stdout (so `... | tail` never ends), and
it outlives the Python process when that process is killed. This module starts that
worker itself, so that:

* no other host can reach it: it runs in a network namespace of its own, and
  we talk to it over a Unix socket only our user can open
  (tff_lstm/worker_sandbox.py; a machine without namespaces refuses unless
  the user accepts the exposure with `allow_exposed`);
* the worker dies with us: the kernel kills it when our process dies (even by
  SIGKILL, via PR_SET_PDEATHSIG), and `atexit`/SIGTERM/SIGINT stop it cleanly;
* its output goes to stderr (verbose) or a log file, never to our stdout;
* thread settings reach it through its environment (TensorFlow runs inside it, so
  `tf.config.threading` in Python has no effect on federated computations).

Import this module before TensorFlow so that `quiet_logging` can take effect.
"""

import atexit
import contextlib
import ctypes
import dataclasses
import gc
import logging as py_logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Optional
import warnings

# TensorFlow reads this once, at its first C++ log line; it must be set before
# `import tensorflow`. Users can still export TF_CPP_MIN_LOG_LEVEL=0 themselves.
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
os.environ.setdefault('GRPC_VERBOSITY', 'ERROR')  # gRPC's fork() INFO lines

# pylint: disable=g-import-not-at-top,g-bad-import-order
from absl import logging
import grpc
import portpicker
import tensorflow as tf
import tensorflow_federated as tff
from tensorflow_federated.python.core.impl.context_stack import runtime_error_context

_PR_SET_PDEATHSIG = 1
_WORKER_START_TIMEOUT_S = 60.0
_WORKER_STOP_TIMEOUT_S = 5.0
_GRPC_MAX_MESSAGE_BYTES = 2 * 1000 * 1000 * 1000
_GRPC_OPTIONS = (
    ('grpc.max_message_length', _GRPC_MAX_MESSAGE_BYTES),
    ('grpc.max_receive_message_length', _GRPC_MAX_MESSAGE_BYTES),
    ('grpc.max_send_message_length', _GRPC_MAX_MESSAGE_BYTES),
)


class WorkerError(RuntimeError):
  """The TFF worker could not be started or stopped answering."""


def worker_binary_path() -> str:
  """Path of the C++ executor service shipped in the TFF wheel."""
  return os.path.join(os.path.dirname(tff.__file__), 'data', 'worker_binary')


def quiet_logging(verbose: bool = False) -> None:
  """Shows the user what matters: warnings and errors, not TF/TFF INFO noise."""
  level = logging.INFO if verbose else logging.WARNING
  logging.set_verbosity(level)
  tf.get_logger().setLevel(py_logging.INFO if verbose else py_logging.ERROR)
  if not verbose:
    warnings.filterwarnings('ignore', category=DeprecationWarning)
    warnings.filterwarnings('ignore', category=FutureWarning)


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
    command = [sys.executable, '-m', 'tff_lstm.worker_sandbox',
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
    channel = grpc.insecure_channel(f'unix:{socket_path}', _GRPC_OPTIONS)
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
    from tff_lstm import worker_sandbox  # pylint: disable=g-import-not-at-top
    if code == worker_sandbox.NO_NAMESPACE_EXIT:
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


def call_dominant(comp):
  """`comp` in TFF's flat call-dominant form: same computation, shallow proto.

  Protobuf refuses messages nested more than 100 deep; distributed DP's
  computations, inlined into a learning process or with secure sums lowered,
  nest deeper than that.
  """
  flat = tff.framework.to_call_dominant(comp.to_building_block())
  return tff.framework.ConcreteComputation(
      computation_proto=flat.proto,
      context_stack=tff.framework.get_context_stack(),
      annotated_type=comp.type_signature)


def simulation_compiler(comp):
  """TFF's native compiler, after lowering secure sums to plain sums.

  TFF's local C++ runtime has no secure-sum protocol ("Cannot embed a
  federated value"); in simulation the same clipped, quantized integers are
  summed in the clear, as TFF's own test contexts do (see
  tff_lstm/aggregation/secure.py for what that does and does not show).
  """
  insecure = tff.backends.test.replace_secure_intrinsics_with_bodies(
      call_dominant(comp))
  return tff.backends.native.desugar_and_transform_to_native(insecure)


def _executor_factory(worker: LocalWorker,
                      executor_cls=tff.framework.RemoteExecutor):
  """A TFF executor factory whose executors talk to `worker`.

  `worker` is anything with a `stub()` method (tff_lstm.remote_runtime passes
  its connections to workers on other hosts, and its own executor class).
  """

  def stack_fn(cardinalities):
    # Computations with no clients-placed argument (e.g. initialize) still
    # need a clients cardinality; TFF's own factory defaults it to 0 too.
    cardinalities.setdefault(tff.CLIENTS, 0)
    executor = executor_cls(worker.stub())
    executor.set_cardinalities(cardinalities)
    return executor

  return tff.framework.ResourceManagingExecutorFactory(executor_stack_fn=stack_fn)


_active_worker: Optional[LocalWorker] = None


def active_worker() -> Optional[LocalWorker]:
  return _active_worker


def shutdown() -> None:
  """Stops the worker this module started, if any. Safe to call repeatedly."""
  global _active_worker
  worker, _active_worker = _active_worker, None
  if worker is not None:
    worker.stop()


def restart_worker() -> None:
  """Replaces the worker this module started with a fresh one (no-op if none).

  Safe between computations: TFF hands every result back to Python, so the
  worker holds nothing a later call needs. Long runs use it to return the
  memory the worker accumulates (see LoopConfig.rounds_per_worker_restart).
  """
  if _active_worker is not None:
    configure(_active_worker.settings, install_signal_handlers=False)


def _exit_on_sigterm(signum, frame):
  del frame
  # SystemExit unwinds `finally` blocks and runs atexit, which stops the worker.
  raise SystemExit(128 + signum)


def configure(settings: WorkerSettings = WorkerSettings(),
              *, install_signal_handlers: bool = True) -> LocalWorker:
  """Sets TFF's default execution context to a worker owned by this process.

  Starts the worker at once (on the calling thread, so that its parent-death
  signal is tied to a thread that lives as long as the process). Calling it
  again replaces the previous worker.

  Args:
    settings: how to start the worker.
    install_signal_handlers: turn SIGTERM into a clean exit (only possible on
      the main thread; skipped elsewhere).

  Returns:
    The running worker.
  """
  global _active_worker
  shutdown()
  worker = LocalWorker(settings)
  worker.stub()
  _active_worker = worker
  context = tff.framework.SyncExecutionContext(
      executor_fn=_executor_factory(worker),
      compiler_fn=simulation_compiler,
      transform_args=tff.tensorflow.transform_args,
      transform_result=tff.tensorflow.transform_result,
  )
  tff.framework.set_default_context(context)
  if (install_signal_handlers
      and threading.current_thread() is threading.main_thread()):
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
  return worker


@contextlib.contextmanager
def federated_runtime(settings: WorkerSettings = WorkerSettings()):
  """`with federated_runtime(): ...` runs TFF computations, then stops the worker."""
  worker = configure(settings)
  try:
    yield worker
  finally:
    shutdown()


def _at_exit() -> None:
  """Stops our worker and retires TFF's default context while Python still works.

  TFF's import-time default context holds a service manager whose `__del__`
  fails noisily if it first runs during interpreter teardown.
  """
  shutdown()
  tff.framework.set_default_context(
      runtime_error_context.create_runtime_error_context())
  gc.collect()


atexit.register(_at_exit)
