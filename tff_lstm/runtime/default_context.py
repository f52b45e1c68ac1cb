"""This process's default TFF context, run on a local worker it owns.

`configure()` starts a `LocalWorker` and makes it TFF's default context; the
worker is then this process's to stop. The process-wide parts are installed
only where a caller asks, never by importing: `register_exit_hook()` (which
`configure()` calls, and binaries call before parsing their flags) stops the
worker and retires TFF's default context at exit while Python still works;
`install_signal_handlers` (a binary's choice) turns SIGTERM into a clean exit.
"""

import atexit
import contextlib
import gc
import signal
import threading
from typing import Optional

import tensorflow_federated as tff
from tensorflow_federated.python.core.impl.context_stack import runtime_error_context

from tff_lstm.runtime import compilers
from tff_lstm.runtime import executors
from tff_lstm.runtime import local_worker

_active_worker: Optional[local_worker.LocalWorker] = None
_exit_hook_registered = False


def active_worker() -> Optional[local_worker.LocalWorker]:
  """The worker `configure()` started, while it is the default context's."""
  return _active_worker


def shutdown() -> None:
  """Stops the worker `configure()` started, if any. Safe to call repeatedly."""
  global _active_worker
  worker, _active_worker = _active_worker, None
  if worker is not None:
    worker.stop()


def restart_worker() -> None:
  """Replaces the worker `configure()` started with a fresh one (no-op if none).

  Safe between computations: TFF hands every result back to Python, so the
  worker holds nothing a later call needs. Long runs use it to return the
  memory the worker accumulates (see LoopConfig.rounds_per_worker_restart).
  """
  if _active_worker is not None:
    configure(_active_worker.settings)


def _exit_on_sigterm(signum, frame):
  del frame
  # SystemExit unwinds `finally` blocks and runs atexit, which stops the worker.
  raise SystemExit(128 + signum)


def _at_exit() -> None:
  """Stops our worker and retires TFF's default context while Python still works.

  TFF's default context holds an executor factory whose `__del__` fails
  noisily ("'NoneType' object has no attribute 'Popen'") if it first runs
  during interpreter teardown, after the modules it needs are gone.
  """
  shutdown()
  tff.framework.set_default_context(
      runtime_error_context.create_runtime_error_context())
  gc.collect()


def register_exit_hook() -> None:
  """At exit, stops our worker and retires TFF's context (once per process).

  For a process that imports TFF and may exit without configuring a worker
  (a binary refusing its flags): without it TFF's teardown prints a
  traceback after our one-line error.
  """
  global _exit_hook_registered
  if not _exit_hook_registered:
    atexit.register(_at_exit)
    _exit_hook_registered = True


def configure(
    settings: local_worker.WorkerSettings = local_worker.WorkerSettings(),
    *, install_signal_handlers: bool = False) -> local_worker.LocalWorker:
  """Sets TFF's default execution context to a worker owned by this process.

  Starts the worker at once (on the calling thread, so that its parent-death
  signal is tied to a thread that lives as long as the process). Calling it
  again replaces the previous worker.

  Args:
    settings: how to start the worker.
    install_signal_handlers: turn SIGTERM into a clean exit that stops the
      worker (for a binary's main; only possible on the main thread, skipped
      elsewhere).

  Returns:
    The running worker.
  """
  global _active_worker
  shutdown()
  worker = local_worker.LocalWorker(settings)
  worker.stub()
  _active_worker = worker
  register_exit_hook()
  context = tff.framework.SyncExecutionContext(
      executor_fn=executors.executor_factory(worker),
      compiler_fn=compilers.simulation_compiler,
      transform_args=tff.tensorflow.transform_args,
      transform_result=tff.tensorflow.transform_result,
  )
  tff.framework.set_default_context(context)
  if (install_signal_handlers
      and threading.current_thread() is threading.main_thread()):
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
  return worker


@contextlib.contextmanager
def federated_runtime(
    settings: local_worker.WorkerSettings = local_worker.WorkerSettings(),
    *, install_signal_handlers: bool = False):
  """`with federated_runtime(): ...` runs TFF computations, then stops the worker.

  `install_signal_handlers` as in `configure`.
  """
  worker = configure(settings, install_signal_handlers=install_signal_handlers)
  try:
    yield worker
  finally:
    shutdown()
