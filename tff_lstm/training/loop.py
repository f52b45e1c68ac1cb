"""Runs a federated experiment: TFF's training loop plus our outputs and resume."""

import dataclasses
import time
from typing import Any, Callable, Optional

import tensorflow_federated as tff

from tff_lstm import runtime
from tff_lstm.algorithms import client_id_inputs
from tff_lstm.tasks import task as task_lib
from tff_lstm.training import checkpoint_integrity
from tff_lstm.training import client_states
from tff_lstm.training import evaluation
from tff_lstm.training import event_loop
from tff_lstm.training import layout
from tff_lstm.training import learning_check
from tff_lstm.training import masked_rounds
from tff_lstm.training import outputs
from tff_lstm.training import personalization
from tff_lstm.training import portable_checkpoints
from tff_lstm.training import progress
from tff_lstm.training import round_metrics
from tff_lstm.training import selection
from tff_lstm.training import shuffle_seeds


@dataclasses.dataclass(frozen=True)
class LoopConfig:
  """Round counts, cadences and seeds of one experiment."""

  total_rounds: int
  clients_per_round: int
  rounds_per_eval: int = 10
  rounds_per_checkpoint: int = 10
  clients_per_eval: int = 100
  final_eval_clients: int = 0  # 0: the full test split
  seed: int = 0
  progress_bar: bool = True
  personalization_clients: int = 0  # 0: no personalization evaluation
  personalization_epochs: int = 1
  personalization_learning_rate: float = 0.1
  personalization_batch_size: int = 4
  # The vectorized cohort's worker grows 1.5-3 MB a round on the Shakespeare
  # round, about as TFF's sequential path does (make bench-memory; it was about
  # 19 MB before the clients' datasets were read with `reduce`); a fresh
  # worker every this many rounds bounds what remains for a second or two of
  # restart and retracing. 0: never.
  rounds_per_worker_restart: int = 100

  def __post_init__(self):
    for name in ('total_rounds', 'clients_per_round', 'rounds_per_eval',
                 'rounds_per_checkpoint'):
      if getattr(self, name) < 1:
        raise ValueError(f'--{name} must be >= 1, got {getattr(self, name)}.')
    if self.rounds_per_worker_restart < 0:
      raise ValueError('--rounds_per_worker_restart must be >= 0, got '
                       f'{self.rounds_per_worker_restart}.')


def latest_program_state_round(exp_dir: str) -> int:
  """The round of the newest federated checkpoint in `exp_dir` (0: none)."""
  versions = event_loop.run(
      outputs.program_state_manager(exp_dir).get_versions())
  return max(versions) if versions else 0


def keeps_client_states(process) -> bool:
  """Whether `process`'s clients keep state between rounds (e.g. SCAFFOLD)."""
  return getattr(process, 'client_state_specs', None) is not None


def check_task(task: task_lib.Task, config: LoopConfig) -> None:
  """Raises ValueError, naming the flag, if `config` cannot run on `task`.

  Run before anything is written, so a refused command leaves nothing behind.
  """
  selection.build_client_id_sampler(task.datasets.train_data.client_ids,
                                    config.clients_per_round, config.seed)


def prepare_resume(exp_dir: str, config: LoopConfig,
                   with_client_states: bool) -> int:
  """The round the run resumes from (0: a new run), after checking it can.

  Damaged checkpoints newer than the newest intact one are moved aside (and
  reported), so TFF resumes from the intact one.

  Raises:
    checkpoint_integrity.NoIntactCheckpointError: no checkpoint is intact.
    ValueError: the run already went past --total_rounds.
  """
  start_round, damaged = checkpoint_integrity.newest_intact_round(
      exp_dir, with_client_states)
  if damaged:
    print(checkpoint_integrity.describe(damaged, start_round), flush=True)
  if start_round > config.total_rounds:
    raise ValueError(
        f'{exp_dir} holds the checkpoint of round {start_round}, and '
        f'--total_rounds={config.total_rounds} ends before it. Give '
        f'--total_rounds={start_round} or more (exactly {start_round} '
        'evaluates that model again), or pick a new --experiment_name.')
  return start_round


def restarting_worker(selection_fn, first_round: int, every: int):
  """`selection_fn`, restarting our local worker before every `every`-th round.

  The selection runs just before the round's computation, when the worker holds
  nothing (TFF has handed all results back), so this is the one safe hook in
  TFF's training loop.
  """
  def select(round_num):
    if every and round_num > first_round and (round_num - 1) % every == 0:
      runtime.restart_worker()
    return selection_fn(round_num)
  return select


def _personalization_eval(task, process, state, config: LoopConfig):
  ids = evaluation.sample_test_client_ids(
      task, config.personalization_clients, config.seed)
  ids = ids or sorted(task.datasets.test_data.client_ids)
  computation = personalization.build_personalization_eval(
      task, batch_size=config.personalization_batch_size,
      epochs=config.personalization_epochs,
      learning_rate=config.personalization_learning_rate,
      max_num_clients=len(ids))
  metrics = computation(process.get_model_weights(state),
                        personalization.client_inputs(task, ids))
  return personalization.summarize(metrics)


def run_experiment(
    task: task_lib.Task,
    process: tff.learning.templates.LearningProcess,
    exp_dir: str,
    config: LoopConfig,
    round_metrics_fn: Optional[Callable[[int], dict[str, Any]]] = None,
) -> dict[str, Any]:
  """Trains `process` on `task`, resuming from the last checkpoint in `exp_dir`.

  Args:
    task: data, preprocessing and model.
    process: the training LearningProcess, taking the task's preprocessed
      training datasets (or the vectorized cohort's (index, dataset) pairs);
      rounds hand it client ids and the worker builds the datasets.
    exp_dir: the experiment directory (outputs, checkpoints).
    config: rounds, cadences, seeds.
    round_metrics_fn: round -> extra metrics recorded with that round (e.g.
      the DP epsilon spent so far).

  Returns:
    What final_metrics.json records: the final model's test metrics (on the
    full split or a sample, `evaluation.final_evaluation`), the rounds and
    the learning check.
  """
  start_round = latest_program_state_round(exp_dir)
  if start_round:
    print(f'resuming {exp_dir} from the checkpoint of round {start_round}',
          flush=True)
    outputs.drop_rounds_after(exp_dir, start_round)
    if round_metrics_fn is not None:
      outputs.restate_round_metrics(exp_dir, round_metrics_fn)
  process = client_id_inputs.compose(process, task.datasets.train_data,
                                     task.datasets.train_preprocess_fn,
                                     task.seeded_train_preprocess_fn)
  checkpoints = portable_checkpoints.PortableCheckpoints(
      outputs.program_state_manager(exp_dir))
  training_process = process
  if keeps_client_states(process):
    store = client_states.ClientStateStore(task.datasets.train_data.client_ids,
                                           process.client_state_specs)
    training_process = client_states.StatefulClientsProcess(process, store)
    checkpoints = client_states.CheckpointsWithClientStates(
        checkpoints, store, layout.client_states_dir(exp_dir))
  masked_secagg = getattr(process, 'secagg', None) is not None
  if masked_secagg:
    training_process = masked_rounds.MaskedRoundsProcess(process, config.seed)
  check = learning_check.LearningCheck(config.clients_per_round,
                                       first_round=start_round + 1)
  training_process = learning_check.CheckedProcess(
      training_process, check, process.get_model_weights)
  sample_ids = selection.build_client_id_sampler(
      task.datasets.train_data.client_ids, config.clients_per_round,
      config.seed)

  def round_clients(round_num):
    ids = sample_ids(round_num)
    seeds = (shuffle_seeds.round_seeds(config.seed, round_num, ids)
             if task.seeded_train_preprocess_fn is not None else None)
    inputs = client_id_inputs.round_inputs(process, ids, seeds)
    return masked_rounds.Round(round_num, inputs) if masked_secagg else inputs

  train_selection = restarting_worker(
      round_clients, first_round=start_round + 1,
      every=config.rounds_per_worker_restart)
  eval_ids = evaluation.sample_test_client_ids(task, config.clients_per_eval,
                                               config.seed)
  periodic_eval = evaluation.build_evaluation_fn(
      task, process.get_model_weights,
      evaluation.pooled_test_dataset(task, eval_ids))
  show = progress.ProgressReleaseManager(
      config.total_rounds, start_round,
      bar=progress.progress_enabled(config.progress_bar))
  managers = outputs.metrics_release_managers(exp_dir) + [show]
  if round_metrics_fn is not None:
    managers = [round_metrics.WithRoundMetrics(managers, round_metrics_fn)]
  started = time.monotonic()
  try:
    state = tff.simulation.run_training_process(
        training_process=training_process,
        training_selection_fn=train_selection,
        total_rounds=config.total_rounds,
        evaluation_fn=lambda state, unused: periodic_eval(state),
        evaluation_selection_fn=lambda round_num: None,
        rounds_per_evaluation=config.rounds_per_eval,
        program_state_manager=checkpoints,
        rounds_per_saving_program_state=config.rounds_per_checkpoint,
        metrics_managers=managers)
  finally:
    show.close()
  steps = progress.FinalSteps(
      bar=progress.progress_enabled(config.progress_bar))
  if latest_program_state_round(exp_dir) < config.total_rounds:
    # Keep the final model even when total_rounds is off the checkpoint cadence.
    with steps.step(f'saving the checkpoint of round {config.total_rounds}'):
      event_loop.run(checkpoints.save(state, config.total_rounds))
  target = evaluation.final_evaluation(task, config.final_eval_clients,
                                       config.seed)
  final_eval = evaluation.build_evaluation_fn(
      task, process.get_model_weights, target.dataset, prefix=target.key,
      callbacks=[steps.evaluation_callback(
          f'evaluating the final model on {target.description}',
          target.dataset)])
  final = final_eval(state)
  evaluation.record_final(final, target)
  if config.personalization_clients > 0:
    with steps.step('personalization evaluation on '
                    f'{config.personalization_clients} test clients'):
      final['personalization'] = _personalization_eval(task, process, state,
                                                       config)
  final['rounds'] = config.total_rounds
  if round_metrics_fn is not None:
    final.update(round_metrics_fn(config.total_rounds))
  final['resumed_from_round'] = start_round
  final['learning_check'] = check.finish(
      evaluation.final_test_metrics(final))
  final['wall_time_s_this_invocation'] = time.monotonic() - started
  outputs.write_final_metrics(exp_dir, final)
  return final
