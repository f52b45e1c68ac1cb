"""Resuming: flags the command leaves out take the run's recorded values."""

from absl import flags
import pytest

from tff_lstm.aggregation import flags as aggregation_flags
from tff_lstm.tasks import task_flags
from tff_lstm.training import recorded_flags


@pytest.fixture
def flag_values():
  """Fresh flags as run_federated.py defines them (absl's FLAGS untouched)."""
  values = flags.FlagValues()
  task_flags.define_task_flags(values)
  aggregation_flags.define_aggregation_flags(values)
  flags.DEFINE_integer('total_rounds', 10, 'Rounds.', flag_values=values)
  return values


def _adopt(values, argv, record):
  values(['prog', *argv])
  return recorded_flags.adopt(values, list(values), record, '/runs/e')


def test_left_out_flags_take_the_record_and_given_ones_win(flag_values):
  record = {'robust_aggregation': True, 'units': 8, 'cell_type': 'gru',
            'model_seed': 0, 'no_longer_a_flag': 3}
  adopted = _adopt(flag_values, ['--cell_type=lstm'], record)
  assert adopted == {'robust_aggregation': True, 'units': 8}
  assert flag_values.robust_aggregation and flag_values.units == 8
  assert flag_values.cell_type == 'lstm'  # given: compared, then refused
  assert not flag_values['units'].present
  assert 'recorded --robust_aggregation=True --units=8' in (
      recorded_flags.describe(adopted))


def test_what_may_change_on_resume_keeps_the_commands_value(flag_values):
  record = {'total_rounds': 50, 'cache_dir': '/old/cache', 'units': 8}
  assert _adopt(flag_values, [], record) == {'units': 8}
  assert flag_values.total_rounds == 10 and flag_values.cache_dir is None


def test_a_new_run_adopts_nothing(flag_values):
  assert _adopt(flag_values, [], None) == {}
  assert recorded_flags.describe({}) == ''
  assert not flag_values.robust_aggregation


def test_a_recorded_value_this_version_refuses_is_named(flag_values):
  with pytest.raises(ValueError, match=r"/runs/e records "
                     r"--cell_type='transformer', which this version refuses"):
    _adopt(flag_values, [], {'cell_type': 'transformer'})
  with pytest.raises(ValueError, match='--model_seed=-1'):
    _adopt(flag_values, [], {'model_seed': -1})
