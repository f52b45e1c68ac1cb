"""How fast the LSTM's per-timestep recurrent product runs, by column block.

Every timestep of a vectorized cohort multiplies each client's 4 rows of state
by its own recurrent kernel: forward [4, u] x [u, 4u], backward [4, 4u] x
[4u, u]. These products dominate a round. This probe times 80 such steps in a
`tf.function` while loop, one thread (as each group runs in the TFF worker),
with the kernel cut into column blocks of several widths (`full` = one
matmul), so the block width in `tff_lstm/models/fused_lstm.py` rests on a
measurement taken on the machine at hand.

  .venv/bin/python benchmarks/recurrent_matmul.py   # -> results/benchmarks/recurrent_matmul.{json,md}
"""

import statistics
import time

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

import report
from tff_lstm.models import fused_lstm

_SHAPES = flags.DEFINE_list(
    'shapes', ['256:5', '512:2', '128:8'],
    'units:clients pairs (clients = the default group size for that width).')
_WIDTHS = flags.DEFINE_list('widths', ['64', '128', '256', 'full'],
                            'Column block widths to time.')
_REPEATS = flags.DEFINE_integer('repeats', 9, 'Timed calls per configuration.')
_OUTPUT_DIR = flags.DEFINE_string('output_dir', 'results/benchmarks',
                                  'Where the JSON and markdown go.')

_ROWS, _STEPS = 4, 80


def _stepper(kernel, width):
  """80 steps of state @ kernel, as fused_lstm computes them at this width."""
  blocks = fused_lstm.column_blocks(kernel, width)
  rows = tf.zeros([kernel.shape[0], _ROWS, kernel.shape[1]])

  @tf.function
  def run():
    def step(t, state, outputs):
      product = fused_lstm.blocked_matmul(state, blocks)
      # Feed a scalar of the product back, so no step can be skipped.
      return t + 1, state + 1e-3 * tf.reduce_mean(product), outputs.write(
          t, product)
    result = tf.while_loop(lambda t, *_: t < _STEPS, step,
                           (0, rows, tf.TensorArray(tf.float32, _STEPS)))
    return result[2].stack()

  return run


def main(argv):
  del argv
  tf.get_logger().setLevel('ERROR')  # one tf.function per configuration
  tf.config.threading.set_intra_op_parallelism_threads(1)
  rng = np.random.default_rng(0)
  runs = {}
  for shape in _SHAPES.value:
    units, clients = (int(v) for v in shape.split(':'))
    kernel = rng.standard_normal([clients, units, 4 * units]).astype(
        np.float32)
    products = {'forward': tf.constant(kernel),
                'backward': tf.constant(np.ascontiguousarray(
                    kernel.transpose(0, 2, 1)))}
    for direction, matrix in products.items():
      for width in _WIDTHS.value:
        columns = matrix.shape[-1]
        size = columns if width == 'full' else int(width)
        if width != 'full' and (size >= columns or columns % size):
          continue
        runs[(units, clients, direction, width)] = _stepper(matrix, size)
  for run in runs.values():
    run()  # trace and warm up
  times = {key: [] for key in runs}
  for _ in range(_REPEATS.value):  # interleaved, so drift hits all alike
    for key, run in runs.items():
      start = time.perf_counter()
      run()
      times[key].append(time.perf_counter() - start)
  results = {'cpu': report.cpu_description(), 'steps': _STEPS,
             'rows_per_client': _ROWS, 'repeats': _REPEATS.value, 'runs': []}
  lines = ['# Recurrent product per timestep, by column block width', '',
           f'CPU: {results["cpu"]}. {_STEPS} steps, {_ROWS} rows per client, '
           f'one thread; median of {_REPEATS.value} interleaved calls. '
           'Command: `.venv/bin/python benchmarks/recurrent_matmul.py`.', '',
           '| units | clients | product | block width | ms per 80 steps |',
           '|---|---|---|---|---|']
  for (units, clients, direction, width), values in times.items():
    median_ms = 1000 * statistics.median(values)
    results['runs'].append({'units': units, 'clients': clients,
                            'product': direction, 'width': width,
                            'median_ms': median_ms})
    shape = (f'[{_ROWS}, {units}] x [{units}, {4 * units}]'
             if direction == 'forward' else
             f'[{_ROWS}, {4 * units}] x [{4 * units}, {units}]')
    lines.append(f'| {units} | {clients} | {direction} {shape} | {width} | '
                 f'{median_ms:.2f} |')
  report.write(_OUTPUT_DIR.value, 'recurrent_matmul', results, lines)


if __name__ == '__main__':
  app.run(main)
