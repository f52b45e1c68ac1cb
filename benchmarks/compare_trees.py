"""A/B of a candidate change: the `ours` round from several source trees.

Checks out nothing itself: give it trees (the main checkout, git worktrees of
candidate branches) and it times `ours` from each, interleaved with the PyTorch
peer, on the same fixed rounds as `make bench` (round_speed.py), so a change's
speed-up is a ratio taken within one run. Each tree runs its own
benchmarks/tff_round.py with its own `tff_lstm` first on PYTHONPATH, in its
own venv when it has one (`<tree>/.venv/bin/python`, as a clean clone has
after `make setup`), else in this one, and in the tree as its working
directory: the worker is started as `python -m ...`, which puts the working
directory ahead of PYTHONPATH, so a tree run from another tree's directory
would start the other tree's worker.

  .venv/bin/python benchmarks/compare_trees.py \\
      --trees=main=.,groups=../wt-groups --output=/tmp/ab.json
  # two clean clones, each after its own `make setup`:
  .venv/bin/python benchmarks/compare_trees.py \\
      --trees=before=/tmp/before,after=/tmp/after --output=/tmp/ab.json
"""

import datetime
import json
import os
import sys
import tempfile

from absl import app
from absl import flags

import report
import round_data
import round_speed

_TREES = flags.DEFINE_list(
    'trees', None, 'name=path pairs: source trees to compare (path holds '
    'tff_lstm/ and benchmarks/).')
_KINDS = flags.DEFINE_list('kinds', ['uniform', 'real'],
                           'Round kinds (see round_data.py).')
_CLIENTS = flags.DEFINE_integer('clients', 10, 'Clients per round.')
_UNITS = flags.DEFINE_integer('units', 256, 'LSTM width, for ours and the peer.')
_PEER = flags.DEFINE_bool('torch_peer', True, 'Also time the PyTorch peer.')
_OUTPUT = flags.DEFINE_string('output', None, 'JSON file for the results.')
flags.mark_flags_as_required(['trees', 'output'])


def parse_trees(pairs):
  """['name=path', ...] -> {name: absolute path}, each checked."""
  trees = {}
  for pair in pairs:
    name, sep, path = pair.partition('=')
    if not sep or not name or not path:
      raise app.UsageError(f'--trees entry {pair!r} is not name=path.')
    path = os.path.abspath(path)
    script = os.path.join(path, 'benchmarks', 'tff_round.py')
    if not os.path.isfile(script):
      raise app.UsageError(f'--trees {name}: no {script}.')
    trees[name] = path
  return trees


def tree_python(path):
  """The tree's own venv's python if it has one, else this process's."""
  own = os.path.join(path, '.venv', 'bin', 'python')
  return own if os.access(own, os.X_OK) else sys.executable


def configs(trees, data, torch_peer=True, units=256):
  """`ours` from every tree, then the peer; each tree's code first on the path."""
  entries = []
  for name, path in trees.items():
    argv = [tree_python(path), os.path.join(path, 'benchmarks', 'tff_round.py'),
            '--config=ours', f'--data={data}', f'--units={units}']
    env = dict(os.environ, PYTHONPATH=path)
    entries.append((f'ours_{name}', argv, env, path))
  if torch_peer:
    entries.append(('torch_peer',
                    round_speed.torch_argv('sequential', data, units)))
  return entries


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  trees = parse_trees(_TREES.value)
  rounds = flags.FLAGS.rounds  # round_speed's flag
  results = {'command': ' '.join(sys.argv), 'rounds': rounds,
             'date': datetime.date.today().isoformat(),
             'cpu': report.cpu_description(), 'cpus': os.cpu_count(),
             'pythons': {name: tree_python(path)
                         for name, path in trees.items()}}
  with tempfile.TemporaryDirectory() as tmp:
    for kind in _KINDS.value:
      data = os.path.join(tmp, f'{kind}.npz')
      round_data.save(data, round_data.build_rounds(kind, rounds,
                                                    _CLIENTS.value))
      results[kind] = round_speed.run_interleaved(
          configs(trees, data, _PEER.value, _UNITS.value), rounds)
      first, *others = trees
      results.setdefault('paired', {})[kind] = {
          name: round_speed.paired(results[kind], f'ours_{name}',
                                   f'ours_{first}') for name in others}
  with open(_OUTPUT.value, 'w') as f:
    json.dump(results, f, indent=2, sort_keys=True)
    f.write('\n')
  for kind in _KINDS.value:
    for key, r in results[kind].items():
      print(f'{kind} {key}: median {r["median_s"]:.2f} s/round, peak RSS '
            f'{r["peak_rss_mb"]:.0f} MB')
    for name, c in results['paired'][kind].items():
      print(f'{kind} {name}: {c["median_ratio"]:.3f}x the first tree\'s time '
            f'round by round, faster in {c["ours_faster"]} of {c["rounds"]}')


if __name__ == '__main__':
  app.run(main)
