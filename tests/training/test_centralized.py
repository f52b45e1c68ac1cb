"""The centralized baseline: pooled windows, budgets, outputs, resume, CLI."""

import csv
import glob
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_federated as tff

from tff_lstm.data import shakespeare
from tff_lstm.tasks import model_config
from tff_lstm.tasks import shakespeare_char
from tff_lstm.training import centralized
from tff_lstm.training import outputs
from tff_lstm.training import plotting

_BINARY = os.path.join(os.path.dirname(__file__), '..', '..', 'experiments',
                       'run_centralized.py')
_PLAYS = ['tragedies/macbeth.md']
_ITERATIONS = 'optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE'


@pytest.fixture(scope='module')
def macbeth_data(tmp_path_factory):
  cache_dir = str(tmp_path_factory.mktemp('centralized_macbeth'))
  shakespeare.ensure_database(cache_dir, play_names=_PLAYS)
  return shakespeare.load_client_data(cache_dir, play_names=_PLAYS)


@pytest.fixture(scope='module')
def full_cache_dir(request, tmp_path_factory):
  """The session's full database when tests/conftest.py has one, else ours."""
  try:
    return request.getfixturevalue('shakespeare_cache_dir')
  except pytest.FixtureLookupError:
    cache_dir = str(tmp_path_factory.mktemp('centralized_full'))
    shakespeare.ensure_database(cache_dir)
    return cache_dir


@pytest.fixture(scope='module')
def task(macbeth_data):
  return shakespeare_char.create_task(
      centralized.WINDOW_SPEC, sequence_length=20, client_data=macbeth_data,
      model_config=model_config.ModelConfig(units=8, num_layers=1, seed=0))


@pytest.fixture(scope='module')
def windows(task):
  return centralized.pool_train_windows(task)


def _config(**overrides):
  kwargs = dict(optimizer='adam', learning_rate=0.02, batch_size=8,
                num_steps=25, steps_per_eval=10, clients_per_eval=3,
                progress_bar=False)
  kwargs.update(overrides)
  return centralized.CentralizedConfig(**kwargs)


def _rows(table):
  """The rows of a [N, ...] array as a sorted list, to compare as multisets."""
  return sorted(map(bytes, np.ascontiguousarray(table.reshape(len(table), -1))))


def test_pooled_windows_are_exactly_the_clients_windows(macbeth_data, task,
                                                         windows):
  train_data = macbeth_data[0]
  per_client = tf.data.Dataset.from_tensor_slices(
      train_data.client_ids).flat_map(
          lambda cid: task.datasets.train_preprocess_fn(
              train_data.serializable_dataset_fn(cid)))
  batches = list(per_client.as_numpy_iterator())
  inputs = np.concatenate([x for x, _ in batches])
  targets = np.concatenate([y for _, y in batches])
  pooled_x, pooled_y = windows.arrays
  assert pooled_x.shape == (windows.num_examples, 20)
  assert _rows(np.concatenate([pooled_x, pooled_y], 1)) == _rows(
      np.concatenate([inputs, targets], 1))
  assert windows.num_clients == len(train_data.client_ids)
  again = centralized.pool_train_windows(task)
  np.testing.assert_array_equal(again.arrays[0], pooled_x)  # same order


def test_example_order_is_seeded_epochs_and_resumable():
  n = 7
  whole = centralized.example_order(n, seed=3, start=0, stop=3 * n + 2)
  for epoch in range(3):
    assert sorted(whole[epoch * n:(epoch + 1) * n]) == list(range(n))
  assert list(whole[:n]) != list(whole[n:2 * n])  # reshuffled each epoch
  np.testing.assert_array_equal(
      np.concatenate([centralized.example_order(n, 3, 0, 9),
                      centralized.example_order(n, 3, 9, 3 * n + 2)]), whole)
  assert list(centralized.example_order(n, 4, 0, n)) != list(whole[:n])


def test_budgets_convert_to_examples_steps_and_rounds():
  steps = centralized.resolve_budget(_config(num_steps=25), 1000)
  assert (steps.total_examples, steps.num_steps,
          steps.num_rounds) == (200, 25, 3)
  assert [steps.steps_after(r) for r in range(4)] == [0, 10, 20, 25]
  examples = centralized.resolve_budget(
      _config(num_steps=None, max_examples_seen=203), 1000)
  assert (examples.num_steps, examples.examples_after(3)) == (26, 203)
  assert examples.examples_after(2) == 160
  epochs = centralized.resolve_budget(
      _config(num_steps=None, num_epochs=2), 1000)
  assert epochs.total_examples == 2000


@pytest.mark.parametrize('overrides, message', [
    (dict(num_steps=None), 'exactly one training budget'),
    (dict(num_epochs=1), 'num_epochs, num_steps'),
    (dict(num_steps=0), '--num_steps must be >= 1'),
    (dict(optimizer='yogi'), 'valid: sgd, adam'),
    (dict(learning_rate=-1.0), '--learning_rate must be > 0'),
    (dict(steps_per_eval=0), '--steps_per_eval must be >= 1'),
])
def test_bad_configs_are_refused(overrides, message):
  with pytest.raises(ValueError, match=message):
    _config(**overrides)


def test_default_learning_rate_depends_on_the_optimizer():
  assert _config(learning_rate=None).resolved_learning_rate == 0.001
  assert _config(optimizer='sgd',
                 learning_rate=None).resolved_learning_rate == 1.0


# 196 examples in batches of 8: 24 full steps and one of 4; rounds of 10 steps.
_RUN = dict(num_steps=None, max_examples_seen=196)


@pytest.fixture(scope='module')
def whole_run(task, windows, tmp_path_factory):
  exp_dir = str(tmp_path_factory.mktemp('centralized_run') / 'whole')
  return exp_dir, centralized.run_centralized(task, windows, exp_dir,
                                              _config(**_RUN))


def test_run_writes_the_federated_layout_and_honours_the_budget(whole_run):
  exp_dir, final = whole_run
  rows = outputs.read_metrics_csv(exp_dir)
  assert [int(r['round']) for r in rows] == [0, 1, 2, 3]
  assert [int(r['steps']) for r in rows] == [0, 10, 20, 25]
  assert [int(r['examples_seen']) for r in rows] == [0, 80, 160, 196]
  assert [int(r['train/num_examples']) for r in rows[1:]] == [80, 80, 36]
  assert [int(r['train/num_batches']) for r in rows[1:]] == [10, 10, 5]
  for row in rows:
    for name in ('accuracy', 'accuracy_without_oov_or_eos', 'loss'):
      assert np.isfinite(float(row[f'evaluation/test/{name}']))
  assert float(rows[-1]['evaluation/test/loss']) < float(
      rows[0]['evaluation/test/loss'])
  assert float(rows[-1]['train/loss']) < float(rows[1]['train/loss'])
  assert float(rows[1]['training_time_in_seconds']) > 0

  with open(os.path.join(exp_dir, 'final_metrics.json')) as f:
    on_disk = json.load(f)
  assert on_disk['final_test'] == pytest.approx(final['final_test'])
  assert set(on_disk['final_test']) == {'accuracy',
                                        'accuracy_without_oov_or_eos', 'loss'}
  assert (on_disk['steps'], on_disk['examples_seen'], on_disk['rounds']) == (
      25, 196, 3)

  events = glob.glob(os.path.join(exp_dir, 'tensorboard', '**',
                                  'events.out.*'), recursive=True)
  tags = {v.tag for path in events
          for e in tf.compat.v1.train.summary_iterator(path)
          for v in e.summary.value}
  assert {'evaluation/test/accuracy', 'evaluation/test/loss', 'train/loss',
          'examples_seen'} <= tags

  assert centralized.latest_model_checkpoint_round(exp_dir) == 3
  last = tf.train.latest_checkpoint(os.path.join(exp_dir, 'checkpoints'))
  assert tf.train.load_variable(last, _ITERATIONS) == 25  # optimizer steps


def _without_timing(exp_dir):
  return [{k: v for k, v in row.items() if not k.endswith('time_in_seconds')}
          for row in outputs.read_metrics_csv(exp_dir)]


def _checkpoint_values(exp_dir):
  reader = tf.train.load_checkpoint(
      tf.train.latest_checkpoint(os.path.join(exp_dir, 'checkpoints')))
  return {name: reader.get_tensor(name)
          for name in reader.get_variable_to_shape_map()
          if name != '_CHECKPOINTABLE_OBJECT_GRAPH'}


def test_the_same_config_gives_the_same_run(task, windows, whole_run,
                                            tmp_path):
  """Model init (--model_seed) and example order (--data_seed) are seeded:
  a second run has the same metrics, apart from timings, and the same final
  weights and optimizer state."""
  exp_dir, whole = whole_run
  again = str(tmp_path / 'again')
  final = centralized.run_centralized(task, windows, again, _config(**_RUN))
  assert _without_timing(again) == _without_timing(exp_dir)
  assert final['final_test'] == whole['final_test']
  first, second = _checkpoint_values(exp_dir), _checkpoint_values(again)
  assert first.keys() == second.keys() and len(first) > 4
  for name, value in first.items():
    np.testing.assert_array_equal(second[name], value, err_msg=name)


def test_a_real_run_plots(whole_run, tmp_path):
  exp_dir, _ = whole_run
  curves = plotting.read_curves(exp_dir, x_axis='examples_seen')
  assert curves.x == [0, 80, 160, 196]
  assert all(np.isfinite(curves.accuracy + curves.loss))
  output = str(tmp_path / 'real.png')
  plotting.plot_experiments([exp_dir, exp_dir], output, labels=['a', 'b'])
  with open(output, 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'
  assert os.path.getsize(output) > 1000


class _Crash(Exception):
  pass


class _CrashAt(tff.program.ReleaseManager):
  """Fails the run when round `round_num` is released, before its checkpoint."""

  def __init__(self, round_num):
    self._round_num = round_num

  async def release(self, value, key=None):
    if key == self._round_num:
      raise _Crash(f'simulated crash in round {key}')


def test_resumed_run_equals_an_uninterrupted_one(task, windows, whole_run,
                                                 tmp_path):
  _, whole = whole_run
  exp_dir = str(tmp_path / 'crashed')
  with pytest.raises(_Crash):
    centralized.run_centralized(task, windows, exp_dir, _config(**_RUN),
                                extra_release_managers=[_CrashAt(2)])
  assert centralized.latest_model_checkpoint_round(exp_dir) == 1

  resumed = centralized.run_centralized(task, windows, exp_dir,
                                        _config(**_RUN))

  assert resumed['resumed_from_round'] == 1
  assert [int(r['round']) for r in outputs.read_metrics_csv(exp_dir)] == [
      0, 1, 2, 3]
  assert resumed['final_test'] == pytest.approx(whole['final_test'], rel=1e-5)


def test_a_budget_ending_before_the_last_checkpoint_is_refused(
    task, windows, whole_run, tmp_path):
  exp_dir = str(tmp_path / 'copy')
  shutil.copytree(whole_run[0], exp_dir)
  final_path = os.path.join(exp_dir, 'final_metrics.json')
  with open(final_path) as f:
    final_before = f.read()
  # The run has checkpoints up to round 3 (25 steps); 10 steps end at round 1.
  with pytest.raises(ValueError, match=r'has trained 25 steps \(round 3\); '
                     'a budget of 10 steps ends before that'):
    centralized.run_centralized(task, windows, exp_dir,
                                _config(num_steps=10))
  with open(final_path) as f:
    assert f.read() == final_before
  assert centralized.latest_model_checkpoint_round(exp_dir) == 3


def test_a_longer_budget_retrains_the_round_a_shorter_one_cut_short(
    task, windows, whole_run, tmp_path):
  # The whole run's budget ended 5 steps into round 3 (25 steps). With 30
  # steps round 3 is a full one: the run goes back to round 2's checkpoint and
  # trains round 3 in full, as a run given 30 steps from the start does.
  exp_dir = str(tmp_path / 'extended')
  shutil.copytree(whole_run[0], exp_dir)
  extended = centralized.run_centralized(task, windows, exp_dir,
                                         _config(num_steps=30))
  assert extended['resumed_from_round'] == 2
  rows = outputs.read_metrics_csv(exp_dir)
  assert [int(r['round']) for r in rows] == [0, 1, 2, 3]
  assert [int(r['steps']) for r in rows] == [0, 10, 20, 30]
  assert [int(r['examples_seen']) for r in rows] == [0, 80, 160, 240]
  last = tf.train.latest_checkpoint(os.path.join(exp_dir, 'checkpoints'))
  assert last.endswith('round-3')
  assert tf.train.load_variable(last, _ITERATIONS) == 30

  straight = centralized.run_centralized(
      task, windows, str(tmp_path / 'straight'), _config(num_steps=30))
  assert extended['final_test'] == pytest.approx(straight['final_test'],
                                                 rel=1e-5)


def test_a_crash_while_retraining_a_cut_short_round_resumes_it(
    task, windows, whole_run, tmp_path):
  # Round 3's new metrics row (30 steps) is written, its checkpoint is not:
  # the checkpoint on disk is still the 25-step one.
  exp_dir = str(tmp_path / 'crashed_extension')
  shutil.copytree(whole_run[0], exp_dir)
  with pytest.raises(_Crash):
    centralized.run_centralized(task, windows, exp_dir, _config(num_steps=30),
                                extra_release_managers=[_CrashAt(3)])
  assert [int(r['steps']) for r in outputs.read_metrics_csv(exp_dir)] == [
      0, 10, 20, 30]

  resumed = centralized.run_centralized(task, windows, exp_dir,
                                        _config(num_steps=30))
  assert resumed['resumed_from_round'] == 2
  last = tf.train.latest_checkpoint(os.path.join(exp_dir, 'checkpoints'))
  assert tf.train.load_variable(last, _ITERATIONS) == 30


def test_a_cut_short_round_without_the_checkpoint_before_it_is_refused(
    task, windows, whole_run, tmp_path):
  exp_dir = str(tmp_path / 'pruned')
  shutil.copytree(whole_run[0], exp_dir)
  for path in glob.glob(os.path.join(exp_dir, 'checkpoints', 'round-2.*')):
    os.remove(path)
  with pytest.raises(ValueError, match=r'round 3 stopped after 25 steps.*'
                     r'checkpoint of round 2 .* is gone'):
    centralized.run_centralized(task, windows, exp_dir, _config(num_steps=30))
  assert [int(r['steps']) for r in outputs.read_metrics_csv(exp_dir)] == [
      0, 10, 20, 25]


def test_resuming_with_another_round_size_is_refused(task, windows, whole_run,
                                                     tmp_path):
  # Rounds of 5 steps would put 15 steps at round 3; its checkpoint holds 25.
  exp_dir = str(tmp_path / 'resized')
  shutil.copytree(whole_run[0], exp_dir)
  with pytest.raises(ValueError, match=r'round 3 .* holds 25 steps, but rounds '
                     r'of 5 steps put 15 there'):
    centralized.run_centralized(task, windows, exp_dir,
                                _config(num_steps=30, steps_per_eval=5))
  # Rounds of 20: round 3 looks cut short, but round 2's checkpoint holds 20
  # steps where rounds of 20 put 40; resuming there would skip 20 steps.
  with pytest.raises(ValueError, match=r'round 2 .* holds 20 steps, but rounds '
                     r'of 20 steps put 40 there'):
    centralized.run_centralized(task, windows, exp_dir,
                                _config(num_steps=40, steps_per_eval=20))
  assert centralized.latest_model_checkpoint_round(exp_dir) == 3


def test_federated_examples_seen_sums_the_rounds(tmp_path):
  with open(tmp_path / 'metrics.csv', 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(['round', 'evaluation/test/loss',
                     'client_work/train/num_examples'])
    writer.writerows([[0, 4.5, ''], [1, '', 210], [2, 3.3, 192]])
  assert centralized.federated_examples_seen(str(tmp_path)) == 402
  with pytest.raises(FileNotFoundError, match='No metrics.csv in'):
    centralized.federated_examples_seen(str(tmp_path / 'missing'))


def _run(*flags):
  return subprocess.run([sys.executable, _BINARY, *flags], capture_output=True,
                        text=True, timeout=600)


def test_binary_names_a_missing_federated_dir(tmp_path):
  missing = str(tmp_path / 'no_such_run')
  run = _run(f'--root_output_dir={tmp_path}', '--experiment_name=m',
             f'--match_examples_of={missing}')
  assert run.returncode != 0
  assert f'No metrics.csv in {missing}' in run.stderr
  assert 'Traceback' not in run.stderr
  assert not os.path.exists(tmp_path / 'm')


def test_binary_writes_a_run_extends_its_budget_and_refuses_a_passed_one(
    full_cache_dir, tmp_path):
  common = (f'--cache_dir={full_cache_dir}', f'--root_output_dir={tmp_path}',
            '--experiment_name=e', '--units=8', '--num_layers=1',
            '--sequence_length=20', '--steps_per_eval=4', '--clients_per_eval=3',
            '--progress_bar=false')
  first = _run(*common, '--num_steps=4')
  assert first.returncode == 0, first.stderr[-3000:]
  assert 'round 1/1:' in first.stdout
  assert ('final model after 4 steps (16 examples, 1 rounds), full test '
          'split: ') in first.stdout
  exp_dir = tmp_path / 'e'
  hparams = json.loads((exp_dir / 'hparams.json').read_text())
  assert hparams['optimizer'] == 'sgd' and hparams['learning_rate'] == 1.0
  assert hparams['num_steps'] == 4 and hparams['units'] == 8
  assert (exp_dir / 'hparams.csv').is_file()
  assert [int(r['steps']) for r in outputs.read_metrics_csv(str(exp_dir))] == [
      0, 4]
  final = json.loads((exp_dir / 'final_metrics.json').read_text())
  assert 0 <= final['final_test']['accuracy'] <= 1
  # A longer budget continues the same run, as run.sh's resumed runs do; 10
  # steps end 2 steps into round 3. A flag left out takes the run's recorded
  # value (its learning rate too: recorded as resolved, 1.0 for SGD).
  partial = _run(*[f for f in common if f != '--units=8'], '--num_steps=10')
  assert partial.returncode == 0, partial.stderr[-3000:]
  assert 'resuming' in partial.stdout
  assert ("resuming with the run's recorded --learning_rate=1.0 --units=8 (not "
          'on the command line)') in partial.stdout
  assert 'final model after 10 steps' in partial.stdout
  shorter = _run(*common, '--num_steps=3')
  assert shorter.returncode == 2
  assert (f'{exp_dir} has trained 10 steps (round 3); a budget of 3 steps '
          'ends before that') in shorter.stderr
  assert 'Traceback' not in shorter.stderr
  assert json.loads((exp_dir / 'hparams.json').read_text())['num_steps'] == 10
  # 12 steps then retrain round 3 in full.
  # The final evaluation on the periodic one's 3 clients, changed on resume:
  # the same model on the same clients gives the last periodic metrics.
  full = _run(*common, '--num_steps=12', '--final_eval_clients=3')
  assert full.returncode == 0, full.stderr[-3000:]
  assert 'from the checkpoint of round 2' in full.stdout
  assert 'round 3 ended early under a smaller budget' in full.stdout
  rows = outputs.read_metrics_csv(str(exp_dir))
  assert [int(r['steps']) for r in rows] == [0, 4, 8, 12]
  assert '3 sampled test clients: accuracy=' in full.stdout
  final = json.loads((exp_dir / 'final_metrics.json').read_text())
  assert 'final_test' not in final and final['final_test_sample_clients'] == 3
  for name, value in final['final_test_sample'].items():
    assert float(rows[-1][f'evaluation/test/{name}']) == pytest.approx(
        value, rel=1e-6), name
