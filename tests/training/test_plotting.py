"""Accuracy/loss plots of experiment dirs, from hand-written metrics.csv files.

A real centralized run's output is plotted in test_centralized.py, which
trains one anyway.
"""

import csv
import os
import subprocess
import sys

import pytest

from tff_lstm.training import plotting

_BINARY = os.path.join(os.path.dirname(__file__), '..', '..', 'experiments',
                       'plot_metrics.py')
_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def _write_csv(exp_dir, header, rows):
  os.makedirs(exp_dir, exist_ok=True)
  with open(os.path.join(exp_dir, 'metrics.csv'), 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(header)
    writer.writerows(rows)
  return str(exp_dir)


def _federated_dir(path):
  """As run_federated writes it: eval every 2nd round, examples per round."""
  return _write_csv(path, [
      'round', 'evaluation/test/accuracy', 'evaluation/test/loss',
      'client_work/train/loss', 'client_work/train/num_examples'], [
          [0, 0.02, 4.5, '', ''],
          [1, '', '', 4.1, 210],
          [2, 0.16, 3.3, 3.4, 192],
          [3, '', '', 3.2, 206],
          [4, 0.18, 3.1, 3.1, 200],
      ])


def _centralized_dir(path):
  return _write_csv(path, [
      'round', 'evaluation/test/accuracy', 'evaluation/test/loss',
      'examples_seen', 'steps'], [
          [0, 0.01, 4.5, 0, 0],
          [1, 0.15, 3.4, 400, 100],
          [2, 0.19, 3.0, 800, 200],
      ])


def _assert_png(path):
  with open(path, 'rb') as f:
    data = f.read()
  assert data.startswith(_PNG_SIGNATURE)
  assert len(data) > 1000


def test_constants_match_the_writers():
  from tff_lstm.training import outputs  # pylint: disable=g-import-not-at-top
  assert plotting.METRICS_CSV == outputs.METRICS_CSV
  assert plotting.ROUND_KEY == outputs.ROUND_KEY


def test_rows_without_evaluation_are_skipped(tmp_path):
  curves = plotting.read_curves(_federated_dir(tmp_path / 'fed'))
  assert curves.label == 'fed'
  assert curves.x == [0, 2, 4]
  assert curves.accuracy == [0.02, 0.16, 0.18]
  assert curves.loss == [4.5, 3.3, 3.1]


def test_examples_seen_axis_for_federated_and_centralized_runs(tmp_path):
  federated = plotting.read_curves(_federated_dir(tmp_path / 'fed'),
                                   x_axis='examples_seen')
  assert federated.x == [0, 402, 808]  # running sum of num_examples
  central = plotting.read_curves(_centralized_dir(tmp_path / 'c'),
                                 x_axis='examples_seen', label='central')
  assert central.x == [0, 400, 800] and central.label == 'central'


def test_plot_of_two_dirs_is_a_png(tmp_path):
  output = str(tmp_path / 'plots' / 'both.png')
  path = plotting.plot_experiments(
      [_federated_dir(tmp_path / 'fed'), _centralized_dir(tmp_path / 'c')],
      output, labels=['FedAvg', 'centralized'], x_axis='examples_seen')
  assert path == output
  _assert_png(output)


def test_missing_metrics_and_missing_evaluations_name_the_dir(tmp_path):
  missing = str(tmp_path / 'never_ran')
  with pytest.raises(plotting.PlotDataError,
                     match=f'{missing}: no metrics.csv'):
    plotting.read_curves(missing)
  no_eval = _write_csv(tmp_path / 'no_eval',
                       ['round', 'client_work/train/loss'],
                       [[1, 4.0], [2, 3.5]])
  with pytest.raises(plotting.PlotDataError,
                     match=f'{no_eval}: metrics.csv has no evaluation rows'):
    plotting.read_curves(no_eval)
  empty = _write_csv(tmp_path / 'empty', ['round', 'evaluation/test/loss'], [])
  with pytest.raises(plotting.PlotDataError, match='no evaluation rows'):
    plotting.read_curves(empty)
  round_only = _write_csv(tmp_path / 'round_only',
                          ['round', 'evaluation/test/loss'], [[0, 4.0]])
  with pytest.raises(plotting.PlotDataError, match='use --x_axis=round'):
    plotting.read_curves(round_only, x_axis='examples_seen')


def test_labels_must_match_the_dirs(tmp_path):
  fed = _federated_dir(tmp_path / 'fed')
  with pytest.raises(ValueError, match='2 labels for 1 experiment dirs'):
    plotting.plot_experiments([fed], str(tmp_path / 'x.png'), labels=['a', 'b'])
  assert not os.path.exists(tmp_path / 'x.png')


def _run(*flags):
  return subprocess.run([sys.executable, _BINARY, *flags], capture_output=True,
                        text=True, timeout=120)


def test_binary_writes_the_png(tmp_path):
  dirs = ','.join([_federated_dir(tmp_path / 'fed'),
                  _centralized_dir(tmp_path / 'c')])
  output = str(tmp_path / 'cli.png')
  run = _run(f'--experiment_dirs={dirs}', f'--output={output}',
             '--labels=FedAvg,centralized', '--x_axis=examples_seen')
  assert run.returncode == 0, run.stderr
  assert f'wrote {output}' in run.stdout
  _assert_png(output)


def test_binary_names_a_missing_dir(tmp_path):
  missing = str(tmp_path / 'typo')
  run = _run(f'--experiment_dirs={_federated_dir(tmp_path / "fed")},{missing}',
             f'--output={tmp_path / "no.png"}')
  assert run.returncode != 0
  assert f'error: {missing}: no metrics.csv' in run.stderr
  assert 'Traceback' not in run.stderr
  assert not os.path.exists(tmp_path / 'no.png')


def test_binary_requires_dirs_and_output():
  run = _run('--output=x.png')
  assert run.returncode != 0
  assert 'experiment_dirs' in run.stderr and 'Traceback' not in run.stderr
