"""The run_federated binary: outputs, resume after SIGKILL, and bad flags."""

import glob
import json
import os
import pathlib
import signal
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tff_lstm.aggregation import accounting
from tff_lstm.data import shakespeare
from tff_lstm.training import outputs

_BINARY = os.path.join(os.path.dirname(__file__), '..', '..', 'experiments',
                       'run_federated.py')
# A tiny model and cohort: each round takes about a second. The final model
# is evaluated on the periodic evaluation's 5 clients rather than the full
# test split, which would take a tiny run's rounds several times over.
_SMALL = ['--units=8', '--num_layers=1', '--sequence_length=20',
          '--clients_per_round=3', '--max_elements_per_client=4',
          '--clients_per_eval=5', '--rounds_per_eval=2',
          '--final_eval_clients=5', '--rounds_per_checkpoint=1',
          '--progress_bar=false']


def _command(cache_dir, out_dir, *extra):
  return [sys.executable, _BINARY, f'--cache_dir={cache_dir}',
          f'--root_output_dir={out_dir}', *_SMALL, *extra]


def _rounds(exp_dir):
  return [int(row['round']) for row in outputs.read_metrics_csv(exp_dir)]


def _without_timing(exp_dir):
  """metrics.csv as text cells, less the columns that time the run."""
  return [{k: v for k, v in row.items() if not k.endswith('time_in_seconds')}
          for row in outputs.read_metrics_csv(exp_dir)]


def _program_state(exp_dir, round_num):
  """Every value of a checkpoint: model, optimizer and aggregator state."""
  reader = tf.train.load_checkpoint(os.path.join(
      exp_dir, 'checkpoints', f'program_state_{round_num}', 'variables',
      'variables'))
  return {name: reader.get_tensor(name)
          for name in reader.get_variable_to_shape_map()
          if name != '_CHECKPOINTABLE_OBJECT_GRAPH'}


def _assert_same_run(exp_dir, other_dir, last_round):
  """The same metrics apart from timings, the same final model, exactly."""
  assert _without_timing(other_dir) == _without_timing(exp_dir)
  def final(d):
    values = json.loads((pathlib.Path(d) / 'final_metrics.json').read_text())
    return {k: v for k, v in values.items() if k.startswith('final_test')}
  assert final(exp_dir) and final(other_dir) == final(exp_dir)
  state, other = (_program_state(exp_dir, last_round),
                  _program_state(other_dir, last_round))
  assert state.keys() == other.keys() and state
  for name, value in state.items():
    np.testing.assert_array_equal(other[name], value, err_msg=name)


def test_outputs_exist_and_parse(shakespeare_cache_dir, tmp_path):
  run = subprocess.run(
      _command(shakespeare_cache_dir, tmp_path, '--experiment_name=e',
               '--total_rounds=2', '--personalization_clients=3',
               '--rounds_per_worker_restart=1', '--final_eval_clients=0'),
      capture_output=True, text=True, timeout=600)
  assert run.returncode == 0, run.stderr[-3000:]
  exp_dir = tmp_path / 'e'
  assert 'round 2/2:' in run.stdout
  assert 'final model after 2 rounds, full test split: ' in run.stdout
  assert 'client parallelism: vectorized' in run.stdout  # auto, LSTM LM
  # TFF's plain mean unless asked otherwise, said and recorded.
  plain = 'example-weighted mean (tff.aggregators.MeanFactory)'
  assert f'aggregation: {plain}' in run.stdout
  hparams = json.loads((exp_dir / 'hparams.json').read_text())
  assert hparams['clients_per_round'] == 3 and hparams['task'] == 'shakespeare_char'
  assert hparams['aggregation'] == plain
  assert hparams['robust_aggregation'] is False
  rows = outputs.read_metrics_csv(exp_dir)
  assert [int(r['round']) for r in rows] == [0, 1, 2]
  assert float(rows[1]['client_work/train/loss']) > 0
  assert float(rows[2]['evaluation/test/accuracy']) >= 0
  assert float(rows[1]['training_time_in_seconds']) > 0
  final = json.loads((exp_dir / 'final_metrics.json').read_text())
  assert 0 <= final['final_test']['accuracy'] <= 1
  assert 0 <= final['personalization']['finetuned/accuracy'] <= 1
  assert final['learning_check']['warnings'] == []
  assert final['learning_check']['rounds_checked'] == 2
  assert 'warning' not in run.stderr
  assert 'personalization (mean over clients)' in run.stdout
  events = glob.glob(str(exp_dir / 'tensorboard' / '**' / 'events.out.*'),
                     recursive=True)
  assert events
  tags = {v.tag for e in tf.compat.v1.train.summary_iterator(events[0])
          for v in e.summary.value}
  assert 'client_work/train/loss' in tags
  checkpoints = sorted(os.listdir(exp_dir / 'checkpoints'))
  assert 'program_state_2' in checkpoints


def test_resume_after_sigkill_loses_no_round_and_other_settings_are_refused(
    shakespeare_cache_dir, tmp_path):
  command = _command(shakespeare_cache_dir, tmp_path, '--experiment_name=k',
                     '--total_rounds=5')
  child = subprocess.Popen(command, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
  try:
    for line in child.stdout:
      if line.startswith('round 3/5'):
        child.send_signal(signal.SIGKILL)  # mid-run, no chance to clean up
        break
  finally:
    child.kill()
    child.wait()
  exp_dir = str(tmp_path / 'k')
  assert max(_rounds(exp_dir)) < 5

  resumed = subprocess.run(command, capture_output=True, text=True,
                           timeout=600)

  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert 'resuming' in resumed.stdout
  assert 'round 1/5' not in resumed.stdout  # did not start over
  assert _rounds(exp_dir) == [0, 1, 2, 3, 4, 5]

  # The finished run is not resumed under other settings.
  other = subprocess.run(command + ['--client_batch_size=8'],
                         capture_output=True, text=True, timeout=600)
  assert other.returncode != 0
  assert '--client_batch_size: 4 before, 8 now' in other.stderr
  assert 'Traceback' not in other.stderr
  assert _rounds(exp_dir) == [0, 1, 2, 3, 4, 5]


def test_two_runs_of_one_command_are_identical_on_the_sequential_path(
    shakespeare_cache_dir, tmp_path):
  """TFF's client-by-client path, clients shuffling their data (the task's
  default buffer; forecasting, whose preprocessing is ours, where the
  vectorized test below runs TFF's Shakespeare preprocessing): sampling,
  shuffles and model init all follow the flags."""
  for name in ('s', 's_again'):
    run = subprocess.run(
        _command(shakespeare_cache_dir, tmp_path, f'--experiment_name={name}',
                 '--task=timeseries_forecast', '--total_rounds=2',
                 '--client_parallelism=sequential'),
        capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert 'client parallelism: sequential' in run.stdout
  hparams = json.loads((tmp_path / 's' / 'hparams.json').read_text())
  assert hparams['resolved_client_parallelism'] == 'sequential'
  assert hparams['client_shuffle_buffer_size'] is None  # shuffling: on
  _assert_same_run(str(tmp_path / 's'), str(tmp_path / 's_again'), 2)


def test_auto_falls_back_to_sequential_and_vectorized_refusals(
    shakespeare_cache_dir, tmp_path):
  auto_schedule = subprocess.run(
      _command(shakespeare_cache_dir, tmp_path, '--experiment_name=w',
               '--total_rounds=1', '--client_lr_schedule=linear_warmup'),
      capture_output=True, text=True, timeout=600)
  assert auto_schedule.returncode == 0, auto_schedule.stderr[-3000:]
  assert ('client parallelism: sequential, because the vectorized cohort '
          'cannot run this: --client_lr_schedule=linear_warmup') in (
              auto_schedule.stdout)
  refused = subprocess.run(
      _command(shakespeare_cache_dir, tmp_path, '--experiment_name=v',
               '--total_rounds=1', '--client_lr_schedule=exp_decay',
               '--client_parallelism=vectorized'),
      capture_output=True, text=True, timeout=600)
  assert refused.returncode == 2
  assert ('client_parallelism=vectorized does not support this run: '
          '--client_lr_schedule=exp_decay') in refused.stderr
  assert 'Traceback' not in refused.stderr


@pytest.mark.parametrize('algorithm', ['fedprox', 'fedsgd'])
def test_algorithms_run_and_record_the_vectorized_cohort(
    shakespeare_cache_dir, tmp_path, algorithm):
  run = subprocess.run(
      _command(shakespeare_cache_dir, tmp_path, f'--experiment_name={algorithm}',
               '--total_rounds=1', f'--algorithm={algorithm}'),
      capture_output=True, text=True, timeout=600)
  assert run.returncode == 0, run.stderr[-3000:]
  assert 'client parallelism: vectorized' in run.stdout
  hparams = json.loads((tmp_path / algorithm / 'hparams.json').read_text())
  assert hparams['resolved_client_parallelism'] == 'vectorized'
  metrics = (tmp_path / algorithm / 'metrics.csv').read_text()
  assert 'client_work/train/accuracy_without_oov_or_eos' in metrics


@pytest.mark.parametrize('flags_, message', [
    (['--fedprox_mu=0.1'], '--fedprox_mu applies to --algorithm=fedprox, not '
     'to --algorithm=fedavg'),
    (['--algorithm=fedsgd', '--client_learning_rate=0.5'],
     '--client_learning_rate applies to --algorithm=fedavg, '
     '--algorithm=fedprox, --algorithm=scaffold, --algorithm=mime_lite, not '
     'to --algorithm=fedsgd'),
    (['--algorithm=scaffold', '--client_momentum=0.9'],
     '--client_momentum applies to --algorithm=fedavg, --algorithm=fedprox, '
     '--algorithm=mime_lite, not to --algorithm=scaffold'),
])
def test_an_algorithms_flag_given_to_another_is_refused(
    shakespeare_cache_dir, tmp_path, flags_, message):
  run = subprocess.run(
      _command(shakespeare_cache_dir, tmp_path, '--experiment_name=x',
               '--total_rounds=1', *flags_),
      capture_output=True, text=True, timeout=600)
  assert run.returncode == 2
  assert message in run.stderr
  assert 'Traceback' not in run.stderr
  assert not (tmp_path / 'x').exists()


def test_a_masked_secure_aggregation_threshold_above_the_cohort_is_refused(
    shakespeare_cache_dir, tmp_path):
  run = subprocess.run(
      _command(shakespeare_cache_dir, tmp_path, '--experiment_name=x',
               '--total_rounds=1', '--secure_aggregation=masked',
               '--clients_per_round=3', '--secagg_threshold=4'),
      capture_output=True, text=True, timeout=600)
  assert run.returncode == 2
  assert ('error: --secagg_threshold=4 must be in [1, '
          '--clients_per_round=3].') in run.stderr
  assert 'Traceback' not in run.stderr
  assert not (tmp_path / 'x').exists()


_BEFORE_PLAIN_MEAN = os.path.join(os.path.dirname(__file__), 'testdata',
                                  'hparams_before_plain_mean.json')


def test_a_run_recorded_before_the_plain_mean_default_resumes_as_it_ran(
    shakespeare_cache_dir, tmp_path):
  """A run started, with this command, by the version whose default was the
  robust mean recorded robust_aggregation null (testdata: that version's
  hparams.json). Rerun with the same command, it resumes from its checkpoint
  with robust aggregation, says so, and records it explicitly; the learning
  rate it recorded (then everyone's default) beats today's task default."""
  name = ('--experiment_name=old', '--task=timeseries_forecast')
  exp_dir = tmp_path / 'old'
  # The checkpoint that version's run left: one round of the robust mean.
  first = subprocess.run(
      _command(shakespeare_cache_dir, tmp_path, *name, '--total_rounds=1',
               '--robust_aggregation', '--client_learning_rate=1'),
      capture_output=True, text=True, timeout=600)
  assert first.returncode == 0, first.stderr[-3000:]
  record = json.loads(pathlib.Path(_BEFORE_PLAIN_MEAN).read_text())
  assert record['robust_aggregation'] is None and 'aggregation' not in record
  record.update(
      cache_dir=shakespeare_cache_dir, root_output_dir=str(tmp_path),
      data_identity=json.loads(
          (exp_dir / 'hparams.json').read_text())['data_identity'])
  (exp_dir / 'hparams.json').write_text(json.dumps(record))

  resumed = subprocess.run(
      _command(shakespeare_cache_dir, tmp_path, *name, '--total_rounds=2'),
      capture_output=True, text=True, timeout=600)

  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert ("resuming with the run's recorded --robust_aggregation=True (not on "
          'the command line)') in resumed.stdout
  assert 'aggregation: zeroing of enormous updates' in resumed.stdout
  assert 'from the checkpoint of round 1' in resumed.stdout
  rows = outputs.read_metrics_csv(str(exp_dir))
  assert [int(r['round']) for r in rows] == [0, 1, 2]
  assert rows[2]['aggregator/zeroed_count'] != ''  # the robust chain ran
  now = json.loads((exp_dir / 'hparams.json').read_text())
  assert now['robust_aggregation'] is True
  assert now['aggregation'].startswith('zeroing of enormous updates')
  assert now['client_learning_rate'] == 1.0
  assert 'defaults:' not in resumed.stdout


@pytest.mark.parametrize('flag, message', [
    ('--task=mnist', 'should be one of <shakespeare_char|'),
    ('--server_optimizer=rmsprop', 'one of <sgd|sgdm|adam|yogi|adagrad>'),
    ('--cell_type=transformer', 'one of <lstm|keras_lstm|gru|simple_rnn>'),
    ('--algorithm=fedmagic', 'one of <fedavg|fedprox|fedsgd|scaffold|mime_lite>'),
    ('--clients_per_round=0', '--clients_per_round must be >= 1'),
    ('--server_learning_rate=-1', 'learning rate must be > 0'),
    ('--clients_per_round=100000', 'clients_per_round=100000 exceeds the'),
    ('--client_datasets_random_seed=-1', 'flag --client_datasets_random_seed'
     '=-1: -1 is not an integer in the range [0, 4294967295]'),
])
def test_bad_flags_give_clear_errors(shakespeare_cache_dir, tmp_path, flag,
                                     message):
  run = subprocess.run(
      _command(shakespeare_cache_dir, tmp_path, '--experiment_name=bad', flag),
      capture_output=True, text=True, timeout=300)
  assert run.returncode != 0
  assert message in run.stderr
  assert 'Traceback' not in run.stderr
  assert not (tmp_path / 'bad').exists()  # a refused command writes nothing


def test_a_name_outside_the_root_is_refused(shakespeare_cache_dir, tmp_path):
  root = tmp_path / 'root'
  run = subprocess.run(
      [sys.executable, _BINARY, f'--cache_dir={shakespeare_cache_dir}',
       f'--root_output_dir={root}', '--experiment_name=..', *_SMALL],
      capture_output=True, text=True, timeout=300)
  assert run.returncode == 2
  assert '--experiment_name must be a plain name' in run.stderr
  assert sorted(os.listdir(tmp_path)) == []


def test_task_option_that_does_not_apply_is_rejected(shakespeare_cache_dir,
                                                     tmp_path):
  run = subprocess.run(
      _command(shakespeare_cache_dir, tmp_path, '--experiment_name=w',
               '--window=5'), capture_output=True, text=True, timeout=300)
  assert run.returncode != 0
  assert "--window does not apply to task 'shakespeare_char'" in run.stderr
  assert 'Traceback' not in run.stderr


def test_user_task_with_a_missing_database_names_the_flag(tmp_path):
  run = subprocess.run(
      [sys.executable, _BINARY, '--task=text_classification',
       f'--database_path={tmp_path}/none.sqlite',
       f'--root_output_dir={tmp_path}', '--experiment_name=u'],
      capture_output=True, text=True, timeout=300)
  assert run.returncode != 0
  assert '--database_path' in run.stderr
  assert 'Traceback' not in run.stderr


def test_dp_run_logs_epsilon_each_round(shakespeare_cache_dir, tmp_path):
  from tff_lstm.aggregation import accounting  # pylint: disable=g-import-not-at-top
  run = subprocess.run(
      _command(shakespeare_cache_dir, tmp_path, '--experiment_name=dp',
               '--total_rounds=2', '--clients_per_round=4',
               '--client_weighting=uniform', '--dp_mechanism=gaussian_fixed',
               '--dp_noise_multiplier=0.8', '--dp_clip=0.5'),
      capture_output=True, text=True, timeout=600)
  assert run.returncode == 0, run.stderr[-3000:]
  assert 'without replacement' in run.stdout  # the sampling model is stated
  rows = outputs.read_metrics_csv(tmp_path / 'dp')
  num_clients = len(shakespeare.load_client_data(shakespeare_cache_dir)[0]
                    .client_ids)
  for row in rows[1:]:
    expected = accounting.epsilon(
        noise_multiplier=0.8, clients_per_round=4, num_clients=num_clients,
        rounds=int(row['round']))
    assert float(row['privacy/epsilon']) == pytest.approx(expected)
  assert float(rows[2]['privacy/epsilon']) > float(rows[1]['privacy/epsilon'])
  assert 'privacy: epsilon=' in run.stdout
  # The delta is the default, well below 1/num_clients, and recorded.
  delta = accounting.default_delta(num_clients)
  assert delta < 1 / num_clients
  assert {float(row['privacy/delta']) for row in rows} == {delta}
  record = json.loads((tmp_path / 'dp' / 'hparams.json').read_text())
  assert record['dp_delta'] is None
  assert record['privacy_accounting']['delta'] == delta
  assert record['privacy_accounting']['num_clients'] == num_clients


def test_masked_distributed_dp_records_the_accounted_epsilon(
    shakespeare_cache_dir, tmp_path):
  """DP over the masked protocol: every round's epsilon is the accountant's
  for the DP flags alone (the simulated secure sum's, which the accountant
  is given the same way), and the run records the protocol's counts."""
  dp = ['--total_rounds=2', '--clients_per_round=4',
        '--client_weighting=uniform', '--dp_mechanism=gaussian_fixed',
        '--dp_noise_multiplier=0.8', '--dp_clip=0.5', '--secure_bits=18']
  run = subprocess.run(
      _command(shakespeare_cache_dir, tmp_path, '--experiment_name=masked',
               '--secure_aggregation=masked', *dp),
      capture_output=True, text=True, timeout=600)
  assert run.returncode == 0, run.stderr[-3000:]
  rows = outputs.read_metrics_csv(tmp_path / 'masked')
  population = len(shakespeare.load_client_data(
      shakespeare_cache_dir)[0].client_ids)
  delta = accounting.resolve_delta(None, population)
  expected = [accounting.epsilon(
      rounds=r, noise_multiplier=0.8, clients_per_round=4,
      num_clients=population, delta=delta, dp_mechanism='gaussian_fixed')
              for r in (1, 2)]
  np.testing.assert_allclose(
      [float(r['privacy/epsilon']) for r in rows[1:]], expected, rtol=1e-6)
  assert expected[1] > expected[0] > 0
  for row in rows[1:]:
    assert float(row['aggregator/secagg_survivors']) == 4
    assert float(row['aggregator/l2_clip']) == 0.5
  record = json.loads((tmp_path / 'masked' / 'hparams.json').read_text())
  assert record['aggregation'].startswith(
      'distributed DP (discrete noise, masked SecAgg in the 18-bit ring')


def test_masked_compression_trains_and_reports_its_bytes(
    shakespeare_cache_dir, tmp_path):
  """Two rounds of masked SecAgg with 12-bit compression: the protocol's
  counts, the bytes of the ring elements, no epsilon (no DP)."""
  run = subprocess.run(
      _command(shakespeare_cache_dir, tmp_path, '--experiment_name=c',
               '--total_rounds=2', '--clients_per_round=4',
               '--client_weighting=uniform', '--secure_aggregation=masked',
               '--compression', '--compression_bits=12', '--hadamard',
               '--compression_clip=2'),
      capture_output=True, text=True, timeout=600)
  assert run.returncode == 0, run.stderr[-3000:]
  rows = outputs.read_metrics_csv(tmp_path / 'c')
  assert [int(r['round']) for r in rows][-2:] == [1, 2]
  for row in rows[1:]:
    assert float(row['aggregator/secagg_survivors']) == 4
    assert float(row['aggregator/l2_clip']) == 2
    padded = float(row['aggregator/padded_dim'])
    assert float(row['aggregator/client_to_server_bytes']) == (
        4 * padded * 12 / 8)
    # 32-bit floats against 12 bits a padded coordinate (the padding to a
    # power of 2 takes back part of the 32 / 12).
    plain = float(row['aggregator/uncompressed_bytes'])
    assert plain > 4 * padded / 2 * 4
    assert float(row['aggregator/compression_ratio']) == pytest.approx(
        plain / float(row['aggregator/client_to_server_bytes']))
    assert float(row['aggregator/compression_ratio']) > 1
    assert np.isfinite(float(row['client_work/train/loss']))
    assert 'privacy/epsilon' not in row or not row['privacy/epsilon']
  record = json.loads((tmp_path / 'c' / 'hparams.json').read_text())
  assert record['compression_clip'] == 2
  assert record['aggregation'].startswith(
      'secure uniform mean of compressed updates (masked SecAgg in the '
      '12-bit ring')


def test_masked_distributed_dp_with_a_ring_too_narrow_is_refused(
    shakespeare_cache_dir, tmp_path):
  run = subprocess.run(
      _command(shakespeare_cache_dir, tmp_path, '--experiment_name=x',
               '--total_rounds=1', '--secure_aggregation=masked',
               '--clients_per_round=4', '--client_weighting=uniform',
               '--dp_mechanism=gaussian_fixed', '--dp_noise_multiplier=1',
               '--dp_clip=1', '--secure_bits=2'),
      capture_output=True, text=True, timeout=600)
  assert run.returncode == 2
  assert ('error: --secure_bits=2 is too narrow for --clients_per_round=4'
          in run.stderr)
  assert 'Traceback' not in run.stderr
  assert not (tmp_path / 'x').exists()


@pytest.mark.parametrize('flags_, message', [
    (['--dp_mechanism=gaussian_fixed', '--dp_noise_multiplier=1',
      '--dp_clip=1'], 'set --client_weighting=uniform'),
    (['--client_weighting=uniform', '--dp_mechanism=gaussian_fixed',
      '--dp_noise_multiplier=-1', '--dp_clip=1'], '--dp_noise_multiplier'),
    (['--client_weighting=uniform', '--dp_mechanism=gaussian_fixed',
      '--dp_noise_multiplier=1', '--dp_clip=0'], '--dp_clip'),
])
def test_bad_dp_flags_are_rejected(shakespeare_cache_dir, tmp_path, flags_,
                                   message):
  run = subprocess.run(
      _command(shakespeare_cache_dir, tmp_path, '--experiment_name=baddp',
               *flags_), capture_output=True, text=True, timeout=300)
  assert run.returncode != 0
  assert message in run.stderr
  assert 'Traceback' not in run.stderr


_WORKER_BINARY = os.path.join(os.path.dirname(__file__), '..', '..',
                              'experiments', 'run_worker.py')


def _truncate_checkpoint(exp_dir, round_num):
  data = os.path.join(exp_dir, 'checkpoints', f'program_state_{round_num}',
                      'variables', 'variables.data-00000-of-00001')
  with open(data, 'r+b') as f:
    f.truncate(os.path.getsize(data) // 2)


def test_resumes_across_runtimes_refuses_fewer_rounds_and_skips_damage(
    shakespeare_cache_dir, tmp_path):
  """A run started on the local cohort resumes on remote workers (TFF's
  sequential path) with other evaluation and restart cadences; asking for
  fewer rounds than it has is refused; a damaged latest checkpoint is moved
  aside and the run resumes from the one before it."""
  exp_dir = str(tmp_path / 'r')
  name = '--experiment_name=r'
  local = subprocess.run(
      _command(shakespeare_cache_dir, tmp_path, name, '--total_rounds=2'),
      capture_output=True, text=True, timeout=600)
  assert local.returncode == 0, local.stderr[-3000:]
  assert 'client parallelism: vectorized' in local.stdout
  workers = subprocess.Popen(
      [sys.executable, _WORKER_BINARY, '--num_workers=2',
       '--plaintext_loopback'],
      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
  try:
    addresses = next(line.strip().split('=', 1)[1] for line in workers.stdout
                     if line.startswith('worker_addresses='))
    remote = subprocess.run(
        _command(shakespeare_cache_dir, tmp_path, name, '--total_rounds=3',
                 f'--worker_addresses={addresses}', '--clients_per_eval=3',
                 '--rounds_per_worker_restart=1'),
        capture_output=True, text=True, timeout=600)
  finally:
    workers.terminate()
    workers.wait(timeout=60)
  assert remote.returncode == 0, remote.stderr[-3000:]
  assert 'resuming' in remote.stdout and 'round 3/3:' in remote.stdout
  assert 'client parallelism: sequential' in remote.stdout
  assert _rounds(exp_dir) == [0, 1, 2, 3]
  final = (tmp_path / 'r' / 'final_metrics.json').read_text()

  fewer = subprocess.run(
      _command(shakespeare_cache_dir, tmp_path, name, '--total_rounds=2'),
      capture_output=True, text=True, timeout=600)
  assert fewer.returncode == 2
  assert ('holds the checkpoint of round 3, and --total_rounds=2 ends before '
          'it') in fewer.stderr
  assert 'Traceback' not in fewer.stderr
  assert (tmp_path / 'r' / 'final_metrics.json').read_text() == final

  _truncate_checkpoint(exp_dir, 3)
  again = subprocess.run(
      _command(shakespeare_cache_dir, tmp_path, name, '--total_rounds=3'),
      capture_output=True, text=True, timeout=600)
  assert again.returncode == 0, again.stderr[-3000:]
  assert 'checkpoint of round 3 is damaged (IndexError' in again.stdout
  assert 'resuming from round 2' in again.stdout
  assert 'round 3/3:' in again.stdout
  assert _rounds(exp_dir) == [0, 1, 2, 3]
  assert json.loads(
      (tmp_path / 'r' / 'final_metrics.json').read_text())['rounds'] == 3
  assert os.path.isdir(
      os.path.join(exp_dir, 'checkpoints', 'damaged_program_state_3'))


def test_a_second_writer_is_refused_and_sigterm_says_how_to_resume(
    shakespeare_cache_dir, tmp_path):
  command = _command(shakespeare_cache_dir, tmp_path, '--experiment_name=two',
                     '--total_rounds=50')
  first = subprocess.Popen(command, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
  try:
    for line in first.stdout:
      if line.startswith('round 2/50'):
        break
    second = subprocess.run(command, capture_output=True, text=True,
                            timeout=600)
    first.send_signal(signal.SIGTERM)
    _, first_stderr = first.communicate(timeout=120)
  finally:
    first.kill()
    first.wait()
  assert second.returncode == 2
  assert f'is in use by another run (PID {first.pid})' in second.stderr
  assert 'Traceback' not in second.stderr
  assert first.returncode == 128 + signal.SIGTERM
  assert 'stopped by SIGTERM. Rerun the same command to resume from the ' \
      'checkpoint of round' in first_stderr
  rounds = _rounds(str(tmp_path / 'two'))
  assert rounds == sorted(set(rounds))  # no round written twice


def test_resume_on_other_data_at_the_same_path_is_refused(tmp_path):
  from tff_lstm.data import user_import  # pylint: disable=g-import-not-at-top
  source, path = tmp_path / 'texts.jsonl', str(tmp_path / 'texts.sqlite')

  def import_texts(words):
    source.write_text(''.join(
        f'{{"client_id": "c{i % 3}", "text": "{w} and more {w} text"}}\n'
        for i, w in enumerate(words)))
    user_import.import_file(str(source), path, 'text')

  import_texts(['alpha', 'beta', 'gamma', 'delta', 'eps', 'zeta'])
  command = [sys.executable, _BINARY, '--task=text_lm',
             f'--database_path={path}', f'--root_output_dir={tmp_path}',
             '--experiment_name=t', *_SMALL, '--total_rounds=1']
  first = subprocess.run(command, capture_output=True, text=True, timeout=600)
  assert first.returncode == 0, first.stderr[-3000:]
  recorded = json.loads((tmp_path / 't' / 'hparams.json').read_text())
  old_hash = recorded['data_identity']['texts.sqlite']
  import_texts(['one', 'two', 'three', 'four', 'five', 'six', 'seven'])
  again = subprocess.run([*command[:-1], '--total_rounds=2'],
                         capture_output=True, text=True, timeout=600)
  assert again.returncode == 2
  assert f'was trained on other data (texts.sqlite: {old_hash} before' in (
      again.stderr)
  assert 'Traceback' not in again.stderr
  assert json.loads((tmp_path / 't' / 'hparams.json').read_text()) == recorded


def test_dead_worker_address_fails_fast_and_clearly(shakespeare_cache_dir,
                                                    tmp_path):
  import portpicker  # pylint: disable=g-import-not-at-top
  dead = f'127.0.0.1:{portpicker.pick_unused_port()}'
  run = subprocess.run(
      _command(shakespeare_cache_dir, tmp_path, '--experiment_name=dead',
               '--total_rounds=1', f'--worker_addresses={dead}'),
      capture_output=True, text=True, timeout=300)
  assert run.returncode != 0
  assert f'TFF worker at {dead} did not answer' in run.stderr
  assert 'No checkpoint was written yet' in run.stderr
  assert 'Traceback' not in run.stderr


def test_one_command_twice_and_a_killed_and_resumed_run_are_the_same_run(
    shakespeare_cache_dir, tmp_path):
  """The vectorized path with every client shuffling its data: a run killed
  mid-way and resumed gives the same metrics (apart from timings), model and
  SCAFFOLD client states as one run of the same command. Its first rounds ran
  in another process than the whole run's, so this is also two runs of one
  command agreeing; the rounds it reruns after the kill shuffle as they did,
  not anew."""
  flags_ = ['--algorithm=scaffold', '--total_rounds=4',
            '--clients_per_round=4']
  run = subprocess.run(
      _command(shakespeare_cache_dir, tmp_path, '--experiment_name=whole',
               *flags_), capture_output=True, text=True, timeout=600)
  assert run.returncode == 0, run.stderr[-3000:]
  assert 'client parallelism: vectorized' in run.stdout
  command = _command(shakespeare_cache_dir, tmp_path, '--experiment_name=cut',
                     *flags_)
  child = subprocess.Popen(command, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
  try:
    for line in child.stdout:
      if line.startswith('round 3/4'):
        child.send_signal(signal.SIGKILL)
        break
  finally:
    child.kill()
    child.wait()
  resumed = subprocess.run(command, capture_output=True, text=True,
                           timeout=600)
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert 'resuming' in resumed.stdout

  whole = str(tmp_path / 'whole')
  _assert_same_run(whole, str(tmp_path / 'cut'), 4)
  # The final model on the periodic evaluation's 5 clients: the last
  # periodic metrics, which evaluated the same model on the same clients.
  assert '5 sampled test clients: ' in run.stdout
  final = json.loads((tmp_path / 'whole' / 'final_metrics.json').read_text())
  assert 'final_test' not in final and final['final_test_sample_clients'] == 5
  last = outputs.read_metrics_csv(whole)[-1]
  for name, value in final['final_test_sample'].items():
    assert float(last[f'evaluation/test/{name}']) == pytest.approx(
        value, rel=1e-6), name
  with np.load(tmp_path / 'whole' / 'client_states' / 'round_4.npz') as a, \
       np.load(tmp_path / 'cut' / 'client_states' / 'round_4.npz') as b:
    assert sorted(a.files) == sorted(b.files)
    assert list(a['client_ids']) == list(b['client_ids'])
    assert len(a['client_ids']) > 4          # more clients than one round's
    for name in a.files:
      np.testing.assert_array_equal(b[name], a[name], err_msg=name)
