"""Recording runs in results/: a recorded run is never replaced by a lesser one.

Runs are real files laid out as run_federated and run_centralized write them
(metrics.csv, final_metrics.json, hparams.json), written by hand so the cases
(stopped after a round, a shorter budget, other settings) are exact.
"""

import json
import os

import pytest

from tff_lstm.training import recorded_runs

_HPARAMS = {'task': 'shakespeare_char', 'clients_per_round': 10,
            'server_learning_rate': 1.0, 'total_rounds': 4,
            'rounds_per_eval': 2, 'clients_per_eval': 100,
            'root_output_dir': 'runs/x', 'experiment_name': 'fedavg',
            'client_parallelism': 'vectorized'}


def _run(path, rounds, final_round='last', hparams=None, seconds=3.0,
         examples=None):
  """A run of `rounds` rounds (final evaluation of `final_round`)."""
  path.mkdir(parents=True)
  lines = ['round,evaluation/test/accuracy,client_work/train/num_examples,'
           'training_time_in_seconds', '0,0.01,,']
  for r in range(1, rounds + 1):
    lines.append(f'{r},{0.1 * r if r % 2 == 0 else ""},{examples or 50},'
                 f'{seconds}')
  (path / 'metrics.csv').write_text('\n'.join(lines) + '\n')
  if final_round is not None:
    final_round = rounds if final_round == 'last' else final_round
    (path / 'final_metrics.json').write_text(json.dumps(
        {'final_test': {'accuracy': 0.5}, 'rounds': final_round}))
  (path / 'hparams.json').write_text(json.dumps(
      dict(_HPARAMS, total_rounds=rounds) if hparams is None else hparams))
  return str(path)


def _files(results):
  return {name: (results / name).read_bytes()
          for name in sorted(os.listdir(results))}


@pytest.fixture
def recorded(tmp_path):
  """results/ holding a finished 4-round fedavg, recorded with its hparams."""
  results = tmp_path / 'results'
  first = _run(tmp_path / 'first' / 'fedavg', 4)
  recorded_runs.record([(first, 'fedavg')], str(results))
  return results


def test_a_new_run_is_recorded_with_its_three_files(tmp_path):
  run = _run(tmp_path / 'runs' / 'fedavg', 4)
  results = tmp_path / 'results'
  report = recorded_runs.record([(run, 'fedavg')], str(results))
  assert report == [f'fedavg: recorded {run} (4 rounds, 200 examples) as '
                    f'{results}/fedavg.*']
  assert sorted(os.listdir(results)) == [
      'fedavg.final_metrics.json', 'fedavg.hparams.json', 'fedavg.metrics.csv']
  assert (results / 'fedavg.metrics.csv').read_bytes() == (
      tmp_path / 'runs' / 'fedavg' / 'metrics.csv').read_bytes()


def test_a_run_stopped_after_round_one_is_refused_and_nothing_is_lost(
    tmp_path, recorded):
  before = _files(recorded)
  partial = _run(tmp_path / 'runs' / 'fedavg', 1, final_round=None)
  with pytest.raises(recorded_runs.RecordRefusedError) as e:
    recorded_runs.record([(partial, 'fedavg')], str(recorded))
  assert str(e.value) == (
      f'refused: {partial} is a partial run: metrics.csv reaches round 1 but '
      'there is no final_metrics.json (it stopped before its final '
      'evaluation). Finish it by rerunning its command, then record it. '
      f'{recorded}/fedavg.metrics.csv (4 rounds, 200 examples) stays as '
      'recorded. Nothing was written.')
  assert _files(recorded) == before


def test_a_run_trained_on_after_its_final_evaluation_is_partial(tmp_path):
  run = _run(tmp_path / 'runs' / 'fedavg', 6, final_round=4)
  with pytest.raises(recorded_runs.RecordRefusedError,
                     match='its final evaluation is of round 4 but metrics.csv '
                     'reaches round 6'):
    recorded_runs.record([(run, 'fedavg')], str(tmp_path / 'results'))
  assert not os.path.exists(tmp_path / 'results')


def test_a_shorter_budget_is_refused_naming_both(tmp_path, recorded):
  before = _files(recorded)
  shorter = _run(tmp_path / 'runs' / 'fedavg', 2, seconds=2.0)
  with pytest.raises(recorded_runs.RecordRefusedError) as e:
    recorded_runs.record([(shorter, 'fedavg')], str(recorded))
  assert str(e.value) == (
      f'refused: {shorter} (2 rounds, 100 examples) would replace '
      f'{recorded}/fedavg.metrics.csv (4 rounds, 200 examples), and covers '
      'less. A recorded run is only replaced by a finished run of the same '
      'configuration that covers at least its rounds. Nothing was written.')
  assert _files(recorded) == before


def test_fewer_examples_in_as_many_rounds_is_refused(tmp_path, recorded):
  smaller = _run(tmp_path / 'runs' / 'fedavg', 4, examples=10)
  with pytest.raises(recorded_runs.RecordRefusedError,
                     match=r'\(4 rounds, 40 examples\) would replace .*'
                     r'\(4 rounds, 200 examples\), and covers less'):
    recorded_runs.record([(smaller, 'fedavg')], str(recorded))


def test_other_settings_are_refused_naming_the_flag(tmp_path, recorded):
  other = _run(tmp_path / 'runs' / 'fedavg', 6,
               hparams=dict(_HPARAMS, server_learning_rate=0.1))
  with pytest.raises(recorded_runs.RecordRefusedError,
                     match=r'but with another configuration '
                     r'\(--server_learning_rate: 1\.0 recorded, 0\.1 here\)'):
    recorded_runs.record([(other, 'fedavg')], str(recorded))
  # How the curve was measured is part of what is recorded, too.
  sparser = _run(tmp_path / 'runs2' / 'fedavg', 6,
                 hparams=dict(_HPARAMS, rounds_per_eval=3))
  with pytest.raises(recorded_runs.RecordRefusedError,
                     match='--rounds_per_eval: 2 recorded, 3 here'):
    recorded_runs.record([(sparser, 'fedavg')], str(recorded))
  # A flag the recorded run did not have cannot be shown to match.
  newer = _run(tmp_path / 'runs3' / 'fedavg', 6,
               hparams=dict(_HPARAMS, shuffle_seed=0))
  with pytest.raises(recorded_runs.RecordRefusedError,
                     match='--shuffle_seed: not recorded recorded, 0 here'):
    recorded_runs.record([(newer, 'fedavg')], str(recorded))


def test_other_data_is_refused(tmp_path):
  results = tmp_path / 'results'
  recorded_runs.record([(_run(tmp_path / 'a' / 'r', 4, hparams=dict(
      _HPARAMS, data_identity={'shakespeare.sqlite': 'aaa'},
      cache_dir='/x')), 'r')], str(results))
  same_data_elsewhere = _run(tmp_path / 'b' / 'r', 6, hparams=dict(
      _HPARAMS, data_identity={'shakespeare.sqlite': 'aaa'}, cache_dir='/y'))
  other_data = _run(tmp_path / 'c' / 'r', 6, hparams=dict(
      _HPARAMS, data_identity={'shakespeare.sqlite': 'bbb'}, cache_dir='/x'))
  with pytest.raises(recorded_runs.RecordRefusedError,
                     match=r'the data \(content hashes differ\)'):
    recorded_runs.record([(other_data, 'r')], str(results))
  assert recorded_runs.check(same_data_elsewhere, str(results), 'r') == 'record'


def test_the_same_run_longer_replaces_the_recorded_one(tmp_path, recorded):
  # Resumed to 6 rounds: longer budget, another worker cadence, same run.
  longer = _run(tmp_path / 'runs' / 'fedavg', 6, hparams=dict(
      _HPARAMS, total_rounds=6, rounds_per_worker_restart=50,
      root_output_dir='elsewhere'))
  report = recorded_runs.record([(longer, 'fedavg')], str(recorded))
  assert report == [f'fedavg: recorded {longer} (6 rounds, 300 examples) as '
                    f'{recorded}/fedavg.*']
  assert (recorded / 'fedavg.metrics.csv').read_bytes() == (
      tmp_path / 'runs' / 'fedavg' / 'metrics.csv').read_bytes()


def test_a_recorded_run_without_hparams_is_never_replaced(tmp_path, recorded):
  os.remove(recorded / 'fedavg.hparams.json')
  longer = _run(tmp_path / 'runs' / 'fedavg', 6)
  with pytest.raises(recorded_runs.RecordRefusedError,
                     match='fedavg.hparams.json does not exist, so the two '
                     'cannot be shown to share a configuration. To replace '
                     f'the recorded run anyway, delete {recorded}/fedavg.'):
    recorded_runs.record([(longer, 'fedavg')], str(recorded))


def test_the_very_recorded_run_adds_the_files_it_lacked(tmp_path, recorded):
  os.remove(recorded / 'fedavg.hparams.json')
  first = str(tmp_path / 'first' / 'fedavg')
  # Evaluated again since (a rerun at the same total_rounds): kept as it was.
  (tmp_path / 'first' / 'fedavg' / 'final_metrics.json').write_text(
      json.dumps({'final_test': {'accuracy': 0.7}, 'rounds': 4}))
  before = (recorded / 'fedavg.final_metrics.json').read_bytes()
  report = recorded_runs.record([(first, 'fedavg')], str(recorded))
  assert report == [f'fedavg: {first} is the recorded run (4 rounds, 200 '
                    'examples); added fedavg.hparams.json']
  assert (recorded / 'fedavg.final_metrics.json').read_bytes() == before


def test_one_refusal_writes_nothing_for_any_run(tmp_path, recorded):
  before = _files(recorded)
  fine = _run(tmp_path / 'runs' / 'fedadam', 4)
  short = _run(tmp_path / 'runs' / 'fedavg', 2)
  missing = str(tmp_path / 'runs' / 'fedyogi')
  with pytest.raises(recorded_runs.RecordRefusedError):
    recorded_runs.record([(fine, 'fedadam'), (missing, 'fedyogi'),
                          (short, 'fedavg')], str(recorded))
  assert _files(recorded) == before
  report = recorded_runs.record([(fine, 'fedadam'), (missing, 'fedyogi')],
                                str(recorded))
  assert report[1] == f'fedyogi: no run at {missing}, and none recorded'
  report = recorded_runs.record(
      [(str(tmp_path / 'gone' / 'fedavg'), 'fedavg')], str(recorded))
  assert report == [f'fedavg: no run at {tmp_path}/gone/fedavg; kept '
                    f'{recorded}/fedavg.metrics.csv']


def test_centralized_runs_compare_by_examples_too(tmp_path):
  def central(path, rounds, seen):
    path.mkdir(parents=True)
    rows = ['round,evaluation/test/accuracy,examples_seen'] + [
        f'{r},0.{r},{s}' for r, s in zip(range(rounds + 1), seen)]
    (path / 'metrics.csv').write_text('\n'.join(rows) + '\n')
    (path / 'final_metrics.json').write_text(json.dumps({'rounds': rounds}))
    (path / 'hparams.json').write_text(json.dumps({'steps_per_eval': 1000}))
    return str(path)
  results = str(tmp_path / 'results')
  recorded_runs.record([(central(tmp_path / 'a' / 'c', 2, [0, 4000, 4500]),
                         'c')], results)
  cut_short = central(tmp_path / 'b' / 'c', 2, [0, 4000, 4200])
  with pytest.raises(recorded_runs.RecordRefusedError,
                     match=r'\(2 rounds, 4,200 examples\) would replace .*'
                     r'\(2 rounds, 4,500 examples\), and covers less'):
    recorded_runs.check(cut_short, results, 'c')
