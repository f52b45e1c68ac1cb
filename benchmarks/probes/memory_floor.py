"""Probe: the resident memory any TFF program costs here, before our round.

The memory target of `make bench` (all our processes on a real round) is only
meaningful against what TFF itself holds. This measures, in one process:

* the Python process after `import tensorflow` and after `import
  tensorflow_federated` (which imports jax itself, so jax is part of the
  floor);
* the same process, the worker's sandbox and the worker after calling a
  trivial federated computation (10 clients, one [1024, 256] matmul each)
  through this project's local runtime, as many times as the first
  argument says (default 3).

Each figure is resident memory and its anonymous part (resident less pages
mapped from files: shared libraries, the worker's binary).

  PYTHONPATH=.:benchmarks .venv/bin/python benchmarks/probes/memory_floor.py 40
"""
import json
import os
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

# pylint: disable=g-import-not-at-top,g-bad-import-order
import psutil


def _memory(process) -> dict:
  info = process.memory_info()
  return {'rss_mb': round(info.rss / 2**20),
          'anon_mb': round((info.rss - info.shared) / 2**20)}


def _tree() -> dict:
  """{role: memory} for this process and everything it started."""
  root = psutil.Process()
  out = {'python': _memory(root)}
  for child in root.children(recursive=True):
    try:
      role = 'worker' if child.name() == 'worker_binary' else 'sandbox'
      out[role] = _memory(child)
    except psutil.NoSuchProcess:
      pass
  out['total'] = {k: sum(v[k] for v in out.values())
                  for k in ('rss_mb', 'anon_mb')}
  return out


def main():
  calls = int(sys.argv[1]) if len(sys.argv) > 1 else 3
  stages = {'start': _tree()}
  import tensorflow as tf
  stages['import tensorflow'] = _tree()
  import tensorflow_federated as tff
  stages['import tensorflow_federated'] = _tree()
  stages['jax imported'] = 'jax' in sys.modules
  import numpy as np
  from tff_lstm import runtime

  tensor = tff.TensorType(np.float32, [1024, 256])

  @tff.tensorflow.computation(tensor)
  def client_work(x):
    return tf.reduce_sum(tf.linalg.matmul(x, x, transpose_b=True))

  @tff.federated_computation(tff.FederatedType(tensor, tff.CLIENTS))
  def round_fn(x):
    return tff.federated_map(client_work, x)

  with runtime.federated_runtime(runtime.WorkerSettings()):
    for call in range(1, calls + 1):
      round_fn([np.ones([1024, 256], np.float32)] * 10)
      time.sleep(0.2)
      stages[f'trivial computation, call {call}'] = _tree()
  print(json.dumps(stages, indent=1))


if __name__ == '__main__':
  main()
