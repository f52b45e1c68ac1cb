"""Probe: where one vectorized step's time goes (plain TF, one group).

Times, for --clients clients of the Shakespeare model (2 x 256 LSTM) on random
tokens: the full local step (forward, loss, gradients, SGD update), the forward
pass only, the two LSTM layers' forward+backward only (layer by layer, the
same compiled by XLA with `jit_compile=True`, and as `stacked_lstm`, which
is what the step runs), and the update only. First calls (trace, and XLA's
compile) and the largest difference between the plain and XLA gradients are
printed first. The step is a stand-in for the cohort's (same forward, no
padding or metrics); thread counts default to the TFF worker's on 2 cores.

  PYTHONPATH=.:benchmarks .venv/bin/python benchmarks/probes/step_parts.py \\
      --clients=5 --intra_op_threads=1 --inter_op_threads=2
"""
import json
import os
import statistics
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

# pylint: disable=g-import-not-at-top,g-bad-import-order
from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from tff_lstm.algorithms import cohort_model
from tff_lstm.models import fused_lstm
from tff_lstm.models import language_models
from tff_lstm.models import stacked_lstm

_CLIENTS = flags.DEFINE_integer('clients', 5, 'Clients in the batched step '
                                '(one group).', lower_bound=1)
_INTRA = flags.DEFINE_integer('intra_op_threads', 1, 'TF intra-op threads.',
                              lower_bound=1)
_INTER = flags.DEFINE_integer('inter_op_threads', 2, 'TF inter-op threads.',
                              lower_bound=1)
_REPEATS = flags.DEFINE_integer('repeats', 9, 'Timed calls of each part '
                                '(interleaved); the median is printed.',
                                lower_bound=1)
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the model and the tokens.')
_JSON = flags.DEFINE_bool('json', False, 'End with one JSON line: {part: '
                          'median ms} (make bench reads it).')

_BATCH, _STEPS, _VOCAB = 4, 80, 90


def _parts(clients, seed):
  """{name: tf.function of the stacked weights}, and the weights."""
  model = language_models.build_char_lm(_VOCAB, units=256, cell_type='lstm',
                                        sequence_length=_STEPS, seed=seed)
  forward = cohort_model.build_forward(model)
  weights = [tf.constant(np.repeat(v.numpy()[np.newaxis], clients, 0))
             for v in model.trainable_variables]
  rng = np.random.default_rng(seed)
  tokens = tf.constant(rng.integers(1, _VOCAB, (clients, _BATCH, _STEPS)),
                       tf.int64)
  labels = tf.constant(rng.integers(1, _VOCAB, (clients, _BATCH, _STEPS)),
                       tf.int32)
  embedded = tf.gather(weights[0], tokens, batch_dims=1)

  def full_step(w):
    with tf.GradientTape() as tape:
      tape.watch(w)
      loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(
          labels, forward(w, tokens)))
    return [a - 0.1 * g for a, g in zip(w, tape.gradient(loss, w))]

  def lstm_layers(w):
    with tf.GradientTape() as tape:
      tape.watch(w)
      h = fused_lstm.lstm_sequence(embedded, w[1], w[2], w[3])
      h = fused_lstm.lstm_sequence(h, w[4], w[5], w[6])
      loss = tf.reduce_sum(h * h)
    return tape.gradient(loss, w[1:7])

  def stacked_layers(w):
    with tf.GradientTape() as tape:
      tape.watch(w)
      h = stacked_lstm.stacked_lstm_sequence(embedded, w[1:4], w[4:7])
      loss = tf.reduce_sum(h * h)
    return tape.gradient(loss, w[1:7])

  parts = {'full_step': tf.function(full_step),
           'fwd_only': tf.function(lambda w: forward(w, tokens)),
           'lstm2_grad': tf.function(lstm_layers),
           'lstm2_stacked_grad': tf.function(stacked_layers),
           'lstm2_grad_xla': tf.function(lstm_layers, jit_compile=True),
           'update': tf.function(lambda w: [a - 0.1 * a for a in w])}
  return parts, weights


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  # Before any op runs: TF fixes its thread pools on first use.
  tf.config.threading.set_intra_op_parallelism_threads(_INTRA.value)
  tf.config.threading.set_inter_op_parallelism_threads(_INTER.value)
  parts, weights = _parts(_CLIENTS.value, _SEED.value)
  first = {}
  for name, part in parts.items():
    start = time.perf_counter()
    first[name] = part(weights)  # trace (and compile) and warm up
    print(name, 'first call', round(time.perf_counter() - start, 2), 's')
  print('max |plain - xla|', max(
      float(tf.reduce_max(tf.abs(a - b)))
      for a, b in zip(first['lstm2_grad'], first['lstm2_grad_xla'])))
  times = {name: [] for name in parts}
  for _ in range(_REPEATS.value):  # interleaved
    for name, part in parts.items():
      start = time.perf_counter()
      part(weights)  # eager call of a tf.function returns computed tensors
      times[name].append(time.perf_counter() - start)
  print(f'clients {_CLIENTS.value}, intra {_INTRA.value}, inter '
        f'{_INTER.value}, medians of {_REPEATS.value}:')
  medians = {name: 1000 * statistics.median(values)
             for name, values in times.items()}
  for name, ms in medians.items():
    print(name, round(ms, 1), 'ms')
  if _JSON.value:
    print(json.dumps(medians))


if __name__ == '__main__':
  app.run(main)
