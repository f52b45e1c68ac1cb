"""Probe: how much matmul arithmetic this machine does on one core and on all.

A round of the 2x256 LSTM is dense matmuls, so its speed is bounded by the
machine's matmul rate. This times large square matmuls in plain TF (oneDNN),
in three layouts per dtype: one process with one thread, one process with two
threads, and two one-thread processes at the same time (as the worker's two
groups would run). If two cores give much less than twice one core,
overlapping the groups cannot close a gap that both frameworks share.

  PYTHONPATH=.:benchmarks .venv/bin/python benchmarks/probes/cpu_ceiling.py \\
      [--seconds=6] [--dtypes=float32,bfloat16] [--json]

Each measurement starts its processes afresh (this script again, with the
--child_* flags), so no two share a TF runtime.
"""
import json
import os
import subprocess
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')

# pylint: disable=g-import-not-at-top
from absl import app
from absl import flags

_DTYPES = flags.DEFINE_list('dtypes', ['float32', 'bfloat16'],
                            'Matmul dtypes to time (float32, bfloat16).')
flags.register_validator(
    'dtypes', lambda names: bool(names) and set(names) <= {'float32',
                                                           'bfloat16'},
    message='--dtypes: one or both of float32, bfloat16')
_SIZE = flags.DEFINE_integer('size', 1024, 'Side of the square matrices.',
                             lower_bound=1)
_SECONDS = flags.DEFINE_float('seconds', 6.0, 'Timed seconds per process.',
                              lower_bound=0.1)
_JSON = flags.DEFINE_bool(
    'json', False, 'End with one JSON line: {dtype: {one_thread, two_threads, '
    'two_processes}} in GFLOP/s (make bench reads it).')
_CHILD_DTYPE = flags.DEFINE_enum(
    'child_dtype', None, ['float32', 'bfloat16'],
    'Internal: run as one timed process of this dtype.')
_CHILD_THREADS = flags.DEFINE_integer('child_threads', 1,
                                      'Internal: intra-op threads of a child.',
                                      lower_bound=1)
_CHILD_START_AT = flags.DEFINE_float(
    'child_start_at', 0.0, 'Internal: wall-clock time a child starts timing, '
    'so that concurrent children time the same interval.')

_START_DELAY_S = 8.0   # after every child has imported TF


def _child(dtype_name, threads, start_at, size, seconds):
  """Counts matmuls done in `seconds` from start_at; prints GFLOP/s."""
  import tensorflow as tf
  tf.config.threading.set_intra_op_parallelism_threads(threads)
  tf.config.threading.set_inter_op_parallelism_threads(1)
  dtype = tf.as_dtype(dtype_name)
  a = tf.random.stateless_normal([size, size], [0, 1], dtype=tf.float32)
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
  while time.perf_counter() - began < seconds:
    ten_products(a).numpy()
    done += 10
  elapsed = time.perf_counter() - began
  print(json.dumps(2 * size**3 * done / elapsed / 1e9))


def _run(dtype_name, threads, processes):
  """Aggregate GFLOP/s of `processes` children of `threads` threads each."""
  start_at = time.time() + _START_DELAY_S
  children = [subprocess.Popen(
      [sys.executable, __file__, f'--child_dtype={dtype_name}',
       f'--child_threads={threads}', f'--child_start_at={start_at}',
       f'--size={_SIZE.value}', f'--seconds={_SECONDS.value}'],
      stdout=subprocess.PIPE, text=True) for _ in range(processes)]
  rates = []
  for child in children:
    out, _ = child.communicate()
    if child.returncode:
      raise RuntimeError(f'{dtype_name} child exited with {child.returncode}')
    rates.append(float(out.strip().splitlines()[-1]))
  return sum(rates), rates


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  if _CHILD_DTYPE.value:
    _child(_CHILD_DTYPE.value, _CHILD_THREADS.value, _CHILD_START_AT.value,
           _SIZE.value, _SECONDS.value)
    return
  rates = {}
  for dtype_name in _DTYPES.value:
    one, _ = _run(dtype_name, 1, 1)
    two_threads, _ = _run(dtype_name, 2, 1)
    two_procs, each = _run(dtype_name, 1, 2)
    print(f'{dtype_name}: one thread {one:.1f} GFLOP/s; one process of two '
          f'threads {two_threads:.1f} ({two_threads / one:.2f}x); two '
          f'one-thread processes {two_procs:.1f} ({two_procs / one:.2f}x; '
          f'each {", ".join(f"{r:.1f}" for r in each)})', flush=True)
    rates[dtype_name] = {'one_thread': one, 'two_threads': two_threads,
                         'two_processes': two_procs}
  if _JSON.value:
    print(json.dumps(rates))


if __name__ == '__main__':
  app.run(main)
