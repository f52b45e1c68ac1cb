"""Probe: where one vectorized step's time goes (plain TF, one group).

Times, for K clients of the Shakespeare model (2 x 256 LSTM) on random tokens:
the full local step (forward, loss, gradients, SGD update), the forward pass
only, the two LSTM layers' forward+backward only, and the update only.

  K=5 INTRA=1 INTER=2 .venv/bin/python benchmarks/probes/step_parts.py
"""
import os, sys, time, statistics
os.environ['TF_CPP_MIN_LOG_LEVEL'] = '2'
import numpy as np, tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(int(os.environ["INTRA"]))
tf.config.threading.set_inter_op_parallelism_threads(int(os.environ["INTER"]))
sys.path.insert(0, '.')
from tff_lstm.algorithms import cohort_model
from tff_lstm.models import fused_lstm, language_models
K, B, T = int(os.environ["K"]), 4, 80
km = language_models.build_char_lm(90, units=256, cell_type='lstm', sequence_length=T, seed=0)
forward = cohort_model.build_forward(km)
w = [tf.constant(np.repeat(v.numpy()[None], K, 0)) for v in km.trainable_variables]
rng = np.random.default_rng(0)
x = tf.constant(rng.integers(1, 90, (K, B, T)), tf.int64)
y = tf.constant(rng.integers(1, 90, (K, B, T)), tf.int32)
@tf.function
def full_step(w):
  with tf.GradientTape() as tape:
    tape.watch(w)
    logits = forward(w, x)
    loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
  g = tape.gradient(loss, w)
  return [a - 0.1 * b for a, b in zip(w, g)]
@tf.function
def fwd_only(w):
  return forward(w, x)
emb = tf.gather(w[0], x, batch_dims=1)
@tf.function
def lstm2(w):
  with tf.GradientTape() as tape:
    tape.watch(w)
    h = fused_lstm.lstm_sequence(emb, w[1], w[2], w[3])
    h = fused_lstm.lstm_sequence(h, w[4], w[5], w[6])
    loss = tf.reduce_sum(h * h)
  return tape.gradient(loss, w[1:7])
@tf.function
def update_only(w):
  return [a - 0.1 * a for a in w]
fs = dict(full_step=full_step, fwd_only=fwd_only, lstm2_grad=lstm2, update=update_only)
for f in fs.values(): f(w)
times = {k: [] for k in fs}
for r in range(9):
  for k, f in fs.items():
    t0 = time.perf_counter(); r_ = f(w); _ = [v.numpy() for v in tf.nest.flatten(r_)][:1]; times[k].append(time.perf_counter() - t0)
for k, v in times.items(): print(k, round(1000 * statistics.median(v), 1), 'ms')
