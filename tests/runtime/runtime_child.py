"""Child process for test_runtime: runs one TFF computation, then ends as told.

Usage: runtime_child.py {exit,raise,wait,restart}. Prints `worker_pid=N` and
`result=X` (restart: again for the fresh worker, then exits).
"""

import sys
import time

from tff_lstm import runtime  # before TensorFlow, as binaries do
import numpy as np
import tensorflow_federated as tff


def main(mode: str) -> None:
  worker = runtime.configure(install_signal_handlers=True)  # as a binary
  print(f'worker_pid={worker.pid}', flush=True)

  @tff.federated_computation(tff.FederatedType(np.float32, tff.CLIENTS))
  def federated_sum(values):
    return tff.federated_sum(values)

  print(f'result={federated_sum([1.0, 2.0, 3.5])}', flush=True)
  if mode == 'restart':
    runtime.restart_worker()
    print(f'worker_pid={runtime.active_worker().pid}', flush=True)
    print(f'result={federated_sum([1.0, 2.0, 3.5])}', flush=True)
  if mode == 'raise':
    raise RuntimeError('deliberate failure after a TFF computation')
  if mode == 'wait':
    print('waiting=1', flush=True)
    time.sleep(600)


if __name__ == '__main__':
  main(sys.argv[1])
