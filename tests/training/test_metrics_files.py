"""A run's recorded metrics read the same from its experiment dir or results/."""

import json

import pytest

from tff_lstm.training import metrics_files


def _write(path, text):
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(text)
  return str(path)


def test_an_experiment_dir_and_its_recorded_copy_read_alike(tmp_path):
  csv_text = 'round,evaluation/test/accuracy\n2,0.5\n0,0.1\n1,\n'
  _write(tmp_path / 'runs' / 'fedavg' / 'metrics.csv', csv_text)
  _write(tmp_path / 'results' / 'fedavg.metrics.csv', csv_text)
  _write(tmp_path / 'results' / 'fedavg.final_metrics.json',
         json.dumps({'rounds': 2}))
  in_dir = metrics_files.locate(str(tmp_path / 'runs' / 'fedavg'))
  copy = metrics_files.locate(str(tmp_path / 'results' / 'fedavg.metrics.csv'))
  assert in_dir.name == copy.name == 'fedavg'
  assert copy.final_metrics_json == str(
      tmp_path / 'results' / 'fedavg.final_metrics.json')
  assert copy.hparams_json.endswith('fedavg.hparams.json')
  rows = metrics_files.read_rows(copy)
  assert rows == metrics_files.read_rows(in_dir)
  assert [row['round'] for row in rows] == ['0', '1', '2']  # round order
  assert metrics_files.last_round(rows) == 2
  assert metrics_files.read_json(copy.final_metrics_json) == {'rounds': 2}
  assert metrics_files.read_json(in_dir.final_metrics_json) is None


def test_examples_seen_of_federated_and_centralized_runs(tmp_path):
  fed = metrics_files.locate(_write(
      tmp_path / 'fed.metrics.csv',
      'round,client_work/train/num_examples\n0,\n1,30\n2,12\n'))
  central = metrics_files.locate(_write(
      tmp_path / 'c.metrics.csv', 'round,examples_seen\n0,0\n1,400\n'))
  assert metrics_files.examples_seen(
      metrics_files.read_rows(fed), fed) == [0, 30, 42]
  assert metrics_files.examples_seen(
      metrics_files.read_rows(central), central) == [0, 400]


def test_a_metric_the_run_did_not_record_is_named_with_what_it_has(tmp_path):
  path = _write(tmp_path / 'forecast.metrics.csv',
                'round,evaluation/test/loss,evaluation/test/mean_absolute_error'
                ',evaluation/test/accuracy\n0,4.0,2.0,\n')
  files = metrics_files.locate(path)
  rows = metrics_files.read_rows(files)
  metrics_files.require_metric(rows, files, 'evaluation/test/loss')
  with pytest.raises(metrics_files.MetricsFileError) as e:
    metrics_files.require_metric(rows, files, 'evaluation/test/f1')
  assert str(e.value) == (
      f"{path} did not record 'evaluation/test/f1'; its metrics.csv has "
      'evaluation/test/accuracy, evaluation/test/loss, '
      'evaluation/test/mean_absolute_error.')
  with pytest.raises(metrics_files.MetricsFileError,
                     match="'evaluation/test/accuracy' is a column of its "
                     'metrics.csv but has no values'):
    metrics_files.require_metric(rows, files, 'evaluation/test/accuracy')


def test_bad_files_are_refused_naming_them(tmp_path):
  other = _write(tmp_path / 'notes.txt', 'hello')
  with pytest.raises(metrics_files.MetricsFileError,
                     match=f'{other}: not an experiment dir'):
    metrics_files.locate(other)
  missing = str(tmp_path / 'typo.metrics.csv')
  with pytest.raises(metrics_files.MetricsFileError,
                     match=f'{missing}: no such file'):
    metrics_files.read_rows(metrics_files.locate(missing))
  no_round = _write(tmp_path / 'x.metrics.csv', 'step,loss\n1,2\n')
  with pytest.raises(metrics_files.MetricsFileError,
                     match="has no 'round' column"):
    metrics_files.read_rows(metrics_files.locate(no_round))
  bad_round = _write(tmp_path / 'y.metrics.csv', 'round,loss\nfirst,2\n')
  with pytest.raises(metrics_files.MetricsFileError,
                     match="a 'round' value is not a whole number"):
    metrics_files.read_rows(metrics_files.locate(bad_round))
  broken = _write(tmp_path / 'z.final_metrics.json', '{"rounds": ')
  with pytest.raises(metrics_files.MetricsFileError,
                     match=f'{broken}: not valid JSON'):
    metrics_files.read_json(broken)
