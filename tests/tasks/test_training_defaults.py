"""Task defaults fill only the flags a command leaves out, and say so."""

from absl import flags
import pytest

from tff_lstm.tasks import task_flags
from tff_lstm.tasks import training_defaults


@pytest.fixture
def flag_values():
  values = flags.FlagValues()
  task_flags.define_task_flags(values)
  flags.DEFINE_integer('clients_per_round', 10, 'Clients.', flag_values=values)
  flags.DEFINE_float('client_learning_rate', 1.0, 'Client lr.',
                     flag_values=values)
  return values


def test_the_forecasting_task_gets_defaults_that_train(flag_values):
  flag_values(['prog', '--task=timeseries_forecast'])
  assert training_defaults.apply(flag_values) == {
      'clients_per_round': 5, 'client_learning_rate': 0.3}
  assert (flag_values.clients_per_round, flag_values.client_learning_rate) == (
      5, 0.3)


def test_given_or_recorded_flags_and_other_tasks_are_left_alone(flag_values):
  flag_values(['prog', '--task=timeseries_forecast',
               '--client_learning_rate=0.5'])
  assert training_defaults.apply(flag_values,
                                 keep={'clients_per_round'}) == {}
  assert (flag_values.clients_per_round, flag_values.client_learning_rate) == (
      10, 0.5)
  flag_values(['prog', '--task=shakespeare_char'])
  assert training_defaults.apply(flag_values) == {}


def test_help_names_the_tasks_own_defaults():
  assert training_defaults.help_suffix('clients_per_round') == (
      ' Default with --task=timeseries_forecast 5.')
  assert training_defaults.help_suffix('units') == ''
  assert set(training_defaults.FLAGS_WITH_TASK_DEFAULTS) == {
      'clients_per_round', 'client_learning_rate'}
