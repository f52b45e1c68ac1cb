"""Per-round cost of secure aggregation on the Shakespeare 2x256 LSTM update.

For each cohort size, one round of aggregating n client updates of the
model's shapes (about 820k parameters), as

  plain:   each client sends its float32 update, the server sums them;
  masked:  the SecAgg protocol as --secure_aggregation=masked runs it
           (tff_lstm/aggregation/secagg_protocol.py for the key rounds,
           masking.py for quantizing, masking, unmasking), with SecAgg+'s
           default key graph and threshold, without dropouts and with 10% of
           the cohort dropping after the key exchange.

Seconds are measured per party (a client's key rounds, quantization and
masking; the server's routing, reconstruction, summing and unmasking);
bytes are what each party sends or receives: public keys, AES-GCM
ciphertexts of shares, unmasking shares, and the masked vector packed at the
ring's width (our simulation moves it as int64; a deployment would pack it).
The updates are random (cost does not depend on their values).

Each row has the columns method, clients, client_seconds,
client_bytes_sent, server_seconds, server_bytes_received, so that rows of
another method (e.g. homomorphic encryption) can be added to the JSON.

  python benchmarks/secure_aggregation_cost.py --clients=10,50 \
      --output_dir=results/privacy/secure_aggregation
"""

import math
import os
import sys
import time

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # pylint: disable=g-import-not-at-top,wrong-import-position
from tff_lstm.aggregation import config as config_lib  # pylint: disable=wrong-import-position
from tff_lstm.aggregation import masking  # pylint: disable=wrong-import-position
from tff_lstm.tasks import model_config  # pylint: disable=wrong-import-position
from tff_lstm.tasks import shakespeare_char  # pylint: disable=wrong-import-position

_CLIENTS = flags.DEFINE_list('clients', ['10', '50'], 'Cohort sizes.')
_DROPOUT = flags.DEFINE_float('dropout_rate', 0.1,
                              'Dropout rate of the masked rows with dropouts.')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the updates and the keys.')
_REPEATS = flags.DEFINE_integer(
    'repeats', 3, 'Rounds measured per row; the median of each figure is '
    'reported (the machine is shared).')
_OUTPUT_DIR = flags.DEFINE_string(
    'output_dir', 'results/privacy/secure_aggregation', 'Where to write.')
COLUMNS = ('method', 'clients', 'client_seconds', 'client_bytes_sent',
           'server_seconds', 'server_bytes_received')


def _shapes():
  model = shakespeare_char.create_keras_model(
      model_config.ModelConfig(units=256, num_layers=2, seed=0), 80)
  return [tuple(v.shape) for v in model.trainable_variables]


def _plain(updates):
  start = time.perf_counter()
  sent = [np.concatenate([u.ravel() for u in update]).astype(np.float32)
          for update in updates]
  client_seconds = (time.perf_counter() - start) / len(updates)
  start = time.perf_counter()
  total = np.sum(sent, axis=0)
  _ = total / len(updates)
  server_seconds = time.perf_counter() - start
  size = sent[0].nbytes
  return dict(client_seconds=client_seconds, client_bytes_sent=size,
              server_seconds=server_seconds,
              server_bytes_received=size * len(updates))


def _masked(updates, shapes, dropout_rate, seed):
  n = len(updates)
  settings = config_lib.AggregationConfig(
      secure_aggregation='masked',
      secagg_dropout_rate=dropout_rate).masked_settings(n)
  bits, bound = settings.bits, settings.bound
  size = sum(math.prod(s) for s in shapes) + 2
  client_mask = tf.function(lambda u, w, s, g: masking.mask(
      masking.quantize(u, w, bound), s, g, bits))
  server_unmask = tf.function(lambda t, s, g, k: masking.dequantize(
      masking.unmask(t, s, g, bits), k, shapes, bound))
  keys = settings.key_rounds(n, seed=[seed, n])
  tensors = [[tf.constant(u) for u in update] for update in updates]
  # Trace once outside the timing (a client's graph is built once per run).
  seeds = [tf.constant(s) for s in keys.client_seeds]
  signs = [tf.constant(s) for s in keys.client_signs]
  client_mask(tensors[0], tf.constant(1.0), seeds[0], signs[0])
  masked, mask_seconds = [], []
  for p, i in enumerate(keys.survivors):
    start = time.perf_counter()
    out = client_mask(tensors[i], tf.constant(1.0), seeds[p],
                      signs[p]).numpy()
    mask_seconds.append(time.perf_counter() - start)
    masked.append(out)
  vector_bytes = math.ceil(size * bits / 8)
  survivors = keys.survivors
  client_seconds = np.mean([keys.clients[i].traffic.seconds + s
                            for i, s in zip(survivors, mask_seconds)])
  client_bytes = np.mean([keys.clients[i].traffic.bytes_sent + vector_bytes
                          for i in survivors])
  unmask_args = (tf.constant(keys.server_seeds),
                 tf.constant(keys.server_signs), tf.constant(len(survivors)))
  server_unmask(tf.constant(np.sum(masked, axis=0)), *unmask_args)  # trace
  start = time.perf_counter()
  total = np.sum(masked, axis=0)
  values, weight, _ = server_unmask(tf.constant(total), *unmask_args)
  _ = [v / weight for v in values]
  server_seconds = keys.server.traffic.seconds + time.perf_counter() - start
  want = sum(np.concatenate([u.ravel() for u in updates[i]])
             for i in survivors) / len(survivors)
  got = np.concatenate([v.numpy().ravel() for v in values]) / float(weight)
  error = float(np.abs(got - want).max())
  return dict(
      client_seconds=float(client_seconds),
      client_bytes_sent=int(round(client_bytes)),
      server_seconds=float(server_seconds),
      server_bytes_received=int(
          keys.server.traffic.bytes_received + len(survivors) * vector_bytes),
      neighbors=settings.neighbors, threshold=settings.threshold,
      ring_bits=bits, dropped=len(keys.dropped),
      max_abs_error_of_mean=error)


def _median(measure, repeats):
  """`measure()`'s dict, each number the median over `repeats` calls."""
  runs = [measure() for _ in range(repeats)]
  return {k: (type(v)(np.median([r[k] for r in runs]))
              if isinstance(v, (int, float)) else v)
          for k, v in runs[0].items()}


def main(argv):
  del argv
  shapes = _shapes()
  parameters = sum(math.prod(s) for s in shapes)
  rng = np.random.default_rng(_SEED.value)
  rows = []
  for n in [int(c) for c in _CLIENTS.value]:
    updates = [[rng.normal(0, 0.01, s).astype(np.float32) for s in shapes]
               for _ in range(n)]
    r = _REPEATS.value
    rows.append(dict(method='plain', clients=n,
                     **_median(lambda: _plain(updates), r)))
    rows.append(dict(method='secagg_masked', clients=n, **_median(
        lambda: _masked(updates, shapes, 0.0, _SEED.value), r)))
    rows.append(dict(method=f'secagg_masked_dropout_{_DROPOUT.value:g}',
                     clients=n, **_median(lambda: _masked(
                         updates, shapes, _DROPOUT.value, _SEED.value), r)))
    print(rows[-3:], flush=True)
  command = ('python benchmarks/secure_aggregation_cost.py --clients='
             f'{",".join(_CLIENTS.value)} --dropout_rate={_DROPOUT.value:g} '
             f'--seed={_SEED.value} --repeats={_REPEATS.value} '
             f'--output_dir={_OUTPUT_DIR.value}')
  results = dict(cpu=report.cpu_description(), cpus=os.cpu_count(),
                 parameters=parameters, command=command, columns=COLUMNS,
                 rows=rows)
  lines = [
      '# Secure aggregation: cost of one round', '',
      f'Shakespeare 2x256 LSTM update ({parameters:,} parameters), one round '
      f'(median of {_REPEATS.value}); client figures are per client. '
      f'CPU: {results["cpu"]}, {os.cpu_count()} cores (shared with other '
      'work while measured).', '',
      f'`{command}`', '',
      '| method | clients | client s | client bytes sent | server s | '
      'server bytes received | k | t | dropped |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|']
  for r in rows:
    extra = (f'{r["neighbors"]} | {r["threshold"]} | {r["dropped"]}'
             if 'neighbors' in r else '- | - | -')
    lines.append(
        f'| {r["method"]} | {r["clients"]} | {r["client_seconds"]:.3f} | '
        f'{r["client_bytes_sent"]:,} | {r["server_seconds"]:.3f} | '
        f'{r["server_bytes_received"]:,} | {extra} |')
  report.write(_OUTPUT_DIR.value, 'secure_aggregation_cost', results, lines)
  print('\n'.join(lines))


if __name__ == '__main__':
  app.run(main)
