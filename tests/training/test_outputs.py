"""Experiment-dir bookkeeping: hparams guard and metrics rows on resume."""

import asyncio
import json

import pytest

from tff_lstm.training import outputs


def _release_rounds(exp_dir, rounds):
  csv_manager = outputs.metrics_release_managers(str(exp_dir))[0]
  loop = asyncio.new_event_loop()
  for r in rounds:
    loop.run_until_complete(csv_manager.release({'loss': float(r)}, key=r))
  loop.close()


def test_rows_after_the_checkpoint_are_dropped_on_resume(tmp_path):
  _release_rounds(tmp_path, range(0, 8))
  assert outputs.drop_rounds_after(str(tmp_path), 5) == 2
  assert [int(r['round']) for r in outputs.read_metrics_csv(str(tmp_path))] == [
      0, 1, 2, 3, 4, 5]
  _release_rounds(tmp_path, [6, 7])  # the resumed run writes them again
  assert [r['round'] for r in outputs.read_metrics_csv(str(tmp_path))] == [
      str(i) for i in range(8)]


def test_hparams_guard(tmp_path):
  outputs.write_hparams(str(tmp_path), {'lr': 1.0, 'total_rounds': 5})
  # Extending a run is allowed.
  outputs.write_hparams(str(tmp_path), {'lr': 1.0, 'total_rounds': 9})
  assert json.loads((tmp_path / 'hparams.json').read_text())['total_rounds'] == 9
  with pytest.raises(outputs.HparamsMismatchError,
                     match='--lr: 1.0 before, 0.5 now'):
    outputs.write_hparams(str(tmp_path), {'lr': 0.5, 'total_rounds': 9})
  assert (tmp_path / 'hparams.csv').read_text().startswith('name,value\n')


def test_a_flag_added_later_resumes_earlier_runs_at_its_default(tmp_path):
  """A run recorded before --new_flag existed used what its default does."""
  outputs.write_hparams(str(tmp_path), {'lr': 1.0, 'total_rounds': 5})
  defaults = {'lr': 1.0, 'total_rounds': 10, 'new_flag': 0.0}
  outputs.write_hparams(str(tmp_path),
                        {'lr': 1.0, 'total_rounds': 5, 'new_flag': 0.0},
                        defaults=defaults)
  (tmp_path / 'hparams.json').write_text('{"lr": 1.0, "total_rounds": 5}')
  with pytest.raises(outputs.HparamsMismatchError,
                     match='--new_flag: 0.0 before, 0.5 now'):
    outputs.write_hparams(str(tmp_path),
                          {'lr': 1.0, 'total_rounds': 5, 'new_flag': 0.5},
                          defaults=defaults)
  with pytest.raises(outputs.HparamsMismatchError, match='--new_flag'):
    outputs.write_hparams(str(tmp_path),
                          {'lr': 1.0, 'total_rounds': 5, 'new_flag': 0.0})


# A run's record, as run_federated.py writes it (a subset of its flags).
_RECORD = {
    'task': 'shakespeare_char', 'units': 256, 'client_learning_rate': 1.0,
    'clients_per_round': 10, 'client_batch_size': 4, 'model_seed': 0,
    'client_datasets_random_seed': 0, 'dp_noise_multiplier': None,
    'dp_delta': None,
    'bf16': False, 'cache_dir': None, 'database_path': None,
    'total_rounds': 10, 'rounds_per_eval': 10, 'rounds_per_checkpoint': 10,
    'rounds_per_worker_restart': 100, 'clients_per_eval': 100,
    'personalization_clients': 0, 'worker_addresses': None,
    'client_parallelism': 'auto', 'resolved_client_parallelism': 'vectorized',
    'root_output_dir': 'runs', 'experiment_name': 'e', 'progress_bar': True,
    'verbose': False,
}
_OTHER_VALUE = {None: 'x', True: False, False: True}


def _changed(value):
  if isinstance(value, bool) or value is None:
    return _OTHER_VALUE[value]
  return value + 1 if isinstance(value, (int, float)) else value + '_other'


@pytest.mark.parametrize('name', sorted(_RECORD))
def test_the_resume_rule_in_both_directions(tmp_path, name):
  """Each recorded flag either may change on resume or is refused by name:
  how long, how often, where and how a run reports may change; what it
  trains may not."""
  outputs.write_hparams(str(tmp_path), _RECORD)
  changed = {**_RECORD, name: _changed(_RECORD[name])}
  if name in outputs.RESUMABLE_CHANGES:
    outputs.write_hparams(str(tmp_path), changed)
    assert json.loads((tmp_path / 'hparams.json').read_text())[name] == (
        changed[name])
  else:
    with pytest.raises(outputs.HparamsMismatchError, match=f'--{name}: '):
      outputs.write_hparams(str(tmp_path), changed)


def test_the_rule_names_what_may_change():
  assert {'rounds_per_worker_restart', 'clients_per_eval', 'worker_addresses',
          'resolved_client_parallelism', 'total_rounds', 'dp_delta'} <= (
              outputs.RESUMABLE_CHANGES)
  assert not {'task', 'clients_per_round', 'client_learning_rate', 'bf16',
              'model_seed', 'client_datasets_random_seed',
              'steps_per_eval', 'dp_noise_multiplier', 'dp_clip'
              } & outputs.RESUMABLE_CHANGES


def test_a_dp_run_recorded_before_its_accounting_resumes_at_a_new_delta(
    tmp_path):
  """A run recorded before hparams kept its accounting (and at delta 1/N)
  resumes, reporting every kept round at the delta it resumes with."""
  dp = {**_RECORD, 'dp_mechanism': 'gaussian_fixed', 'dp_noise_multiplier': 1.0}
  outputs.write_hparams(str(tmp_path), dp)
  csv_manager = outputs.metrics_release_managers(str(tmp_path))[0]
  loop = asyncio.new_event_loop()
  for r in range(4):
    loop.run_until_complete(csv_manager.release(
        {'loss': 1.0, 'privacy': {'epsilon': r * 10.0, 'delta': 0.1}}, key=r))
  loop.close()
  accounting = {'delta': 1e-5, 'delta_rule': 'min(1e-5, num_clients ** -1.1)'}
  outputs.write_hparams(str(tmp_path),
                        {**dp, 'privacy_accounting': accounting})
  assert json.loads((tmp_path / 'hparams.json').read_text())[
      'privacy_accounting'] == accounting
  restated = lambda r: {'privacy': {'epsilon': r / 2, 'delta': 1e-5}}
  assert outputs.drop_rounds_after(str(tmp_path), 2) == 1
  assert outputs.restate_round_metrics(str(tmp_path), restated) == 3
  rows = outputs.read_metrics_csv(str(tmp_path))
  assert [(r['privacy/epsilon'], r['privacy/delta'], r['loss']) for r in rows
          ] == [('0.0', '1e-05', '1.0'), ('0.5', '1e-05', '1.0'),
                ('1.0', '1e-05', '1.0')]
  assert outputs.restate_round_metrics(str(tmp_path), restated) == 0


_DATA = {'data_identity': {'db.sqlite': 'aaa'}}


def test_resume_on_other_data_is_refused_naming_both(tmp_path):
  outputs.write_hparams(str(tmp_path), {**_RECORD, **_DATA})
  outputs.write_hparams(str(tmp_path), {**_RECORD, **_DATA})  # same data
  other = {**_RECORD, 'data_identity': {'db.sqlite': 'bbb'}}
  with pytest.raises(outputs.HparamsMismatchError,
                     match='other data .db.sqlite: aaa before, bbb now'):
    outputs.write_hparams(str(tmp_path), other)


def test_same_data_elsewhere_resumes_and_old_records_resume_on_the_path(
    tmp_path):
  """With the data's identity recorded, moving the data is not a change;
  a record from before identities were kept resumes on its path alone."""
  outputs.write_hparams(str(tmp_path), {**_RECORD, **_DATA})
  outputs.write_hparams(str(tmp_path),
                        {**_RECORD, **_DATA, 'cache_dir': '/elsewhere'})
  old = tmp_path / 'old'
  outputs.write_hparams(str(old), _RECORD)
  with pytest.raises(outputs.HparamsMismatchError, match='--database_path'):
    outputs.write_hparams(str(old),
                          {**_RECORD, **_DATA, 'database_path': '/other.db'})
  outputs.write_hparams(str(old), {**_RECORD, **_DATA})  # now recorded
  assert json.loads((old / 'hparams.json').read_text())['data_identity'] == (
      _DATA['data_identity'])


@pytest.mark.parametrize('name', ['', 'a/b', '.', '..'])
def test_experiment_name_must_be_plain(name):
  with pytest.raises(ValueError, match='plain name'):
    outputs.experiment_dir('/tmp', name)


def test_an_earlier_record_is_compared_in_todays_terms(tmp_path):
  """`upgrade` restates a record whose flag meant something else then; the
  recorded chain description is for readers and never refuses a resume."""
  legacy = {**_RECORD, 'robust_aggregation': None}
  outputs.write_hparams(str(tmp_path), legacy)
  now = {**_RECORD, 'robust_aggregation': True, 'aggregation': 'robust mean'}
  with pytest.raises(outputs.HparamsMismatchError,
                     match='--robust_aggregation: None before, True now'):
    outputs.write_hparams(str(tmp_path), now)
  upgrade = lambda record: {**record, 'robust_aggregation': True}
  outputs.write_hparams(str(tmp_path), now, upgrade=upgrade)
  assert outputs.read_hparams(str(tmp_path)) == now
  outputs.write_hparams(str(tmp_path), {**now, 'aggregation': 'other words'})


def test_a_damaged_record_is_named(tmp_path):
  assert outputs.read_hparams(str(tmp_path)) is None
  (tmp_path / 'hparams.json').write_text('{"task": ')
  with pytest.raises(ValueError, match='hparams.json is damaged'):
    outputs.read_hparams(str(tmp_path))
