"""The results/*/run.sh scripts, run as a user would: from another clone.

A copy of the parts of this clone a results script uses (its results dir,
results/common.sh, the budget helper and the binaries it calls; tff_lstm
linked) stands for another clone; the scripts run from elsewhere, with
TRAIN=none so nothing trains.
"""

import glob
import os
import shutil
import subprocess
import sys

import pytest

_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
_SCRIPTS = sorted(glob.glob(os.path.join(_ROOT, 'results', '*', 'run.sh')))


@pytest.fixture
def clone(tmp_path):
  root = tmp_path / 'clone'
  (root / 'results').mkdir(parents=True)
  shutil.copy(os.path.join(_ROOT, 'results', 'common.sh'), root / 'results')
  shutil.copytree(os.path.join(_ROOT, 'results', 'reproductions'),
                  root / 'results' / 'reproductions')
  (root / 'tools').mkdir()
  shutil.copy(os.path.join(_ROOT, 'tools', 'budgeted_run.sh'), root / 'tools')
  (root / 'experiments').mkdir()
  for binary in ('record_runs.py', 'summarize_runs.py', 'plot_metrics.py'):
    shutil.copy(os.path.join(_ROOT, 'experiments', binary),
                root / 'experiments')
  os.symlink(os.path.join(_ROOT, 'tff_lstm'), root / 'tff_lstm')
  return root


def _reproduce(clone, cwd, **env):
  return subprocess.run(
      ['bash', str(clone / 'results' / 'reproductions' / 'run.sh')],
      cwd=cwd, capture_output=True, text=True, timeout=300,
      env=dict(os.environ, TRAIN='none', **env))


def _snapshot(directory):
  """Every file under `directory` (its presets in flags/ too), by relative path."""
  return {str(path.relative_to(directory)): path.read_bytes()
          for path in sorted(directory.rglob('*')) if path.is_file()}


def test_a_partial_run_never_replaces_the_recorded_results(clone, tmp_path):
  results = clone / 'results' / 'reproductions'
  before = _snapshot(results)
  # The FedAvg reproduction, stopped at round 1.
  partial = clone / 'runs' / 'reproductions' / 'fedavg'
  partial.mkdir(parents=True)
  with open(results / 'fedavg.metrics.csv') as f:
    partial.joinpath('metrics.csv').write_text(
        ''.join(f.readline() for _ in range(3)))
  partial.joinpath('hparams.json').write_text('{}')
  done = _reproduce(clone, tmp_path, PY=sys.executable)
  assert done.returncode == 2, done.stdout + done.stderr
  assert done.stderr.strip().splitlines()[-1] == (
      'error: refused: runs/reproductions/fedavg is a partial run: '
      'metrics.csv reaches round 1 but there is no final_metrics.json (it '
      'stopped before its final evaluation). Finish it by rerunning its '
      'command, then record it. results/reproductions/fedavg.metrics.csv '
      '(1,200 rounds, 608,950 examples) stays as recorded. Nothing was '
      'written.')
  assert _snapshot(results) == before  # CSVs, README row, plots


def test_from_another_clone_it_rebuilds_from_the_recorded_files(
    clone, tmp_path):
  results = clone / 'results' / 'reproductions'
  before = _snapshot(results)
  for plot in ('fedopt_accuracy.png', 'dp_accuracy.png'):
    os.remove(results / plot)
  done = _reproduce(clone, tmp_path, PY=os.path.relpath(sys.executable,
                                                        tmp_path))
  assert done.returncode == 0, done.stdout + done.stderr
  assert 'fedavg: no run at runs/reproductions/fedavg; kept results/' \
      'reproductions/fedavg.metrics.csv' in done.stdout
  after = _snapshot(results)
  # Tables and README rebuilt to the same text; the plots drawn again.
  assert {k: v for k, v in after.items() if not k.endswith('.png')} == {
      k: v for k, v in before.items() if not k.endswith('.png')}
  for plot in ('fedopt_accuracy.png', 'dp_accuracy.png'):
    assert after[plot].startswith(b'\x89PNG')


def test_without_a_python_it_says_how_to_get_one(clone, tmp_path):
  done = _reproduce(clone, tmp_path, PY=str(tmp_path / 'no' / 'python'))
  assert done.returncode == 2
  assert done.stderr.strip() == (
      f'results: no Python at PY={tmp_path}/no/python: run \'make setup\' in '
      f'{clone}, or set PY=/path/to/python')


@pytest.mark.parametrize('script', _SCRIPTS,
                         ids=lambda p: os.path.basename(os.path.dirname(p)))
def test_every_results_script_records_through_the_check(script):
  with open(script) as f:
    text = f.read()
  assert 'source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"' in text
  assert 'record_runs ' in text
  # No interpreter path of one clone, no copy that could skip the check.
  assert '.venv/bin/python' not in text
  assert 'cp "$OUT' not in text and 'cp $OUT' not in text
