"""benchmarks/probes/real_round_tail.py: a bench result's own rounds, or none.

The probe pairs a `make bench` result's real-round timings with those rounds'
sizes. Run as documented (PYTHONPATH=.:benchmarks), it must take the sizes the
result recorded without reading any database, and refuse, naming the file,
to rebuild rounds from a database other than the one the result ran on.
"""

import json
import os
import subprocess
import sys

_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
_PROBE = os.path.join(_ROOT, 'benchmarks', 'probes', 'real_round_tail.py')


def _result(path, **extra):
  """A round_speed.json of 3 rounds (the first a warm-up), ours and the peer."""
  results = {'meta': {'rounds': 3, **extra.pop('meta', {})},
             'real': {'ours': {'round_s': [9.0, 2.0, 3.0]},
                      'torch_peer': {'round_s': [9.0, 1.0, 1.8]}},
             **extra}
  path.write_text(json.dumps(results))
  return str(path)


def _probe(*args):
  env = dict(os.environ, PYTHONPATH=os.pathsep.join(
      [_ROOT, os.path.join(_ROOT, 'benchmarks')]))
  return subprocess.run([sys.executable, _PROBE, *args], env=env, cwd=_ROOT,
                        capture_output=True, text=True, timeout=600)


def test_recorded_rounds_are_used_without_a_database(tmp_path):
  # Round 1: 10 clients of 4 sequences and one of 40 -> 20 batches, longest 10.
  # Round 2: clients of 8 and 24 sequences at batch 4 -> 8 batches, longest 6.
  path = _result(tmp_path / 'round_speed.json', sequences={
      'real_2_3': [[4, 4], [4] * 10 + [40], [8, 24]]})
  empty = tmp_path / 'no_database_here'
  empty.mkdir()
  run = _probe(f'--round_speed={path}', '--clients=2', f'--cache_dir={empty}')
  assert run.returncode == 0, run.stderr
  lines = run.stdout.splitlines()
  assert '1 | 20 | 10 | 200.0 | 50.0' in lines
  assert '2 | 8 | 6 | 500.0 | 225.0' in lines
  assert 'median longest share of batches: 0.62' in lines   # (0.5 + 0.75) / 2
  assert 'median ours ms per batch of the longest client: 350.0' in lines
  assert 'median peer ms per batch: 137.5' in lines


def test_a_result_from_another_database_is_refused(tmp_path,
                                                   shakespeare_cache_dir):
  path = _result(tmp_path / 'round_speed.json',
                 meta={'data': {'shakespeare.sqlite': 'another build'}})
  run = _probe(f'--round_speed={path}', f'--cache_dir={shakespeare_cache_dir}')
  assert run.returncode == 2
  assert run.stdout == ''
  error = run.stderr.strip().splitlines()[-1]
  assert error.startswith(f'error: --round_speed {path} ran on ')
  assert "'another build'" in error and 'cannot be rebuilt' in error
