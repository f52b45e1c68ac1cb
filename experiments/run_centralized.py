"""Centralized baseline: the task's model trained with Keras on pooled data.

  .venv/bin/python experiments/run_centralized.py --task=shakespeare_char \
      --optimizer=adam --learning_rate=0.001 --batch_size=4 \
      --max_examples_seen=200000 --steps_per_eval=500 --experiment_name=central

Give exactly one budget: --num_epochs, --num_steps, --max_examples_seen, or
--match_examples_of=<federated experiment dir> (as many examples as that run
has seen; see tff_lstm/training/centralized.py for the conversion). A "round"
in the outputs is --steps_per_eval steps; the layout is that of
run_federated.py (see tff_lstm/training/layout.py). Rerunning the same command
after an interruption resumes from the last round's checkpoint.
"""

import sys

from tff_lstm import runtime  # first: quiets TensorFlow before it is imported

# pylint: disable=g-bad-import-order
from absl import app
from absl import flags

from tff_lstm.data import sql_writer
from tff_lstm.tasks import task_flags
from tff_lstm.training import centralized
from tff_lstm.training import evaluation
from tff_lstm.training import evaluation_flags
from tff_lstm.training import experiment_lock
from tff_lstm.training import outputs
from tff_lstm.training import recorded_flags

# Task and model: the flags of run_federated.py, meaning the same.
task_flags.define_task_flags()
flags.adopt_module_key_flags(task_flags)

# Optimization.
_OPTIMIZER = flags.DEFINE_enum('optimizer', 'sgd', centralized.OPTIMIZERS,
                               'Keras optimizer.')
_LEARNING_RATE = flags.DEFINE_float(
    'learning_rate', None,
    'Learning rate (unset: 1.0 for sgd, 0.001 for adam).')
_MOMENTUM = flags.DEFINE_float('momentum', 0.0, 'SGD momentum.')
_BATCH_SIZE = flags.DEFINE_integer('batch_size', 4, 'Minibatch size (the '
                                   'default matches --client_batch_size).')

# Budget: exactly one.
_NUM_EPOCHS = flags.DEFINE_integer('num_epochs', None,
                                   'Passes over the pooled training windows.')
_NUM_STEPS = flags.DEFINE_integer('num_steps', None, 'Training steps.')
_MAX_EXAMPLES_SEEN = flags.DEFINE_integer(
    'max_examples_seen', None, 'Training windows to see; the last step may '
    'be a partial batch.')
_MATCH_EXAMPLES_OF = flags.DEFINE_string(
    'match_examples_of', None, 'A federated experiment dir: see as many '
    'examples as its metrics.csv records (sum of client_work/train/'
    'num_examples).')

# Evaluation and seeds.
_STEPS_PER_EVAL = flags.DEFINE_integer(
    'steps_per_eval', 100, 'Steps per round: test evaluation, metrics row and '
    'checkpoint after each.')
evaluation_flags.define_evaluation_flags()
flags.adopt_module_key_flags(evaluation_flags)
_DATA_SEED = flags.DEFINE_integer(
    'data_seed', 0, 'Seed of the example order and of the periodic-eval '
    'clients (the value of a federated run\'s --client_datasets_random_seed '
    'picks the same test clients).', **task_flags.SEED_BOUNDS)

# Outputs and runtime.
_ROOT_OUTPUT_DIR = flags.DEFINE_string('root_output_dir', 'runs',
                                       'Root of experiment directories.')
_EXPERIMENT_NAME = flags.DEFINE_string('experiment_name', None,
                                       'Directory name of this experiment.')
_PROGRESS_BAR = flags.DEFINE_bool(
    'progress_bar', True, 'tqdm bar on a terminal (else one line per round).')
_VERBOSE = flags.DEFINE_bool('verbose', False, 'Show TF INFO logs.')

flags.mark_flag_as_required('experiment_name')
FLAGS = flags.FLAGS


def _config() -> centralized.CentralizedConfig:
  max_examples = _MAX_EXAMPLES_SEEN.value
  if _MATCH_EXAMPLES_OF.value is not None:
    if max_examples is not None:
      raise ValueError('Give --max_examples_seen or --match_examples_of, '
                       'not both.')
    max_examples = centralized.federated_examples_seen(_MATCH_EXAMPLES_OF.value)
  return centralized.CentralizedConfig(
      optimizer=_OPTIMIZER.value, learning_rate=_LEARNING_RATE.value,
      momentum=_MOMENTUM.value, batch_size=_BATCH_SIZE.value,
      num_epochs=_NUM_EPOCHS.value, num_steps=_NUM_STEPS.value,
      max_examples_seen=max_examples, steps_per_eval=_STEPS_PER_EVAL.value,
      clients_per_eval=FLAGS.clients_per_eval,
      final_eval_clients=FLAGS.final_eval_clients, seed=_DATA_SEED.value,
      progress_bar=_PROGRESS_BAR.value)


def _hparams(config: centralized.CentralizedConfig, task) -> dict:
  """Every flag this binary defines, with the budget and rate actually used."""
  hparams = {f.name: f.value
             for f in FLAGS.get_key_flags_for_module(sys.argv[0])}
  hparams['learning_rate'] = config.resolved_learning_rate
  hparams['max_examples_seen'] = config.max_examples_seen
  hparams[outputs.DATA_IDENTITY_KEY] = dict(task.data_identity)
  return hparams


def _summary(final: dict, exp_dir: str) -> str:
  return (f'final model after {final["steps"]} steps ({final["examples_seen"]} '
          f'examples, {final["rounds"]} rounds), '
          f'{evaluation.describe_final(final)}\noutputs: {exp_dir}')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  runtime.quiet_logging(_VERBOSE.value)
  try:
    exp_dir = outputs.experiment_dir(_ROOT_OUTPUT_DIR.value,
                                     _EXPERIMENT_NAME.value)
    # A resumed run's recorded flags for those the command leaves out.
    adopted = recorded_flags.adopt(
        FLAGS, [f.name for f in FLAGS.get_key_flags_for_module(sys.argv[0])],
        outputs.read_hparams(exp_dir), exp_dir)
    if adopted:
      print(recorded_flags.describe(adopted), flush=True)
    config = _config()
    task = task_flags.create_task_from_flags(centralized.WINDOW_SPEC)
    windows = centralized.pool_train_windows(task)
    budget = centralized.resolve_budget(config, windows.num_examples)
  except (ValueError, FileNotFoundError,
          sql_writer.ForeignDatabaseError) as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  try:
    with experiment_lock.exclusive(exp_dir):
      try:
        # Checked before anything is written, so a refused budget changes
        # nothing.
        start = centralized.resumable_start_round(exp_dir, budget)
        outputs.write_hparams(exp_dir, _hparams(config, task))
      except ValueError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
      print(f'pooled {windows.num_examples} training windows of '
            f'{windows.num_clients} clients; {budget.num_steps} steps of '
            f'{config.batch_size} in {budget.num_rounds} rounds', flush=True)
      if start:
        print(f'resuming {exp_dir} from the checkpoint of round {start}',
              flush=True)
      if centralized.latest_model_checkpoint_round(exp_dir) > start:
        print(f'round {start + 1} ended early under a smaller budget; '
              'training it again in full', flush=True)
      final = centralized.run_centralized(task, windows, exp_dir, config)
  except experiment_lock.ExperimentDirError as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  print(_summary(final, exp_dir), flush=True)
  return 0


if __name__ == '__main__':
  # Before the flags are parsed: a refused flag exits without TFF's
  # teardown traceback too.
  runtime.register_exit_hook()
  app.run(main)
