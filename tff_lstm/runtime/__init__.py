"""tff-lstm's TFF execution runtime: the workers that run federated computations.

Import this package before TensorFlow (binaries do it first): it keeps
TensorFlow's and gRPC's start-up chatter off the terminal, which works only if
set before TensorFlow's first C++ log line.

The public interface is the names below; each lives in the module that does
that one job, and is imported on first use, so that the worker's sandbox
launcher (`python -m tff_lstm.runtime.sandbox`) and the TF-only helpers
(`eager_context`, `federated_concat`) do not pay for importing TFF:

* `configure`, `federated_runtime`, `restart_worker`, `active_worker`,
  `shutdown`, `register_exit_hook` (default_context.py): this process's
  default TFF context, run on a local worker it owns;
* `LocalWorker`, `WorkerSettings`, `TlsFiles`, `WorkerError`,
  `worker_binary_path` (local_worker.py): that worker process;
* `call_dominant`, `simulation_compiler`, `mergeable_compiler` (compilers.py):
  how computations are lowered for our workers;
* `quiet_logging` (log_levels.py).

Workers on other hosts: `tff_lstm.runtime.remote`; their certificates:
`tff_lstm.runtime.certificates`.
"""

import importlib
import os

# TensorFlow reads this once, at its first C++ log line; it must be set before
# `import tensorflow`. Users can still export TF_CPP_MIN_LOG_LEVEL=0 themselves.
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
os.environ.setdefault('GRPC_VERBOSITY', 'ERROR')  # gRPC's fork() INFO lines

_MODULE_OF = {
    'configure': 'default_context',
    'federated_runtime': 'default_context',
    'restart_worker': 'default_context',
    'active_worker': 'default_context',
    'shutdown': 'default_context',
    'register_exit_hook': 'default_context',
    'LocalWorker': 'local_worker',
    'WorkerSettings': 'local_worker',
    'TlsFiles': 'local_worker',
    'WorkerError': 'local_worker',
    'worker_binary_path': 'local_worker',
    'call_dominant': 'compilers',
    'simulation_compiler': 'compilers',
    'mergeable_compiler': 'compilers',
    'quiet_logging': 'log_levels',
}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
  if name not in _MODULE_OF:
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
  value = getattr(importlib.import_module(f'{__name__}.{_MODULE_OF[name]}'),
                  name)
  globals()[name] = value
  return value


def __dir__():
  return sorted(set(globals()) | set(_MODULE_OF))
