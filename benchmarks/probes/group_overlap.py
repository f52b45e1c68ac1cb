"""Probe: do the cohort's client groups overlap on the two cores?

A 10-client cohort of the 2x256 LSTM trains as two groups of 5. This times, in
plain TF with the TFF worker's thread settings, one group alone, the cohort's
own call (both groups in its group loop), and two one-group trainings written
as independent branches of one function, and reports the cores each kept busy
(process CPU time over wall time). If one group alone already keeps the cores
busy, there is no idle core for a second group to overlap into.

  INTRA=1 INTER=2 .venv/bin/python benchmarks/probes/group_overlap.py
  INTRA=1 INTER=1 .venv/bin/python benchmarks/probes/group_overlap.py
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
import tensorflow_federated as tff  # pylint: disable=g-import-not-at-top
from tff_lstm.algorithms import client_update, cohort_loss, cohort_model, vectorized_cohort  # pylint: disable=g-import-not-at-top
from tff_lstm.models import language_models, losses  # pylint: disable=g-import-not-at-top

_BATCHES, _B, _T, _VOCAB, _GROUP = 16, 4, 80, 90, 5
rng = np.random.default_rng(0)
keras_model = language_models.build_char_lm(_VOCAB, units=256, cell_type='lstm',
                                            sequence_length=_T, seed=0)
weights = [tf.constant(v.numpy()) for v in keras_model.trainable_variables]
_train = vectorized_cohort._build_cohort_training(  # pylint: disable=protected-access
    cohort_model.build_forward(keras_model),
    client_update.LocalTraining(tff.learning.optimizers.build_sgdm(1.0)),
    cohort_loss.per_client_loss(losses.MaskedSparseCategoricalCrossentropy()),
    cohort_loss.CohortMetrics([]), False, _GROUP)
train = lambda w, c: _train(w, (), c, None, [])


def uniform_cohort(num_clients):
  rows = num_clients * _BATCHES
  return dict(
      index=tf.constant(np.arange(num_clients, dtype=np.int32)),
      num_batches=tf.constant(np.full(num_clients, _BATCHES, np.int32)),
      x=tf.constant(rng.integers(1, _VOCAB, (rows, _B, _T)), tf.int64),
      y=tf.constant(rng.integers(1, _VOCAB, (rows, _B, _T)), tf.int64),
      rows=tf.constant(np.full(rows, _B, np.int32)))


group_a, group_b, cohort = (uniform_cohort(_GROUP), uniform_cohort(_GROUP),
                            uniform_cohort(2 * _GROUP))
loss = lambda c: train(weights, c)[2]['loss']
cases = {
    'one group of 5': (tf.function(loss), (group_a,)),
    'cohort of 10 (two groups, one loop)': (tf.function(loss), (cohort,)),
    'two one-group branches': (tf.function(lambda a, b: loss(a) + loss(b)),
                               (group_a, group_b)),
}
for fn, args in cases.values():
  fn(*args).numpy()   # trace and warm up
wall = {name: [] for name in cases}
cpu = {name: [] for name in cases}
for _ in range(int(os.environ.get('REPS', '5'))):
  for name, (fn, args) in cases.items():
    cpu_start, start = time.process_time(), time.perf_counter()
    fn(*args).numpy()
    wall[name].append(time.perf_counter() - start)
    cpu[name].append(time.process_time() - cpu_start)
for name in cases:
  print(f"intra {os.environ.get('INTRA', '1')} inter "
        f"{os.environ.get('INTER', '2')}, {name}: median "
        f'{statistics.median(wall[name]):.3f} s, '
        f'{sum(cpu[name]) / sum(wall[name]):.2f} cores busy')
