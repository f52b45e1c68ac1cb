"""Probe: one vectorized-cohort training call in plain TF, column blocks on/off.

Traces `_build_cohort_training` twice in one process, once with
`fused_lstm._COLUMN_BLOCK` at 128 and once so large that every recurrent
product is one matmul (the code before column blocks), and times them
interleaved with the TFF worker's thread settings. Random tokens, 10 clients.

  .venv/bin/python benchmarks/probes/cohort_blocks.py uniform|real
"""
import os
import statistics
import sys
import time

os.environ.setdefault('TF_NUM_INTRAOP_THREADS', '1')
os.environ.setdefault('TF_NUM_INTEROP_THREADS', '2')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
import numpy as np
import tensorflow as tf

tf.config.threading.set_intra_op_parallelism_threads(
    int(os.environ['TF_NUM_INTRAOP_THREADS']))
tf.config.threading.set_inter_op_parallelism_threads(
    int(os.environ['TF_NUM_INTEROP_THREADS']))
sys.path.insert(0, '.')
import tensorflow_federated as tff  # pylint: disable=g-import-not-at-top
from tff_lstm.algorithms import client_update, cohort_loss, cohort_model, vectorized_cohort  # pylint: disable=g-import-not-at-top
from tff_lstm.models import fused_lstm, language_models, losses  # pylint: disable=g-import-not-at-top

kind = sys.argv[1] if len(sys.argv) > 1 else 'uniform'
counts = [16] * 10 if kind == 'uniform' else [60, 25, 12, 8, 6, 5, 4, 3, 2, 1]
rng = np.random.default_rng(0)
B, T = 4, 80
keras_model = language_models.build_char_lm(90, units=256, cell_type='lstm',
                                            sequence_length=T, seed=0)
forward = cohort_model.build_forward(keras_model)
weights = [tf.constant(v.numpy()) for v in keras_model.trainable_variables]
S = sum(counts)
cohort = dict(index=tf.constant(np.arange(len(counts), dtype=np.int32)),
              num_batches=tf.constant(np.array(counts, np.int32)),
              x=tf.constant(rng.integers(1, 90, (S, B, T)), tf.int64),
              y=tf.constant(rng.integers(1, 90, (S, B, T)), tf.int64),
              rows=tf.constant(np.full(S, B, np.int32)))
local_sgd = client_update.LocalTraining(tff.learning.optimizers.build_sgdm(1.0))
loss = cohort_loss.per_client_loss(losses.MaskedSparseCategoricalCrossentropy())
no_metrics = cohort_loss.CohortMetrics([])
fns = {}
for name, block in (('one matmul', 10**9), ('128-column blocks', 128)):
  fused_lstm._COLUMN_BLOCK = block  # read when the function is traced
  train = vectorized_cohort._build_cohort_training(
      forward, local_sgd, loss, no_metrics, False,
      vectorized_cohort.default_clients_per_group(keras_model))
  fns[name] = tf.function(lambda w, c, train=train: train(w, (), c, None, []))
  fns[name].get_concrete_function(weights, cohort)
fused_lstm._COLUMN_BLOCK = 128
outs = {n: f(weights, cohort) for n, f in fns.items()}
a, b = outs.values()
print('max |delta difference|', max(
    float(tf.reduce_max(tf.abs(x - y))) for x, y in zip(a[0], b[0])))
times = {n: [] for n in fns}
for r in range(int(os.environ.get('REPS', 7))):
  for n, f in (list(fns.items()) if r % 2 else list(fns.items())[::-1]):
    start = time.perf_counter()
    f(weights, cohort)[2]['loss'].numpy()
    times[n].append(time.perf_counter() - start)
for n, ts in times.items():
  print(f'{kind} {n}: median {statistics.median(ts):.3f} s',
        [round(t, 2) for t in ts])
