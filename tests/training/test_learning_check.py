"""The learning check: a run whose model never moves is called out."""

import io

import numpy as np
import pytest
import tensorflow_federated as tff

from tff_lstm.aggregation import config as aggregation_config
from tff_lstm.algorithms import fedavg
from tff_lstm.algorithms import learning_process
from tff_lstm.algorithms import optimizers
from tff_lstm.data import user_import
from tff_lstm.tasks import model_config
from tff_lstm.tasks import registry
from tff_lstm.training import learning_check

_CLIENTS = 2


@pytest.fixture(scope='module')
def task(tmp_path_factory):
  """Readings of about 100 and 200, as real prices are."""
  tmp = tmp_path_factory.mktemp('readings')
  lines = ['client_id,timestamp,kwh'] + [
      f'm{c},{t},{100 * (c + 1) + t}' for c in range(_CLIENTS)
      for t in range(20)]
  (tmp / 'readings.csv').write_text('\n'.join(lines) + '\n')
  path = str(tmp / 'readings.sqlite')
  user_import.import_file(str(tmp / 'readings.csv'), path, 'timeseries')
  spec = tff.simulation.baselines.ClientSpec(num_epochs=1, batch_size=4,
                                             shuffle_buffer_size=1)
  return registry.create_task(
      'timeseries_forecast', spec, database_path=path, window=4,
      model_config=model_config.ModelConfig(units=4, seed=0))


def _run(task, learning_rate, robust, rounds=3, unchanged_rounds=2):
  process = learning_process.build_learning_process(
      task, fedavg.Config(optimizers.OptimizerConfig(
          learning_rate=learning_rate)),
      model_aggregator=aggregation_config.build_aggregator(
          aggregation_config.AggregationConfig(robust=robust), _CLIENTS))
  stream = io.StringIO()
  check = learning_check.LearningCheck(
      _CLIENTS, unchanged_rounds=unchanged_rounds, stream=stream)
  checked = learning_check.CheckedProcess(process, check,
                                          process.get_model_weights)
  data = [task.datasets.train_preprocess_fn(
      task.datasets.train_data.create_tf_dataset_for_client(c))
          for c in sorted(task.datasets.train_data.client_ids)]
  state = checked.initialize()
  for _ in range(rounds):
    state = checked.next(state, data).state
  return check, stream


def test_every_update_zeroed_is_called_out_at_once_and_at_the_end(
    federated_runtime, task):
  """Learning rate 1000: every update is enormous, robust aggregation zeroes
  them all (until its threshold has grown past them), and the model does not
  move."""
  del federated_runtime
  check, stream = _run(task, learning_rate=1e3, robust=True, rounds=2)
  assert stream.getvalue() == (
      'warning: the global model has not changed in rounds 1-2: this run is '
      'not learning (see the learning check at the end).\n')
  report = check.finish({'loss': 38988.18})
  assert report['rounds_model_unchanged'] == 2
  assert report['rounds_every_update_zeroed'] == 2
  assert report['warnings'][0] == (
      'the global model did not change in rounds 1-2 (2 of 2 rounds left it '
      'unchanged)')
  assert report['warnings'][1].startswith(
      'every client update was zeroed (aggregator/zeroed_count = 2) in 2 of 2 '
      'rounds, first in round 1')
  assert 'may have learned nothing' in stream.getvalue()


def test_non_finite_updates_are_called_out(federated_runtime, task):
  """Without zeroing, a huge learning rate overflows every client update: TFF
  skips each non-finite mean, and the model stands still."""
  del federated_runtime
  check, _ = _run(task, learning_rate=1e30, robust=False)
  findings = check.findings({'loss': float('inf')})
  assert findings == [
      'the global model did not change in rounds 1-3 (3 of 3 rounds left it '
      'unchanged)',
      'the mean update was not finite, so the server skipped it, in 3 of 3 '
      'rounds, first in round 1 (finalizer/update_non_finite)',
      "the final model's test loss is inf"]


def test_short_runs_that_never_moved_and_non_finite_weights():
  check = learning_check.LearningCheck(3, first_round=7, stream=io.StringIO())
  weights = [np.float32([1.0, 2.0])]
  check.observe(weights, weights, {'aggregator': {'zeroed_count': 1}})
  assert check.findings() == [
      'the global model did not change in round 7 (1 of 1 rounds left it '
      'unchanged)']
  check.observe(weights, [np.float32([np.nan, 2.0])], {})
  assert check.findings()[-1] == (
      "the global model's weights are not finite since round 8")
  assert not check.report()['model_finite']
