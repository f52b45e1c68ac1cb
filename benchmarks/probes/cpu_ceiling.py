"""Probe: how much matmul arithmetic this machine does on one core and on all.

A round of the 2x256 LSTM is dense matmuls, so its speed is bounded by the
machine's matmul rate. This times large square matmuls in plain TF (oneDNN),
float32 and bfloat16, in three layouts: one process with one thread, one
process with two threads, and two one-thread processes at the same time (as
the worker's two groups run). If two cores give much less than twice one
core, overlapping the groups cannot close a gap that both frameworks share.

  .venv/bin/python benchmarks/probes/cpu_ceiling.py
"""
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
_SIZE = 1024
_SECONDS = 6.0


def _worker(dtype_name, threads, start_at):
  """Counts matmuls done in _SECONDS from start_at; prints GFLOP/s."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf.config.threading.set_intra_op_parallelism_threads(threads)
  tf.config.threading.set_inter_op_parallelism_threads(1)
  dtype = tf.as_dtype(dtype_name)
  a = tf.random.stateless_normal([_SIZE, _SIZE], [0, 1], dtype=tf.float32)
  a = tf.cast(a, dtype)

  @tf.function
  def ten_products(x):
    for _ in range(10):
      x = tf.matmul(x, a) * tf.constant(0.03, dtype)
    return x

  ten_products(a).numpy()   # trace and warm up
  while time.time() < start_at:
    time.sleep(0.001)
  done, began = 0, time.perf_counter()
  while time.perf_counter() - began < _SECONDS:
    ten_products(a).numpy()
    done += 10
  elapsed = time.perf_counter() - began
  print(json.dumps(2 * _SIZE**3 * done / elapsed / 1e9))


def _run(dtype_name, threads, processes):
  """Aggregate GFLOP/s of `processes` workers of `threads` threads each."""
  start_at = time.time() + 8.0   # after every worker has imported TF
  workers = [subprocess.Popen(
      [sys.executable, __file__, dtype_name, str(threads), str(start_at)],
      stdout=subprocess.PIPE, text=True) for _ in range(processes)]
  rates = [float(w.communicate()[0].strip().splitlines()[-1])
           for w in workers]
  return sum(rates), rates


def main():
  for dtype_name in ('float32', 'bfloat16'):
    one, _ = _run(dtype_name, 1, 1)
    two_threads, _ = _run(dtype_name, 2, 1)
    two_procs, each = _run(dtype_name, 1, 2)
    print(f'{dtype_name}: one thread {one:.1f} GFLOP/s; one process of two '
          f'threads {two_threads:.1f} ({two_threads / one:.2f}x); two '
          f'one-thread processes {two_procs:.1f} ({two_procs / one:.2f}x; '
          f'each {", ".join(f"{r:.1f}" for r in each)})')


if __name__ == '__main__':
  if len(sys.argv) == 4:
    _worker(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]))
  else:
    main()
