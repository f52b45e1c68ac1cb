"""The centralized baseline: the task's model trained with Keras on pooled data.

What a federated run is compared against: the same model, the same windows and
the same evaluation, but every training client's data pooled on one machine
and shuffled, trained by plain minibatch SGD/Adam.

Examples. One example is one preprocessed window (for the language models a
`sequence_length` input and its shifted target), the unit TFF counts in
`client_work/train/num_examples`.
A federated run sees, over its rounds,

  sum of client_work/train/num_examples
    ~ total_rounds x clients_per_round x (mean windows per client
      x client_epochs_per_round, or fewer with --max_elements_per_client)

examples (`federated_examples_seen` reads the exact sum from its metrics.csv).
Training here on `max_examples_seen=` that number takes
ceil(examples / batch_size) steps; a step budget `num_steps` is
num_steps x batch_size examples, and `num_epochs` is that many passes over the
pooled windows.

Windows. Every task preprocesses example by example (Shakespeare pads each
snippet to whole windows, the word tasks cut or pad each sentence, time-series
windows are cut within each client before preprocessing), so preprocessing the
pooled examples yields exactly the windows the clients train on. The task must
be built with `WINDOW_SPEC` as its train spec (one epoch, no shuffling, no
cap): batching and shuffling happen here, over the whole pool.

Evaluation. The trained model is evaluated as `evaluation.py` evaluates the
federated global model: periodically on the seeded sample of test clients
(`seed` equal to a federated run's --client_datasets_random_seed gives the
same clients), finally on all of them.

Rounds. A centralized "round" is an evaluation period of `steps_per_eval`
steps, so metrics.csv, TensorBoard and final_metrics.json have the layout and
column names of federated runs (see layout.py), plus `steps` and
`examples_seen` columns. Round 0 evaluates the initial model.
"""

import asyncio
import collections
import dataclasses
import math
import os
import time
from typing import Any, Optional

import numpy as np
import tensorflow as tf
import tensorflow_federated as tff

from tff_lstm.tasks import task as task_lib
from tff_lstm.training import evaluation
from tff_lstm.training import event_loop
from tff_lstm.training import layout
from tff_lstm.training import metrics_files
from tff_lstm.training import outputs
from tff_lstm.training import progress

OPTIMIZERS = ('sgd', 'adam')
DEFAULT_LEARNING_RATES = {'sgd': 1.0, 'adam': 0.001}
# The train spec to build the task with: every window once, in order (in large
# batches, only because TFF's per-batch preprocessing is slow on small ones).
WINDOW_SPEC = tff.simulation.baselines.ClientSpec(
    num_epochs=1, batch_size=1024, shuffle_buffer_size=1)
# Where a Keras optimizer's step count sits in a tf.train.Checkpoint of it.
_OPTIMIZER_STEPS_KEY = 'optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE'


@dataclasses.dataclass(frozen=True)
class CentralizedConfig:
  """Optimizer, batch size, budget and cadences of one centralized run.

  Exactly one of `num_epochs`, `num_steps` and `max_examples_seen` is the
  training budget. `learning_rate` None takes DEFAULT_LEARNING_RATES.
  """

  optimizer: str = 'sgd'
  learning_rate: Optional[float] = None
  momentum: float = 0.0
  batch_size: int = 4
  num_epochs: Optional[int] = None
  num_steps: Optional[int] = None
  max_examples_seen: Optional[int] = None
  steps_per_eval: int = 100
  clients_per_eval: int = 100
  final_eval_clients: int = 0  # 0: the full test split
  seed: int = 0
  progress_bar: bool = True

  def __post_init__(self):
    if self.optimizer not in OPTIMIZERS:
      raise ValueError(f'Unknown optimizer {self.optimizer!r}; valid: '
                       f'{", ".join(OPTIMIZERS)}.')
    if self.learning_rate is not None and self.learning_rate <= 0:
      raise ValueError(
          f'--learning_rate must be > 0, got {self.learning_rate}.')
    if not 0 <= self.momentum < 1:
      raise ValueError(f'--momentum must be in [0, 1), got {self.momentum}.')
    for name in ('batch_size', 'steps_per_eval'):
      if getattr(self, name) < 1:
        raise ValueError(f'--{name} must be >= 1, got {getattr(self, name)}.')
    budgets = {name: getattr(self, name)
               for name in ('num_epochs', 'num_steps', 'max_examples_seen')
               if getattr(self, name) is not None}
    if len(budgets) != 1:
      raise ValueError('Give exactly one training budget: --num_epochs, '
                       '--num_steps or --max_examples_seen (got '
                       f'{", ".join(sorted(budgets)) or "none"}).')
    (name, value), = budgets.items()
    if value < 1:
      raise ValueError(f'--{name} must be >= 1, got {value}.')

  @property
  def resolved_learning_rate(self) -> float:
    if self.learning_rate is None:
      return DEFAULT_LEARNING_RATES[self.optimizer]
    return self.learning_rate


@dataclasses.dataclass(frozen=True)
class Budget:
  """Examples, steps and rounds; the last step or round may be short."""

  total_examples: int
  batch_size: int
  steps_per_round: int

  @property
  def num_steps(self) -> int:
    return math.ceil(self.total_examples / self.batch_size)

  @property
  def num_rounds(self) -> int:
    return math.ceil(self.num_steps / self.steps_per_round)

  def steps_after(self, round_num: int) -> int:
    return min(round_num * self.steps_per_round, self.num_steps)

  def examples_after(self, round_num: int) -> int:
    return min(self.steps_after(round_num) * self.batch_size,
               self.total_examples)


def resolve_budget(config: CentralizedConfig,
                   examples_per_epoch: int) -> Budget:
  """Turns the config's one budget into a number of examples."""
  if config.num_steps is not None:
    total = config.num_steps * config.batch_size
  elif config.max_examples_seen is not None:
    total = config.max_examples_seen
  else:
    total = config.num_epochs * examples_per_epoch
  return Budget(total, config.batch_size, config.steps_per_eval)


def federated_examples_seen(exp_dir: str) -> int:
  """Training examples a federated run has seen so far, from its metrics.csv."""
  path = os.path.join(exp_dir, layout.METRICS_CSV)
  if not os.path.isfile(path):
    raise FileNotFoundError(f'No {layout.METRICS_CSV} in {exp_dir}.')
  rows = outputs.read_metrics_csv(exp_dir)
  column = metrics_files.FEDERATED_EXAMPLES
  if not rows or column not in rows[0]:
    raise ValueError(f'{path} has no {column} column: not a federated run.')
  total = sum(int(float(row[column])) for row in rows if row.get(column))
  if total < 1:
    raise ValueError(f'{path} records no training examples yet.')
  return total


@dataclasses.dataclass(frozen=True)
class PooledWindows:
  """Every training window of the task in memory: a nest of arrays [N, ...]."""

  arrays: Any
  num_clients: int

  @property
  def num_examples(self) -> int:
    return len(tf.nest.flatten(self.arrays)[0])


def pool_train_windows(task: task_lib.Task) -> PooledWindows:
  """All train clients' windows; the task must use WINDOW_SPEC (see above)."""
  train_data = task.datasets.train_data
  # Sorted, not TFF's randomly ordered pool: the seeded example order indexes
  # into this array, so it must be the same in every run (and on resume).
  snippets = tf.data.Dataset.from_tensor_slices(
      sorted(train_data.client_ids)).flat_map(
          train_data.serializable_dataset_fn)
  dataset = task.datasets.train_preprocess_fn(snippets)
  chunks = list(dataset.as_numpy_iterator())
  if not chunks:
    raise ValueError('The task has no training examples.')
  arrays = tf.nest.map_structure(lambda *parts: np.concatenate(parts), *chunks)
  return PooledWindows(arrays, len(train_data.client_ids))


def example_order(num_examples: int, seed: int, start: int,
                  stop: int) -> np.ndarray:
  """Indices of stream positions [start, stop) of an endless shuffled stream.

  Epoch e is a permutation seeded by (seed, e), so any span of the stream,
  e.g. the rest of an interrupted run, is reproduced without replaying it.
  """
  positions = np.arange(start, stop, dtype=np.int64)
  epochs = positions // num_examples
  order = np.empty_like(positions)
  for epoch in np.unique(epochs):
    in_epoch = epochs == epoch
    permutation = np.random.default_rng([seed, int(epoch)]).permutation(
        num_examples)
    order[in_epoch] = permutation[positions[in_epoch] % num_examples]
  return order


def train_dataset(windows: PooledWindows, batch_size: int, seed: int,
                  start: int, stop: int) -> tf.data.Dataset:
  """Batches of the stream's examples [start, stop) (the last may be short)."""
  order = example_order(windows.num_examples, seed, start, stop)

  def batches():
    for i in range(0, len(order), batch_size):
      index = order[i:i + batch_size]
      yield tf.nest.map_structure(lambda a: a[index], windows.arrays)

  signature = tf.nest.map_structure(
      lambda a: tf.TensorSpec((None,) + a.shape[1:], tf.as_dtype(a.dtype)),
      windows.arrays)
  # A known length: on an unknown one, Keras `fit` counts one extra optimizer
  # iteration (Adam's bias correction uses it) when the data runs out.
  num_batches = math.ceil(len(order) / batch_size)
  return tf.data.Dataset.from_generator(
      batches, output_signature=signature).apply(
          tf.data.experimental.assert_cardinality(num_batches)).prefetch(2)


def build_keras_optimizer(config: CentralizedConfig):
  lr = config.resolved_learning_rate
  if config.optimizer == 'adam':
    return tf.keras.optimizers.Adam(learning_rate=lr)
  return tf.keras.optimizers.SGD(learning_rate=lr, momentum=config.momentum)


def compiled_model(task: task_lib.Task,
                   config: CentralizedConfig) -> tf.keras.Model:
  """`task.compiled_keras_model()`, with the configured optimizer."""
  model = task.keras_model_fn()
  model.compile(loss=task.loss_fn(), optimizer=build_keras_optimizer(config),
                metrics=[fn() for fn in task.metrics_fns])
  return model


def checkpoint_manager(model: tf.keras.Model,
                       exp_dir: str) -> tf.train.CheckpointManager:
  """Model and optimizer state, one checkpoint per round, numbered by round."""
  checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
  return tf.train.CheckpointManager(
      checkpoint, layout.checkpoint_dir(exp_dir), max_to_keep=3,
      checkpoint_name=layout.MODEL_CHECKPOINT_NAME)


def _checkpoint_round(path: Optional[str]) -> int:
  return int(path.rsplit('-', 1)[1]) if path else 0


def latest_model_checkpoint_round(exp_dir: str) -> int:
  """The round of the newest centralized (tf.train) checkpoint (0: none).

  Not the federated loop's `latest_program_state_round`: a centralized run
  keeps Keras model and optimizer state, in its own format.
  """
  path = tf.train.latest_checkpoint(layout.checkpoint_dir(exp_dir))
  return _checkpoint_round(path)


def _checkpoint_path(exp_dir: str, round_num: int) -> str:
  return os.path.join(layout.checkpoint_dir(exp_dir),
                      f'{layout.MODEL_CHECKPOINT_NAME}-{round_num}')


def _checkpoint_steps(exp_dir: str, round_num: int) -> int:
  """Optimizer steps the checkpoint of `round_num` holds.

  Read from the checkpoint itself, not metrics.csv: a run that dies between
  releasing a round's metrics and saving its checkpoint leaves a row for a
  checkpoint that was never written.
  """
  reader = tf.train.load_checkpoint(_checkpoint_path(exp_dir, round_num))
  if not reader.has_tensor(_OPTIMIZER_STEPS_KEY):
    raise ValueError(
        f'The checkpoint of round {round_num} in {exp_dir} records no '
        'optimizer step count, so how far it trained is unknown. Use a new '
        '--experiment_name.')
  return int(reader.get_tensor(_OPTIMIZER_STEPS_KEY))


def resumable_start_round(exp_dir: str, budget: Budget) -> int:
  """The round whose checkpoint `exp_dir`'s run resumes from (0: from scratch).

  The checkpoint resumed from must hold exactly the steps the budget gives its
  round. The last checkpoint may hold fewer: an earlier, smaller budget cut
  that round short, so the run steps back one round and trains it in full.
  Any other difference is refused: a budget that ends before the checkpoint
  would report a model trained longer than it says, and rounds of another
  size would skip or repeat examples.
  """
  start = latest_model_checkpoint_round(exp_dir)
  if not start:
    return 0
  trained = _checkpoint_steps(exp_dir, start)
  if trained > budget.num_steps:
    raise ValueError(
        f'{exp_dir} has trained {trained} steps '
        f'(round {start}); a budget of {budget.num_steps} steps ends '
        'before that. Give at least that budget, or a new --experiment_name.')
  if trained < budget.steps_after(start):
    previous = start - 1
    if previous and not tf.io.gfile.exists(
        _checkpoint_path(exp_dir, previous) + '.index'):
      raise ValueError(
          f'{exp_dir}: round {start} stopped after {trained} steps, where an '
          f'earlier budget ended, and the checkpoint of round {previous} that '
          'would retrain it in full is gone. Use a new --experiment_name.')
    start, trained = previous, (
        _checkpoint_steps(exp_dir, previous) if previous else 0)
  if trained != budget.steps_after(start):
    raise ValueError(
        f'The checkpoint of round {start} in {exp_dir} holds {trained} steps, '
        f'but rounds of {budget.steps_per_round} steps put '
        f'{budget.steps_after(start)} there: the run used another round size. '
        'Give its --steps_per_eval, or use a new --experiment_name.')
  return start


def _restore(model: tf.keras.Model, checkpoint: tf.train.Checkpoint,
             exp_dir: str, round_num: int) -> None:
  """Loads the checkpoint of `round_num` (0: none, the model stays new)."""
  if not round_num:
    return
  # Slots must exist before restoring into them; they appear at the first step.
  model.optimizer.build(model.trainable_variables)
  checkpoint.restore(
      _checkpoint_path(exp_dir, round_num)).assert_existing_objects_matched()


def _release(managers, value: dict[str, Any], round_num: int) -> None:
  """Lets every manager finish before raising any one's error.

  Otherwise a failed manager leaves the CSV write pending on the event loop,
  to land later, amid the rows of whatever runs next on that loop.
  """
  async def release_all():
    return await asyncio.gather(
        *[m.release(value, key=round_num) for m in managers],
        return_exceptions=True)
  for result in event_loop.run(release_all()):
    if isinstance(result, BaseException):
      raise result


def _evaluate(model: tf.keras.Model, dataset: tf.data.Dataset,
              prefix: str) -> dict[str, Any]:
  """{prefix: {metric: value}}, as evaluation.build_evaluation_fn returns.

  The trained model itself is compiled with the task's loss and metrics, so it
  evaluates as `task.compiled_keras_model()` would, without tracing a copy.
  """
  values = model.evaluate(dataset, verbose=0, return_dict=True)
  return collections.OrderedDict([(prefix, collections.OrderedDict(
      (name, float(value)) for name, value in sorted(values.items())))])


def _timed_evaluation(model: tf.keras.Model,
                      dataset: tf.data.Dataset) -> dict[str, Any]:
  """{'test': {...}, 'evaluation_time_in_seconds': t}, as TFF's loop records."""
  started = time.monotonic()
  metrics = _evaluate(model, dataset, 'test')
  metrics['evaluation_time_in_seconds'] = time.monotonic() - started
  return metrics


def run_centralized(task: task_lib.Task, windows: PooledWindows, exp_dir: str,
                    config: CentralizedConfig,
                    extra_release_managers=()) -> dict[str, Any]:
  """Trains the task's Keras model on `windows`, resuming from `exp_dir`.

  Returns what final_metrics.json records: the final model's test metrics
  (on the full split or a sample, `evaluation.final_evaluation`) and the
  budget spent.
  """
  budget = resolve_budget(config, windows.num_examples)
  start_round = resumable_start_round(exp_dir, budget)
  model = compiled_model(task, config)
  manager = checkpoint_manager(model, exp_dir)
  _restore(model, manager.checkpoint, exp_dir, start_round)
  # Test clients always listed, in sorted order: TFF's all-clients pool comes
  # in a random order, and the loss (a mean of per-batch masked means)
  # depends on how windows fall into batches.
  all_test_ids = sorted(task.datasets.test_data.client_ids)
  eval_ids = evaluation.sample_test_client_ids(
      task, config.clients_per_eval, config.seed) or all_test_ids
  periodic_test = evaluation.pooled_test_dataset(task, eval_ids)
  show = progress.ProgressReleaseManager(
      budget.num_rounds, start_round,
      bar=progress.progress_enabled(config.progress_bar))
  managers = outputs.metrics_release_managers(exp_dir) + [show] + list(
      extra_release_managers)
  started = time.monotonic()
  try:
    if start_round == 0:
      _release(managers, {
          'evaluation': _timed_evaluation(model, periodic_test),
          'steps': 0, 'examples_seen': 0}, 0)
    for round_num in range(start_round + 1, budget.num_rounds + 1):
      first = budget.examples_after(round_num - 1)
      last = budget.examples_after(round_num)
      round_started = time.monotonic()
      history = model.fit(
          train_dataset(windows, config.batch_size, config.seed, first, last),
          epochs=1, verbose=0)
      train = collections.OrderedDict(
          (name, float(values[-1]))
          for name, values in sorted(history.history.items()))
      train['num_examples'] = last - first
      train['num_batches'] = (budget.steps_after(round_num) -
                              budget.steps_after(round_num - 1))
      metrics = collections.OrderedDict(
          train=train,
          training_time_in_seconds=time.monotonic() - round_started,
          steps=budget.steps_after(round_num),
          examples_seen=last)
      metrics['evaluation'] = _timed_evaluation(model, periodic_test)
      _release(managers, metrics, round_num)
      manager.save(checkpoint_number=round_num)
  finally:
    show.close()
  target = evaluation.final_evaluation(task, config.final_eval_clients,
                                       config.seed)
  final = _evaluate(model, target.dataset, target.key)
  evaluation.record_final(final, target)
  final['rounds'] = budget.num_rounds
  final['steps'] = budget.num_steps
  final['examples_seen'] = budget.total_examples
  final['resumed_from_round'] = start_round
  final['wall_time_s_this_invocation'] = time.monotonic() - started
  outputs.write_final_metrics(exp_dir, final)
  return final
