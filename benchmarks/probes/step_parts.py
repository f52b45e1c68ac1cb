"""Probe: where one vectorized step's time goes (plain TF, one group).

Times, for K clients of the Shakespeare model (2 x 256 LSTM) on random tokens:
the full local step (forward, loss, gradients, SGD update), the forward pass
only, the two LSTM layers' forward+backward only, the same compiled by XLA
(`jit_compile=True`), and the update only. First calls (trace, and XLA's
compile) and the largest difference between the plain and XLA gradients are
printed first. The step is a stand-in for the
cohort's (same forward, no padding or metrics).

  K=5 INTRA=1 INTER=2 .venv/bin/python benchmarks/probes/step_parts.py
"""
import os
import statistics
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
import numpy as np  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top

from tff_lstm.algorithms import cohort_model  # pylint: disable=g-import-not-at-top
from tff_lstm.models import fused_lstm, language_models  # pylint: disable=g-import-not-at-top

tf.config.threading.set_intra_op_parallelism_threads(int(os.environ['INTRA']))
tf.config.threading.set_inter_op_parallelism_threads(int(os.environ['INTER']))
K, B, T, VOCAB = int(os.environ['K']), 4, 80, 90
model = language_models.build_char_lm(VOCAB, units=256, cell_type='lstm',
                                      sequence_length=T, seed=0)
forward = cohort_model.build_forward(model)
weights = [tf.constant(np.repeat(v.numpy()[np.newaxis], K, 0))
           for v in model.trainable_variables]
rng = np.random.default_rng(0)
tokens = tf.constant(rng.integers(1, VOCAB, (K, B, T)), tf.int64)
labels = tf.constant(rng.integers(1, VOCAB, (K, B, T)), tf.int32)
embedded = tf.gather(weights[0], tokens, batch_dims=1)


@tf.function
def full_step(w):
  with tf.GradientTape() as tape:
    tape.watch(w)
    loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels, forward(w, tokens)))
  return [a - 0.1 * g for a, g in zip(w, tape.gradient(loss, w))]


@tf.function
def forward_only(w):
  return forward(w, tokens)


def lstm_layers(w):
  with tf.GradientTape() as tape:
    tape.watch(w)
    h = fused_lstm.lstm_sequence(embedded, w[1], w[2], w[3])
    h = fused_lstm.lstm_sequence(h, w[4], w[5], w[6])
    loss = tf.reduce_sum(h * h)
  return tape.gradient(loss, w[1:7])


@tf.function
def update_only(w):
  return [a - 0.1 * a for a in w]


parts = {'full_step': full_step, 'fwd_only': forward_only,
         'lstm2_grad': tf.function(lstm_layers),
         'lstm2_grad_xla': tf.function(lstm_layers, jit_compile=True),
         'update': update_only}
first = {}
for name, part in parts.items():
  start = time.perf_counter()
  first[name] = part(weights)  # trace (and compile) and warm up
  print(name, 'first call', round(time.perf_counter() - start, 2), 's')
print('max |plain - xla|', max(
    float(tf.reduce_max(tf.abs(a - b)))
    for a, b in zip(first['lstm2_grad'], first['lstm2_grad_xla'])))
times = {name: [] for name in parts}
for _ in range(9):  # interleaved
  for name, part in parts.items():
    start = time.perf_counter()
    part(weights)  # eager call of a tf.function returns computed tensors
    times[name].append(time.perf_counter() - start)
for name, values in times.items():
  print(name, round(1000 * statistics.median(values), 1), 'ms')
