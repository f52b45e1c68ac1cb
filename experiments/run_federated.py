"""Federated training of a recurrent model: the experiment binary.

  .venv/bin/python experiments/run_federated.py --task=shakespeare_char \
      --algorithm=fedavg --server_optimizer=adam --server_learning_rate=0.01 \
      --clients_per_round=10 --total_rounds=100 --experiment_name=my_run

Writes <root_output_dir>/<experiment_name>/ (see tff_lstm/training/layout.py).
Rerunning the same command after an interruption resumes from the last
checkpoint.
"""

import signal
import sys

from tff_lstm import runtime  # first: quiets TensorFlow before it is imported
from tff_lstm.runtime import remote
from tff_lstm.runtime import certificates

# pylint: disable=g-bad-import-order
from absl import app
from absl import flags
import tensorflow_federated as tff

from tff_lstm.aggregation import accounting
from tff_lstm.aggregation import config as aggregation_config
from tff_lstm.aggregation import flags as aggregation_flags
from tff_lstm.algorithms import flags as algorithm_flags
from tff_lstm.algorithms import learning_process
from tff_lstm.data import sql_writer
from tff_lstm.tasks import task_flags
from tff_lstm.tasks import training_defaults
from tff_lstm.training import checkpoint_integrity
from tff_lstm.training import evaluation
from tff_lstm.training import evaluation_flags
from tff_lstm.training import experiment_lock
from tff_lstm.training import loop
from tff_lstm.training import outputs
from tff_lstm.training import recorded_flags

# Task and model (shared with run_centralized.py).
task_flags.define_task_flags()
flags.adopt_module_key_flags(task_flags)

# Algorithm: --algorithm, optimizers, weighting, parallelism and every
# algorithm's own flags (tff_lstm/algorithms/registry.py).
algorithm_flags.define_algorithm_flags()
for _module in algorithm_flags.flag_modules():
  flags.adopt_module_key_flags(_module)

# Clients and rounds.
_CLIENTS_PER_ROUND = flags.DEFINE_integer('clients_per_round', 10,
                                          'Clients sampled each round.')
_CLIENT_EPOCHS = flags.DEFINE_integer('client_epochs_per_round', 1,
                                      'Local epochs per round.')
_CLIENT_BATCH_SIZE = flags.DEFINE_integer('client_batch_size', 4,
                                          'Local batch size.')
_MAX_ELEMENTS = flags.DEFINE_integer(
    'max_elements_per_client', None,
    'Cap on a client\'s examples per round (unset: all).')
_SHUFFLE_BUFFER = flags.DEFINE_integer(
    'client_shuffle_buffer_size', None,
    'Client dataset shuffle buffer (unset: task default; 1: no shuffling).')
_TOTAL_ROUNDS = flags.DEFINE_integer('total_rounds', 10, 'Training rounds.')
_ROUNDS_PER_EVAL = flags.DEFINE_integer('rounds_per_eval', 10,
                                        'Rounds between test evaluations.')
evaluation_flags.define_evaluation_flags()
flags.adopt_module_key_flags(evaluation_flags)
_ROUNDS_PER_CHECKPOINT = flags.DEFINE_integer('rounds_per_checkpoint', 10,
                                              'Rounds between checkpoints.')
_ROUNDS_PER_WORKER_RESTART = flags.DEFINE_integer(
    'rounds_per_worker_restart', 100,
    'Start a fresh local TFF worker every this many rounds (0: never); bounds '
    'the memory the worker accumulates over long runs.')
_SEED = flags.DEFINE_integer(
    'client_datasets_random_seed', 0, 'Seed of the rounds\' data: which '
    'clients each round samples, each client\'s shuffle in each round '
    '(hashed with the round and client id), and the periodic-eval and '
    'personalization test clients.', **task_flags.SEED_BOUNDS)

_PERSONALIZATION_CLIENTS = flags.DEFINE_integer(
    'personalization_clients', 0, 'After training, fine-tune the final model '
    'on this many test clients\' own train data and report test metrics '
    'before/after (0: off).')
_PERSONALIZATION_EPOCHS = flags.DEFINE_integer(
    'personalization_epochs', 1, 'Fine-tuning epochs per client.')
_PERSONALIZATION_LR = flags.DEFINE_float(
    'personalization_learning_rate', 0.1, 'Fine-tuning SGD learning rate.')

# Outputs and runtime.
_ROOT_OUTPUT_DIR = flags.DEFINE_string('root_output_dir', 'runs',
                                       'Root of experiment directories.')
_EXPERIMENT_NAME = flags.DEFINE_string('experiment_name', None,
                                       'Directory name of this experiment.')
_PROGRESS_BAR = flags.DEFINE_bool(
    'progress_bar', True, 'tqdm bar on a terminal (else one line per round).')
_WORKER_ADDRESSES = flags.DEFINE_string(
    'worker_addresses', None, 'host:port,host:port of TFF workers started '
    'with experiments/run_worker.py (see docs/distributed.md); each round\'s '
    'clients are split across them. Unset: one local worker of our own.')
_WORKER_TLS_DIR = flags.DEFINE_string(
    'worker_tls_dir', None, 'Folder with ca.pem, controller.pem and '
    'controller.key (experiments/make_worker_certificates.py): mutual TLS to '
    'the --worker_addresses, needed for any that is not on this machine.')
_WORKER_TIMEOUT_S = flags.DEFINE_float(
    'worker_timeout_s', remote.CALL_TIMEOUT_S, 'A worker that stops '
    'answering mid-call (stopped, or its host unreachable) fails the round '
    'within this many seconds.')
_ALLOW_EXPOSED_WORKER = flags.DEFINE_bool(
    'allow_exposed_worker', False, 'Where this machine cannot give our local '
    'TFF worker a network namespace of its own, run it anyway, listening on '
    'every interface (anyone who can reach this machine could run code as '
    'you while it runs). Default: refuse.')
_VERBOSE = flags.DEFINE_bool('verbose', False,
                             'Show TF/TFF INFO logs and the worker\'s output.')

# Privacy, security, compression and robustness of the aggregation.
aggregation_flags.define_aggregation_flags()
flags.adopt_module_key_flags(aggregation_flags)

flags.mark_flag_as_required('experiment_name')
FLAGS = flags.FLAGS
for _name in training_defaults.FLAGS_WITH_TASK_DEFAULTS:
  FLAGS[_name].help += training_defaults.help_suffix(_name)


def _hparams() -> dict:
  """Every flag this binary defines, as the run's hyperparameters."""
  return {f.name: f.value for f in FLAGS.get_key_flags_for_module(sys.argv[0])}


def _hparam_defaults() -> dict:
  return {f.name: f.default
          for f in FLAGS.get_key_flags_for_module(sys.argv[0])}


def _fill_unset_flags(exp_dir: str) -> None:
  """Flags the command leaves out: a resumed run's recorded values
  (tff_lstm/training/recorded_flags.py), else the task's defaults
  (tff_lstm/tasks/training_defaults.py); each says what it supplied."""
  record = outputs.read_hparams(exp_dir)
  if record is not None:
    record = aggregation_flags.upgrade_record(record)
  adopted = recorded_flags.adopt(FLAGS, _hparams(), record, exp_dir)
  if adopted:
    print(recorded_flags.describe(adopted), flush=True)
  applied = training_defaults.apply(FLAGS, keep=record or {})
  if applied:
    print(f'--task={FLAGS.task} defaults: ' + ' '.join(
        f'--{k}={v}' for k, v in sorted(applied.items())), flush=True)


def _build_task():
  train_spec = tff.simulation.baselines.ClientSpec(
      num_epochs=_CLIENT_EPOCHS.value, batch_size=_CLIENT_BATCH_SIZE.value,
      max_elements=_MAX_ELEMENTS.value,
      shuffle_buffer_size=_SHUFFLE_BUFFER.value)
  return task_flags.create_task_from_flags(train_spec)


def _client_parallelism(task, algorithm, requested: str) -> str:
  """The --client_parallelism to use, with 'auto' resolved (and why, printed)."""
  if _WORKER_ADDRESSES.value is not None:
    if requested == 'vectorized':
      raise ValueError('--client_parallelism=vectorized trains the cohort in '
                       'one place; it cannot be split over --worker_addresses.')
    return 'sequential'
  parallelism, reason = learning_process.resolve_client_parallelism(
      task, algorithm, requested)
  if reason:
    print(f'client parallelism: sequential, because the vectorized cohort '
          f'cannot run this: {reason}', flush=True)
  return parallelism


def _build_process(task, algorithm, shared, aggregation, parallelism: str):
  return learning_process.build_learning_process(
      task, algorithm, learning_process.ProcessSettings(
          server_optimizer=shared.server_optimizer,
          client_weighting=shared.client_weighting,
          model_aggregator=aggregation_config.build_aggregator(
              aggregation, _CLIENTS_PER_ROUND.value, shared.client_weighting),
          client_parallelism=parallelism,
          client_batch_size=_CLIENT_BATCH_SIZE.value,
          mixed_precision=shared.mixed_precision,
          ckks=(aggregation.ckks_parameters
                if aggregation.homomorphic_enabled else None)))


def _privacy_metrics_fn(aggregation, num_clients: int):
  """(round -> {'privacy': epsilon, delta}, the accounting record) for DP
  runs; (None, None) without DP."""
  if not aggregation.dp_enabled:
    return None, None
  delta = accounting.resolve_delta(aggregation.dp_delta, num_clients)
  params = dict(noise_multiplier=aggregation.dp_noise_multiplier,
                clients_per_round=_CLIENTS_PER_ROUND.value,
                num_clients=num_clients, delta=delta,
                dp_mechanism=aggregation.dp_mechanism)
  accounting.check_parameters(rounds=_TOTAL_ROUNDS.value, **params)
  record = accounting.describe(
      clients_per_round=_CLIENTS_PER_ROUND.value, num_clients=num_clients,
      delta=aggregation.dp_delta, dp_mechanism=aggregation.dp_mechanism)
  print(f'{record["sampling_model"]} Epsilon at delta={delta:g} '
        f'({record["delta_rule"]}).', flush=True)

  def privacy_metrics(round_num: int) -> dict:
    eps = 0.0 if round_num == 0 else accounting.epsilon(rounds=round_num,
                                                         **params)
    return {'privacy': {'epsilon': eps, 'delta': delta}}

  return privacy_metrics, record


def _summary(final: dict, exp_dir: str) -> str:
  lines = [f'final model after {final["rounds"]} rounds, '
           f'{evaluation.describe_final(final)}']
  if 'privacy' in final:
    lines.append(f'privacy: epsilon={final["privacy"]["epsilon"]:.4g} at '
                 f'delta={final["privacy"]["delta"]:.3g}')
  if 'personalization' in final:
    p = final['personalization']
    lines.append('personalization (mean over clients): accuracy '
                 f'{p["baseline_metrics/accuracy"]:.4f} before fine-tuning, '
                 f'{p["finetuned/accuracy"]:.4f} after')
  lines.append(f'outputs: {exp_dir}')
  return '\n'.join(lines)


def _rerun_hint(exp_dir: str) -> str:
  rounds = checkpoint_integrity.checkpoint_rounds(exp_dir)
  if not rounds:
    return 'No checkpoint was written yet; rerunning starts the run afresh.'
  return (f'Rerun the same command to resume from the checkpoint of round '
          f'{rounds[-1]}.')


def _prepare():
  """Builds and checks everything; returns (task, process, privacy fn, worker
  addresses). Writes nothing, so a refused command leaves no trace."""
  aggregation = aggregation_flags.aggregation_config_from_flags()
  algorithm = algorithm_flags.algorithm_config_from_flags()
  shared = algorithm_flags.process_flags_from_flags()
  aggregation.check_weighting(shared.client_weighting)
  if aggregation.secure_aggregation == 'masked':  # refused before data loads
    aggregation.masked_settings(_CLIENTS_PER_ROUND.value)
  task = _build_task()
  parallelism = _client_parallelism(task, algorithm, shared.client_parallelism)
  process = _build_process(task, algorithm, shared, aggregation, parallelism)
  privacy_fn, privacy_record = _privacy_metrics_fn(
      aggregation, len(task.datasets.train_data.client_ids))
  worker_addresses = (
      remote.parse_addresses(_WORKER_ADDRESSES.value)
      if _WORKER_ADDRESSES.value is not None else None)
  _check_worker_security(worker_addresses)
  hparams = {**_hparams(), 'resolved_client_parallelism': parallelism,
             outputs.DATA_IDENTITY_KEY: dict(task.data_identity),
             'aggregation': aggregation_config.describe_aggregation(
                 aggregation, shared.client_weighting,
                 _CLIENTS_PER_ROUND.value)}
  if privacy_record is not None:
    hparams['privacy_accounting'] = privacy_record
  return task, process, privacy_fn, worker_addresses, hparams, parallelism


def _worker_tls():
  if _WORKER_TLS_DIR.value is None:
    return None
  return certificates.controller_paths(_WORKER_TLS_DIR.value)


def _check_worker_security(worker_addresses) -> None:
  """Refuses plaintext to other hosts and TLS flags without workers."""
  if worker_addresses is None:
    if _WORKER_TLS_DIR.value is not None:
      raise ValueError('--worker_tls_dir is for --worker_addresses; our own '
                       'local worker is reached over a private socket.')
    return
  tls = _worker_tls()  # FileNotFoundError names a missing file
  exposed = [a for a in worker_addresses
             if not remote.is_loopback_address(a)]
  if tls is None and exposed:
    raise ValueError(
        f'--worker_addresses: {", ".join(exposed)} is not on this machine; '
        'give --worker_tls_dir (mutual TLS, see docs/distributed.md).')


def _train(task, process, exp_dir, config, privacy_fn, worker_addresses):
  """Runs the rounds; returns the exit code and the final metrics (or None)."""
  try:
    if worker_addresses:
      federated = remote.remote_runtime(
          worker_addresses, tls=_worker_tls(),
          call_timeout_s=_WORKER_TIMEOUT_S.value)
    else:
      federated = runtime.federated_runtime(
          runtime.WorkerSettings(verbose=_VERBOSE.value,
                                 allow_exposed=_ALLOW_EXPOSED_WORKER.value),
          install_signal_handlers=True)
    with federated:
      return 0, loop.run_experiment(
          task, process, exp_dir, config, round_metrics_fn=privacy_fn)
  except runtime.WorkerError as e:
    print(f'error: {e}\n{_rerun_hint(exp_dir)}', file=sys.stderr)
    return 1, None
  except SystemExit as e:
    if e.code == 128 + signal.SIGTERM:
      print(f'stopped by SIGTERM. {_rerun_hint(exp_dir)}', file=sys.stderr,
            flush=True)
    raise


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  runtime.quiet_logging(_VERBOSE.value)
  try:
    exp_dir = outputs.experiment_dir(_ROOT_OUTPUT_DIR.value,
                                     _EXPERIMENT_NAME.value)
    _fill_unset_flags(exp_dir)
    config = loop.LoopConfig(
        total_rounds=_TOTAL_ROUNDS.value,
        clients_per_round=_CLIENTS_PER_ROUND.value,
        rounds_per_eval=_ROUNDS_PER_EVAL.value,
        rounds_per_checkpoint=_ROUNDS_PER_CHECKPOINT.value,
        rounds_per_worker_restart=_ROUNDS_PER_WORKER_RESTART.value,
        clients_per_eval=FLAGS.clients_per_eval,
        final_eval_clients=FLAGS.final_eval_clients,
        seed=_SEED.value,
        progress_bar=_PROGRESS_BAR.value,
        personalization_clients=_PERSONALIZATION_CLIENTS.value,
        personalization_epochs=_PERSONALIZATION_EPOCHS.value,
        personalization_learning_rate=_PERSONALIZATION_LR.value,
        personalization_batch_size=_CLIENT_BATCH_SIZE.value)
    (task, process, privacy_fn, worker_addresses, hparams,
     parallelism) = _prepare()
    loop.check_task(task, config)
  except (ValueError, FileNotFoundError,
          sql_writer.ForeignDatabaseError) as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  try:
    with experiment_lock.exclusive(exp_dir):
      try:
        loop.prepare_resume(exp_dir, config,
                            loop.keeps_client_states(process))
        outputs.write_hparams(exp_dir, hparams, defaults=_hparam_defaults(),
                              upgrade=aggregation_flags.upgrade_record)
      except (ValueError, checkpoint_integrity.NoIntactCheckpointError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
      print(f'client parallelism: {parallelism}', flush=True)
      print(f'aggregation: {hparams["aggregation"]}', flush=True)
      code, final = _train(task, process, exp_dir, config, privacy_fn,
                           worker_addresses)
  except experiment_lock.ExperimentDirError as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  if final is not None:
    print(_summary(final, exp_dir), flush=True)
  return code


if __name__ == '__main__':
  # Before the flags are parsed: a refused flag exits without TFF's
  # teardown traceback too.
  runtime.register_exit_hook()
  app.run(main)
