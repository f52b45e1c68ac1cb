"""benchmarks/worker_memory.py: a private run's memory, round by round.

`make bench-memory` is where the worker's growth per round is shown, so its
DP configuration must build and train the real DP process fed client ids,
and the report must carry a resident size for every round of it.
"""

import json
import os
import subprocess
import sys

_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
_BENCH = os.path.join(_ROOT, 'benchmarks', 'worker_memory.py')
_ROUNDS = 7  # two past the warm-up the slope leaves out


def test_dp_configuration_reports_every_round(tmp_path):
  env = dict(os.environ, PYTHONPATH=os.pathsep.join(
      [_ROOT, os.path.join(_ROOT, 'benchmarks')]))
  done = subprocess.run(
      [sys.executable, _BENCH, '--configs=ids_dp', f'--rounds={_ROUNDS}',
       f'--output_dir={tmp_path}'],
      env=env, cwd=_ROOT, capture_output=True, text=True, timeout=600)
  assert done.returncode == 0, done.stderr[-3000:]
  results = json.loads((tmp_path / 'worker_memory.json').read_text())
  rows = results['ids_dp']['rounds']
  assert [r['round'] for r in rows] == list(range(1, _ROUNDS + 1))
  # A worker that holds the model, TF's kernels and a DP aggregator's state
  # is hundreds of MB; Python holds TensorFlow itself.
  assert all(r['worker_mb'] > 100 and r['python_mb'] > 300 for r in rows)
  assert results['ids_dp']['worker_mb_peak'] == max(
      r['worker_mb'] for r in rows)
  assert '| ids_dp |' in (tmp_path / 'worker_memory.md').read_text()
