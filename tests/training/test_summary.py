"""Results tables come from a run's own metrics.csv and final_metrics.json."""

import json
import math

import pytest

from tff_lstm.training import plotting
from tff_lstm.training import summary


def _write_run(path, rows, final=None):
  path.mkdir()
  keys = sorted({k for row in rows for k in row})
  lines = [','.join(keys)] + [
      ','.join(str(row.get(k, '')) for k in keys) for row in rows]
  (path / 'metrics.csv').write_text('\n'.join(lines) + '\n')
  if final is not None:
    (path / 'final_metrics.json').write_text(json.dumps(final))
  return str(path)


def test_row_figures_come_from_the_run(tmp_path):
  acc = plotting.ACCURACY
  run = _write_run(tmp_path / 'fedavg', [
      {'round': 0, acc: 0.01},
      {'round': 1, 'client_work/train/num_examples': 40,
       'training_time_in_seconds': 3.0},
      {'round': 2, 'client_work/train/num_examples': 60, acc: 0.2,
       'training_time_in_seconds': 5.0,
       'aggregator/mean_value/client_to_server_bytes': 1024 * 1024,
       'aggregator/mean_value/uncompressed_bytes': 4 * 1024 * 1024},
      {'round': 3, 'client_work/train/num_examples': 50,
       'training_time_in_seconds': 4.0, 'privacy/epsilon': 2.5,
       'privacy/delta': 1e-5},
  ], final={'final_test': {'accuracy': 0.25, 'loss': 1.5}})
  s = summary.summarize_run(run, at_rounds=[2, 3])
  assert s['rounds'] == 3 and s['examples_seen'] == 150
  assert s['metric_at'][2] == 0.2 and math.isnan(s['metric_at'][3])
  assert s['median_round_s'] == 4.0 and s['training_s'] == 12.0
  assert s['final_metric'] == 0.25 and s['epsilon'] == 2.5
  assert s['delta'] == 1e-5
  assert s['bytes_after'] == 2**20 and s['bytes_before'] == 4 * 2**20
  table = summary.markdown_table([s], [2, 3])
  assert '| fedavg | 3 | 150 | 0.2000 | – | 0.2500 | 1.5000 | 4.00 | 0.00 | 2.50 | 1e-05 | 1.0 | 4.0 |' in table
  assert '| epsilon | at delta |' in table


def test_optional_columns_only_when_some_run_has_them(tmp_path):
  run = _write_run(tmp_path / 'plain', [{'round': 1, plotting.ACCURACY: 0.3}])
  table = summary.markdown_table([summary.summarize_run(run)])
  assert 'epsilon' not in table and 'MB' not in table
  assert '| plain | 1 |' in table


def test_missing_metrics_names_the_dir(tmp_path):
  with pytest.raises(plotting.PlotDataError, match='nothing_here'):
    summary.summarize_run(str(tmp_path / 'nothing_here'))


def test_rounds_to_target_and_wall_time(tmp_path):
  acc = plotting.ACCURACY
  eval_s = summary.EVAL_SECONDS
  rows = [{'round': 0, acc: 0.1, eval_s: 2.0},
          {'round': 10, acc: 0.5, eval_s: 2.0, 'training_time_in_seconds': 6.0},
          {'round': 20, acc: 0.55, eval_s: 2.0, 'training_time_in_seconds': 6.0},
          {'round': 30, acc: 0.53, 'training_time_in_seconds': 6.0}]
  fast = summary.summarize_run(_write_run(tmp_path / 'fast', rows),
                               target=0.54)
  slow = summary.summarize_run(_write_run(tmp_path / 'slow', rows[:2]),
                               target=0.54)
  assert fast['rounds_to_target'] == 20 and fast['wall_s'] == 24.0
  assert math.isnan(slow['rounds_to_target'])
  table = summary.markdown_table([fast, slow])
  assert 'rounds to 54%' in table and 'training + eval h' in table
  assert table.splitlines()[2].endswith('| 0.01 | 20 |')
  assert table.splitlines()[3].endswith('| not reached |')


def test_mean_accuracy_over_the_last_rounds(tmp_path):
  acc = plotting.ACCURACY
  rows = [{'round': r, acc: a} for r, a in
          [(0, 0.1), (20, 0.3), (40, 0.4), (60, 0.5), (80, 0.6)]]
  rows += [{'round': 81, 'training_time_in_seconds': 1.0}]
  s = summary.summarize_run(_write_run(tmp_path / 'run', rows),
                            mean_last_rounds=40)
  # Rounds 42..81 hold the evaluations of rounds 60 and 80.
  assert s['mean_metric_last'] == pytest.approx(0.55)
  table = summary.markdown_table([s])
  assert 'mean test acc, last 40 rounds' in table and '| 0.5500 |' in table
  plain = summary.summarize_run(_write_run(tmp_path / 'plain', rows))
  assert 'mean test acc' not in summary.markdown_table([plain])
  short = summary.summarize_run(_write_run(tmp_path / 'short', rows),
                                mean_last_rounds=100)
  assert math.isnan(short['mean_metric_last'])


def test_a_final_evaluation_of_an_earlier_round_is_left_out(tmp_path):
  acc = plotting.ACCURACY
  rows = [{'round': 0, acc: 0.1}, {'round': 150, acc: 0.4},
          {'round': 170, acc: 0.45}]
  final = {'final_test': {'accuracy': 0.43, 'loss': 1.9}, 'rounds': 150}
  continued = summary.summarize_run(
      _write_run(tmp_path / 'continued', rows, final))
  assert math.isnan(continued['final_metric'])
  assert math.isnan(continued['final_loss'])
  current = summary.summarize_run(
      _write_run(tmp_path / 'current', rows[:2], final))
  assert current['final_metric'] == 0.43


def test_round_counted_columns_are_blank_for_a_centralized_run(tmp_path):
  acc = plotting.ACCURACY
  seen = plotting.EXAMPLES_SEEN
  rows = [{'round': 0, acc: 0.01, seen: 0},
          {'round': 1, acc: 0.5, seen: 4000, 'training_time_in_seconds': 70.0},
          {'round': 2, acc: 0.6, seen: 8000, 'training_time_in_seconds': 72.0}]
  s = summary.summarize_run(_write_run(tmp_path / 'centralized', rows),
                            at_rounds=[1], target=0.54,
                            mean_last_rounds=100)
  # Its "rounds" are evaluations every N steps, not federated rounds.
  assert not s['federated'] and s['examples_seen'] == 8000
  assert math.isnan(s['rounds_to_target'])
  assert math.isnan(s['mean_metric_last'])
  table = summary.markdown_table([s], at_rounds=[1])
  header, row = [[c.strip() for c in line.strip('|').split('|')]
                 for line in table.splitlines()[::2]]
  cells = dict(zip(header, row))
  assert cells['rounds'] == cells['median s/round'] == '–'
  # Its evaluation point 1 (4,000 examples here) is not federated round 1,
  # so beside federated runs it would compare unlike amounts of training.
  assert cells['test acc @1'] == '–'
  assert cells['examples seen'] == '8,000'
  assert cells['rounds to 54%'] == '–' and 'not reached' not in table


def test_a_forecasting_table_follows_its_own_metric(tmp_path):
  mae = 'evaluation/test/mean_absolute_error'
  rows = [{'round': 0, mae: 2.0, 'evaluation/test/loss': 9.0},
          {'round': 10, mae: 0.9, 'training_time_in_seconds': 2.0},
          {'round': 20, mae: 0.4, 'training_time_in_seconds': 2.0}]
  final = {'final_test': {'mean_absolute_error': 0.45, 'loss': 0.3},
           'rounds': 20}
  run = _write_run(tmp_path / 'forecast', rows, final)
  s = summary.summarize_run(run, at_rounds=[10], target=0.5, metric=mae)
  # Errors reach a target from above.
  assert s['rounds_to_target'] == 20 and s['final_metric'] == 0.45
  table = summary.markdown_table([s], at_rounds=[10])
  header, row = [[c.strip() for c in line.strip('|').split('|')]
                 for line in table.splitlines()[::2]]
  cells = dict(zip(header, row))
  assert cells['test mean absolute error @10'] == '0.9000'
  assert cells['final test mean absolute error (full split)'] == '0.4500'
  assert cells['rounds to test mean absolute error ≤ 0.5'] == '20'
  with pytest.raises(plotting.PlotDataError,
                     match="did not record 'evaluation/test/accuracy'"):
    summary.summarize_run(run)


def test_a_recorded_copy_summarizes_like_its_experiment_dir(tmp_path):
  acc = plotting.ACCURACY
  rows = [{'round': 0, acc: 0.1}, {'round': 5, acc: 0.3}]
  final = {'final_test': {'accuracy': 0.29, 'loss': 2.0}, 'rounds': 5}
  run = _write_run(tmp_path / 'fedavg', rows, final)
  results = tmp_path / 'results'
  results.mkdir()
  (results / 'fedavg.metrics.csv').write_text(
      (tmp_path / 'fedavg' / 'metrics.csv').read_text())
  (results / 'fedavg.final_metrics.json').write_text(json.dumps(final))
  from_dir = summary.summarize_run(run, at_rounds=[5])
  from_copy = summary.summarize_run(str(results / 'fedavg.metrics.csv'),
                                    at_rounds=[5])
  assert summary.markdown_table([from_copy], [5]) == summary.markdown_table(
      [from_dir], [5])  # (NaN != NaN, so compare what the table shows)
  assert from_copy['label'] == 'fedavg' and from_copy['final_metric'] == 0.29
