"""record_runs.py: what a results script calls to record its runs."""

import json
import os
import subprocess
import sys

_BINARY = os.path.join(os.path.dirname(__file__), '..', '..', 'experiments',
                       'record_runs.py')


def test_a_partial_run_is_refused_in_one_line_and_nothing_is_written(
    tmp_path):
  results = tmp_path / 'results'
  results.mkdir()
  (results / 'fedavg.metrics.csv').write_text(
      'round,evaluation/test/accuracy\n0,0.01\n1,\n2,0.2\n')
  run = tmp_path / 'runs' / 'fedavg'
  run.mkdir(parents=True)
  (run / 'metrics.csv').write_text('round,evaluation/test/accuracy\n0,0.01\n')
  (run / 'hparams.json').write_text(json.dumps({'task': 'shakespeare_char'}))
  before = sorted(os.listdir(results))
  done = subprocess.run(
      [sys.executable, _BINARY, f'--runs_dir={tmp_path / "runs"}',
       f'--results_dir={results}', '--names=fedavg'],
      capture_output=True, text=True, timeout=120,
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3'))
  assert done.returncode == 2
  errors = [l for l in done.stderr.splitlines() if l.startswith('error:')]
  assert errors == [
      f'error: refused: {run} is a partial run: metrics.csv reaches round 0 '
      'but there is no final_metrics.json (it stopped before its final '
      'evaluation). Finish it by rerunning its command, then record it. '
      f'{results}/fedavg.metrics.csv (2 rounds) stays as recorded. Nothing '
      'was written.']
  assert 'Traceback' not in done.stderr
  assert sorted(os.listdir(results)) == before
