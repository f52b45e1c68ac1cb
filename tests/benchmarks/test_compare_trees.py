"""benchmarks/compare_trees.py: each tree's round runs that tree's own code.

The worker is started as `python -m ...`, which puts the working directory
ahead of PYTHONPATH; a tree run from another tree's directory, or in a venv
whose editable install points elsewhere, would time the wrong code. Two
stand-in trees (a `tff_round.py` speaking round_speed's line protocol and
saying where it runs) pin that each runs in its own directory with its own
venv's python when it has one.
"""

import os
import sys

import pytest

_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
sys.path.insert(0, os.path.join(_ROOT, 'benchmarks'))

import compare_trees  # pylint: disable=g-import-not-at-top,wrong-import-position
import round_speed  # pylint: disable=g-import-not-at-top,wrong-import-position

_STAND_IN_ROUND = '''
import json, os, sys
print(json.dumps({"ready": True, "cwd": os.getcwd(),
                  "python": sys.executable,
                  "pythonpath": os.environ.get("PYTHONPATH")}), flush=True)
for line in sys.stdin:
  print(json.dumps({"seconds": 0.01}), flush=True)
'''


def _tree(root, name, own_venv):
  tree = root / name
  (tree / 'benchmarks').mkdir(parents=True)
  (tree / 'benchmarks' / 'tff_round.py').write_text(_STAND_IN_ROUND)
  if own_venv:
    (tree / '.venv' / 'bin').mkdir(parents=True)
    os.symlink(sys.executable, tree / '.venv' / 'bin' / 'python')
  return str(tree)


def test_each_tree_runs_in_its_own_directory_and_venv(tmp_path):
  trees = compare_trees.parse_trees(
      [f'own={_tree(tmp_path, "own", True)}',
       f'shared={_tree(tmp_path, "shared", False)}'])
  results = round_speed.run_interleaved(
      compare_trees.configs(trees, str(tmp_path / 'unused.npz'),
                            torch_peer=False), rounds=2)

  own, shared = results['ours_own'], results['ours_shared']
  assert own['cwd'] == trees['own'] and shared['cwd'] == trees['shared']
  assert own['pythonpath'] == trees['own']
  assert own['python'] == os.path.join(trees['own'], '.venv', 'bin', 'python')
  assert shared['python'] == sys.executable
  assert len(own['round_s']) == 2


def test_a_tree_without_the_round_script_is_refused(tmp_path):
  (tmp_path / 'empty').mkdir()
  with pytest.raises(Exception, match='no .*tff_round.py'):
    compare_trees.parse_trees([f'empty={tmp_path / "empty"}'])


def test_the_width_reaches_every_tree(tmp_path):
  trees = compare_trees.parse_trees(
      [f'a={_tree(tmp_path, "a", True)}', f'b={_tree(tmp_path, "b", False)}'])
  entries = compare_trees.configs(trees, str(tmp_path / 'unused.npz'),
                                  torch_peer=False, units=512)
  assert len(entries) == 2
  assert all('--units=512' in argv for _, argv, *_ in entries)
