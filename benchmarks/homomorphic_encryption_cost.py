"""What CKKS encryption of client updates costs a round, against the plain sum.

For each cohort size, every client's weighted update of the Shakespeare 2x256
LSTM (its ~820k trainable values, then its weight) goes through the very roles
the training runs use (tff_lstm/aggregation/homomorphic.py): plain, the client
serializes float32 values and the server adds them; CKKS, the client encrypts
under the public context (`ckks.ClientEncryptor`), the server adds the
ciphertexts (`ckks.CiphertextSum`) and the key holder decrypts the sum.

The update values are seeded Gaussian noise of a real update's size: CKKS
encoding, encryption and addition cost the same whatever the values, and the
ciphertexts are uniformly random either way. One core per role, as on a
client device; the server's figure is for the whole cohort.

  .venv/bin/python benchmarks/homomorphic_encryption_cost.py --clients=10,50

Writes results/privacy/homomorphic_encryption/cost.{json,md}.
"""

import datetime
import os
import sys
import time

from tff_lstm import runtime  # first: quiets TensorFlow before it is imported

# pylint: disable=g-bad-import-order
from absl import app
from absl import flags
import numpy as np

from tff_lstm.aggregation import ckks
from tff_lstm.tasks import model_config
from tff_lstm.tasks import shakespeare_char

import report

_CLIENTS = flags.DEFINE_list('clients', ['10', '50'], 'Cohort sizes.')
_UNITS = flags.DEFINE_integer('units', 256, 'LSTM units per layer.')
_LAYERS = flags.DEFINE_integer('layers', 2, 'LSTM layers.')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the update values.')
_DEGREE = flags.DEFINE_integer('ckks_poly_modulus_degree',
                               ckks.DEFAULT_POLY_MODULUS_DEGREE, 'CKKS N.')
_COEFF = flags.DEFINE_list(
    'ckks_coeff_mod_bit_sizes',
    [str(b) for b in ckks.DEFAULT_COEFF_MOD_BIT_SIZES], 'CKKS primes.')
_SCALE = flags.DEFINE_integer('ckks_scale_bits', ckks.DEFAULT_SCALE_BITS,
                              'CKKS scale bits.')
_OUTPUT_DIR = flags.DEFINE_string(
    'output_dir', 'results/privacy/homomorphic_encryption',
    'Where cost.json and cost.md go.')

COLUMNS = ('method', 'clients', 'client_seconds', 'client_bytes_sent',
           'server_seconds', 'server_bytes_received')
# Beside those, each row has client_cpu_seconds and server_cpu_seconds; the
# CKKS rows also the key holder's decryption seconds and ciphertext count.


def _rows(length, num_clients, seed):
  """Each client's [weight * update, weight], made when its turn comes."""
  rng = np.random.default_rng(seed)
  for _ in range(num_clients):
    weight = float(rng.integers(1, 65))  # up to 16 batches of 4
    update = rng.normal(0, 1e-3, length - 1).astype(np.float32)
    yield np.append(update * weight, np.float32(weight))


class _Clock:
  """Wall and CPU seconds of a block: on a shared machine the wall clock
  counts other jobs' time too, the process's CPU time does not."""

  def __init__(self):
    self.wall = self.cpu = 0.0

  def __enter__(self):
    self._start = (time.perf_counter(), time.process_time())
    return self

  def __exit__(self, *unused):
    self.wall += time.perf_counter() - self._start[0]
    self.cpu += time.process_time() - self._start[1]


def _row(method, clients, client_clocks, sent, server_clock, received, **more):
  return dict(method=method, clients=clients,
              client_seconds=float(np.mean([c.wall for c in client_clocks])),
              client_bytes_sent=float(np.mean(sent)),
              server_seconds=server_clock.wall,
              server_bytes_received=int(received),
              client_cpu_seconds=float(np.mean([c.cpu for c in client_clocks])),
              server_cpu_seconds=server_clock.cpu, **more)


def plain_rounds(length, cohorts, seed):
  """The plain sum: clients send float32 bytes, the server adds them. The
  first K clients of one sequence make the round of K, for every K."""
  clocks, sent = [], []
  totals = {k: None for k in cohorts}
  servers = {k: _Clock() for k in cohorts}
  for i, row in enumerate(_rows(length, max(cohorts), seed)):
    with _Clock() as clock:
      message = row.astype(np.float32).tobytes()
    clocks.append(clock)
    sent.append(len(message))
    for k in cohorts:
      if i < k:
        with servers[k]:
          values = np.frombuffer(message, np.float32).astype(np.float64)
          totals[k] = values if totals[k] is None else totals[k] + values
  rows = [_row('plain', k, clocks[:k], sent[:k], servers[k], sum(sent[:k]))
          for k in cohorts]
  return rows, totals


def ckks_rounds(length, cohorts, seed, params, key_holder):
  """The same clients through the CKKS roles (homomorphic.py's round)."""
  public = key_holder.public_context()
  encryptor = ckks.ClientEncryptor(public, params)
  servers = {k: ckks.CiphertextSum(public) for k in cohorts}
  server_clocks = {k: _Clock() for k in cohorts}
  bound = 2.0**params.headroom_bits / max(cohorts)
  clocks, sent = [], []
  for i, row in enumerate(_rows(length, max(cohorts), seed)):
    with _Clock() as clock:
      ciphertexts = encryptor.encrypt(row, bound)
    clocks.append(clock)
    sent.append(sum(len(c) for c in ciphertexts))
    for k in cohorts:
      if i < k:
        with server_clocks[k]:
          servers[k].add(ciphertexts)
  rows, totals = [], {}
  for k in cohorts:
    with server_clocks[k]:
      encrypted = servers[k].result()
    with _Clock() as decrypt:
      totals[k] = key_holder.decrypt(encrypted, length)
    rows.append(_row(
        'ckks', k, clocks[:k], sent[:k], server_clocks[k],
        servers[k].bytes_received, key_holder_seconds=decrypt.wall,
        key_holder_cpu_seconds=decrypt.cpu,
        ciphertexts_per_client=len(ciphertexts)))
  return rows, totals


def main(argv):
  del argv
  runtime.quiet_logging()
  params = ckks.CkksParameters(
      poly_modulus_degree=_DEGREE.value,
      coeff_mod_bit_sizes=tuple(int(b) for b in _COEFF.value),
      scale_bits=_SCALE.value)
  cohorts = [int(c) for c in _CLIENTS.value]
  for k in cohorts:
    params.check_fits(k)
  model = shakespeare_char.create_keras_model(
      model_config.ModelConfig(units=_UNITS.value, num_layers=_LAYERS.value,
                               seed=0), shakespeare_char.DEFAULT_SEQUENCE_LENGTH)
  length = sum(int(np.prod(v.shape)) for v in model.trainable_variables) + 1
  print(f'{length:,} values per client; {max(cohorts)} clients', flush=True)
  start = time.perf_counter()
  key_holder = ckks.KeyHolder(params)
  keygen_seconds = time.perf_counter() - start
  plain, plain_sums = plain_rounds(length, cohorts, _SEED.value)
  encrypted, ckks_sums = ckks_rounds(length, cohorts, _SEED.value, params,
                                     key_holder)
  errors = {k: float(np.max(np.abs(ckks_sums[k] - plain_sums[k])))
            for k in cohorts}
  rows = [r for pair in zip(plain, encrypted) for r in pair]
  results = {
      'meta': {'date': datetime.date.today().isoformat(),
               'cpu': report.cpu_description(), 'cpus': os.cpu_count(),
               'model': f'{_LAYERS.value}x{_UNITS.value} LSTM',
               'values_per_client': length,
               'ckks': params.describe(), 'seed': _SEED.value,
               # The machine is shared: how busy it was, over 1/5/15 min.
               'load_average': os.getloadavg()},
      'columns': list(COLUMNS),
      'rows': rows,
      'public_context_bytes': len(key_holder.public_context()),
      'key_generation_seconds': keygen_seconds,
      'max_abs_error_of_sum': errors}
  command = ' '.join(['.venv/bin/python',
                      'benchmarks/homomorphic_encryption_cost.py',
                      *sys.argv[1:]])
  by = {(r['method'], r['clients']): r for r in rows}
  lines = [
      '# CKKS-encrypted aggregation against the plain sum, per round', '',
      f'Command: `{command}` ({results["meta"]["date"]}, '
      f'{results["meta"]["cpus"]} CPUs, {results["meta"]["cpu"]}; load '
      f'average {results["meta"]["load_average"][0]:.1f} at the end, on a '
      'shared machine). '
      f'{results["meta"]["model"]}: {length:,} values per client (the '
      f'weighted update and its weight). {params.describe()}; public context '
      f'{results["public_context_bytes"] / 1e6:.2f} MB, key generation '
      f'{keygen_seconds:.2f} s. Client figures are per client (mean), server '
      'figures for the whole cohort; seconds are wall clock, with the '
      'process\'s CPU seconds in brackets (the wall clock also counts the '
      'other jobs on the machine). The round of K clients is the first K of '
      'one sequence of clients.', '',
      '| method | clients | client s | client MB sent | server s | server MB '
      'received | key holder s (decrypt) |',
      '| --- | --- | --- | --- | --- | --- | --- |']
  for r in rows:
    decrypt = (f'{r["key_holder_seconds"]:.2f} '
               f'({r["key_holder_cpu_seconds"]:.2f})'
               if 'key_holder_seconds' in r else '–')
    lines.append(
        f'| {r["method"]} | {r["clients"]} | {r["client_seconds"]:.3f} '
        f'({r["client_cpu_seconds"]:.3f}) | '
        f'{r["client_bytes_sent"] / 1e6:.2f} | {r["server_seconds"]:.2f} '
        f'({r["server_cpu_seconds"]:.2f}) | '
        f'{r["server_bytes_received"] / 1e6:.1f} | {decrypt} |')
  lines.append('')
  for k in cohorts:
    c, p = by[('ckks', k)], by[('plain', k)]
    lines.append(
        f'* {k} clients: CKKS sends {c["client_bytes_sent"] / p["client_bytes_sent"]:.1f}x '
        f'the plain bytes ({c["ciphertexts_per_client"]} ciphertexts per '
        f'client); the decrypted sum is within {errors[k]:.1e} of the plain '
        'float64 sum.')
  report.write(_OUTPUT_DIR.value, 'cost', results, lines)
  print('\n'.join(lines))
  return 0


if __name__ == '__main__':
  app.run(main)
