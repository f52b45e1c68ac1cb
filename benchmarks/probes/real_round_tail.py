"""Probe: how much of a real round is its longest client, against the peer.

Reads a `make bench` result (round_speed.json) and its real rounds' sizes:
the sequences per client it recorded, or, for a result that predates that
record, the rounds rebuilt from the database (round_data.build_rounds with the
bench's seed, round count and clients per round), which are the bench's rounds
only on the database it ran on: the probe refuses a database whose content
hash differs from a recorded one, and warns when none is recorded. It prints
per round: the cohort's batches, the longest
client's, `ours` milliseconds per batch of the longest client, and the peer's
milliseconds per batch of the whole round; then the medians over the timed
rounds. A round where one client trains alone for most of it shows what a
one-client step costs ours against a step of the peer.

  PYTHONPATH=.:benchmarks .venv/bin/python benchmarks/probes/real_round_tail.py \\
      [--round_speed=results/benchmarks/round_speed.json]
"""
import json
import math
import os
import statistics
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags  # pylint: disable=g-import-not-at-top

_ROUND_SPEED = flags.DEFINE_string(
    'round_speed', 'results/benchmarks/round_speed.json',
    'A round_speed.json written by make bench (it must have a real section).')
# round_speed.py builds its real rounds with these (round_data's defaults).
_CLIENTS = flags.DEFINE_integer('clients', 10, 'Clients per real round, as '
                                'round_speed.py drew them.', lower_bound=1)
_BATCH = flags.DEFINE_integer('batch_size', 4, 'Client batch size, as '
                              'tff_round.py and torch_peer.py batch.',
                              lower_bound=1)
_SEED = flags.DEFINE_integer('seed', 0, 'round_data seed, as round_speed.py '
                             'used it.')
_CACHE_DIR = flags.DEFINE_string(
    'cache_dir', None, 'Where the Shakespeare database is (default: the '
    'project cache, where make data puts it); read only for a result that '
    'does not record its rounds.')


def _load(path):
  """round_speed.json parsed; its rounds; its real rounds' seconds: ours, peer."""
  try:
    with open(path) as f:
      results = json.load(f)
    real = results['real']
    return (results, results['meta']['rounds'], real['ours']['round_s'],
            real['torch_peer']['round_s'])
  except (OSError, ValueError) as e:
    raise ValueError(f'--round_speed {path}: {e}') from e
  except KeyError as e:
    raise ValueError(f'--round_speed {path}: no {e} (not a full make bench '
                     'result)') from e


def _sequences(results, num_rounds, path):
  """[round][client] sequences of the bench's real rounds."""
  recorded = results.get('sequences', {}).get(
      f'real_{_CLIENTS.value}_{num_rounds}')
  if recorded is not None:
    return recorded
  # Imported here: it loads TensorFlow and TFF, which reading a result that
  # records its rounds does not need.
  import round_data  # pylint: disable=g-import-not-at-top
  current = round_data.database_identity(_CACHE_DIR.value)
  if 'data' in results['meta']:
    if results['meta']['data'] != current:
      raise ValueError(
          f'--round_speed {path} ran on {results["meta"]["data"]}, the '
          f'database is now {current}: its rounds cannot be rebuilt.')
  else:
    print(f'warning: {path} records neither its rounds nor its database; '
          f'rebuilding them from {current}, which gives its rounds only if '
          'the bench ran on this database.')
  return round_data.sequence_counts(round_data.build_rounds(
      'real', num_rounds, _CLIENTS.value, seed=_SEED.value,
      cache_dir=_CACHE_DIR.value))


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  try:
    results, num_rounds, ours, peer = _load(_ROUND_SPEED.value)
    sequences = _sequences(results, num_rounds, _ROUND_SPEED.value)
  except (ValueError, FileNotFoundError) as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  rows = []
  for r, clients in enumerate(sequences):
    batches = [math.ceil(n / _BATCH.value) for n in clients]
    rows.append((sum(batches), max(batches), ours[r], peer[r]))
  print('round | batches | longest | ours ms/longest batch | peer ms/batch')
  for r, (total, longest, o, p) in enumerate(rows):
    print(f'{r} | {total} | {longest} | {1000 * o / longest:.1f} | '
          f'{1000 * p / total:.1f}')
  timed = rows[1:]   # round 0 is the warm-up
  print('timed rounds:', len(timed))
  print('median longest share of batches:',
        f'{statistics.median(l / t for t, l, _, _ in timed):.2f}')
  print('median ours ms per batch of the longest client:',
        f'{statistics.median(1000 * o / l for _, l, o, _ in timed):.1f}')
  print('median peer ms per batch:',
        f'{statistics.median(1000 * p / t for t, _, _, p in timed):.1f}')


if __name__ == '__main__':
  app.run(main)
