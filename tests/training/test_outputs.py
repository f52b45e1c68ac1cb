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


@pytest.mark.parametrize('name', ['', 'a/b'])
def test_experiment_name_must_be_plain(name):
  with pytest.raises(ValueError, match='plain name'):
    outputs.experiment_dir('/tmp', name)
