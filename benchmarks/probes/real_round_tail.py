"""Probe: how much of a real round is its longest client, against the peer.

Reads a `make bench` result (round_speed.json) and rebuilds its real rounds'
batch counts (round_data.build_rounds with the bench's seed and round count,
batches of 4), then prints per timed round: the cohort's batches, the longest
client's, `ours` seconds per batch of the longest client, and the peer's
seconds per batch of the whole round; then the medians. A round where one
client trains alone for most of it shows what a one-client step costs ours
against a step of the peer.

  .venv/bin/python benchmarks/probes/real_round_tail.py [round_speed.json]
"""
import json
import math
import os
import statistics
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
sys.path.insert(0, '.')
sys.path.insert(0, 'benchmarks')
import round_data  # pylint: disable=g-import-not-at-top

_BATCH = 4
_CLIENTS = 10   # round_speed.py's real rounds


def main():
  path = sys.argv[1] if len(sys.argv) > 1 else (
      'results/benchmarks/round_speed.json')
  with open(path) as f:
    results = json.load(f)
  real = results['real']
  ours, peer = real['ours']['round_s'], real['torch_peer']['round_s']
  rounds = round_data.build_rounds('real', results['meta']['rounds'],
                                   _CLIENTS)
  rows = []
  for r, clients in enumerate(rounds):
    batches = [math.ceil(len(x) / _BATCH) for x, _ in clients]
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
  main()
