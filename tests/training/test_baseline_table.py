"""Runs against naive baselines: the table says which beat them."""

import json

import pytest

from tff_lstm.training import baseline_table
from tff_lstm.training import metrics_files


def _record(results, name, final_test):
  (results / f'{name}.final_metrics.json').write_text(
      json.dumps({'final_test': final_test}))


def test_forecast_table_marks_runs_that_lose_to_naive(tmp_path):
  (tmp_path / 'w.baselines.json').write_text(json.dumps({
      'naive': {'loss': 0.2, 'mean_absolute_error': 10.0,
                'root_mean_squared_error': 16.0},
      'seasonal_naive_12': {'loss': 3.0, 'mean_absolute_error': 40.0,
                            'root_mean_squared_error': 70.0}}))
  for name, mae in (('fedavg', 9.5), ('fedadam', 12.0), ('centralized', 10.0)):
    _record(tmp_path, f'w_{name}', {'loss': 0.3, 'mean_absolute_error': mae,
                                    'root_mean_squared_error': 2 * mae})
  lines = baseline_table.tables(str(tmp_path), ['w']).splitlines()
  assert lines[2] == ('| run | mean absolute error | root mean squared error '
                      '| loss | beats the best baseline? |')
  assert lines[4] == '| FedAvg | 9.5 | 19 | 0.3 | yes |'
  assert lines[5] == '| FedAdam | 12 | 24 | 0.3 | **no** |'
  assert lines[6] == '| centralized | 10 | 20 | 0.3 | **no** |'  # A tie.
  assert lines[8] == ('| seasonal naive (12 readings back) | 40 | 70 | 3 | '
                      '(baseline) |')
  assert baseline_table.reference_lines(baseline_table.read_baselines(
      str(tmp_path / 'w.baselines.json'))) == [
          '10|naive (last reading), same test split']


def test_classifier_table_and_a_missing_run(tmp_path):
  (tmp_path / 'c.baselines.json').write_text(json.dumps(
      {'majority_class': {'accuracy': 0.5, 'label': 1}}))
  _record(tmp_path, 'c_fedavg', {'accuracy': 0.9, 'loss': 0.3})
  with pytest.raises(metrics_files.MetricsFileError, match='c_fedadam'):
    baseline_table.tables(str(tmp_path), ['c'])
  _record(tmp_path, 'c_fedadam', {'accuracy': 0.4, 'loss': 0.9})
  _record(tmp_path, 'c_centralized', {'accuracy': 0.95, 'loss': 0.2})
  lines = baseline_table.tables(str(tmp_path), ['c']).splitlines()
  assert lines[4:8] == ['| FedAvg | 0.9 | 0.3 | yes |',
                        '| FedAdam | 0.4 | 0.9 | **no** |',
                        '| centralized | 0.95 | 0.2 | yes |',
                        '| majority class | 0.5 |  | (baseline) |']


def test_a_run_evaluated_on_a_sample_of_test_clients_is_refused(tmp_path):
  (tmp_path / 'c.baselines.json').write_text(json.dumps(
      {'majority_class': {'accuracy': 0.5, 'label': 1}}))
  _record(tmp_path, 'c_fedavg', {'accuracy': 0.9, 'loss': 0.3})
  _record(tmp_path, 'c_centralized', {'accuracy': 0.95, 'loss': 0.2})
  (tmp_path / 'c_fedadam.final_metrics.json').write_text(json.dumps(
      {'final_test_sample': {'accuracy': 0.4, 'loss': 0.9},
       'final_test_sample_clients': 5}))
  with pytest.raises(metrics_files.MetricsFileError,
                     match='c_fedadam.final_metrics.json: no full-test-split '
                     r'.*--final_eval_clients'):
    baseline_table.tables(str(tmp_path), ['c'])
