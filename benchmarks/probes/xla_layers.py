"""Probe: the fused LSTM under XLA (`jit_compile=True`) on this CPU.

The performance issue's XLA probe compiled Keras' LSTM (about 320 s a round).
This compiles our own kernel instead: the Shakespeare model's two 256-unit
`fused_lstm` layers, forward+backward, for K clients sharing the step, against
the same function without XLA (plain TF, the TFF worker's thread settings,
interleaved calls, medians of 9). It prints the compile time (first call) and
the largest difference between the two results.

  K=1 INTRA=1 INTER=2 .venv/bin/python benchmarks/probes/xla_layers.py
"""
import os
import statistics
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
import numpy as np  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top

tf.config.threading.set_intra_op_parallelism_threads(
    int(os.environ.get('INTRA', '1')))
tf.config.threading.set_inter_op_parallelism_threads(
    int(os.environ.get('INTER', '2')))
sys.path.insert(0, '.')
from tff_lstm.models import fused_lstm  # pylint: disable=g-import-not-at-top
from tff_lstm.models import language_models  # pylint: disable=g-import-not-at-top

K, B, T, VOCAB = int(os.environ.get('K', '1')), 4, 80, 90
model = language_models.build_char_lm(VOCAB, units=256, cell_type='lstm',
                                      sequence_length=T, seed=0)
weights = [tf.constant(np.repeat(v.numpy()[np.newaxis], K, 0))
           for v in model.trainable_variables]
tokens = tf.constant(np.random.default_rng(0).integers(1, VOCAB, (K, B, T)))
embedded = tf.gather(weights[0], tokens, batch_dims=1)


def two_layers_with_gradients(w):
  with tf.GradientTape() as tape:
    tape.watch(w)
    h = fused_lstm.lstm_sequence(embedded, w[1], w[2], w[3])
    h = fused_lstm.lstm_sequence(h, w[4], w[5], w[6])
    loss = tf.reduce_sum(h * h)
  return tape.gradient(loss, w[1:7])


def main():
  calls = {'plain': tf.function(two_layers_with_gradients),
           'xla': tf.function(two_layers_with_gradients, jit_compile=True)}
  results = {}
  for name, call in calls.items():
    start = time.perf_counter()
    results[name] = call(weights)
    print(f'K={K} {name} first call (trace, compile): '
          f'{time.perf_counter() - start:.2f} s')
  difference = max(float(tf.reduce_max(tf.abs(a - b)))
                   for a, b in zip(results['plain'], results['xla']))
  print(f'K={K} max |plain - xla| over the gradients: {difference:.1e}')
  times = {name: [] for name in calls}
  for _ in range(9):  # interleaved
    for name, call in calls.items():
      start = time.perf_counter()
      call(weights)
      times[name].append(time.perf_counter() - start)
  for name, values in times.items():
    print(f'K={K} {name}: {1000 * statistics.median(values):.1f} ms')


if __name__ == '__main__':
  main()
