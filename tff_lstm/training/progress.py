"""What a run shows on the terminal while it trains, and after its last round.

During the rounds: a tqdm bar fed as a TFF release manager
(`tff.simulation.run_training_process` hands every round's metrics to its
release managers, so the bar is one more of them: no hook into the loop), or
one line a round where a bar cannot show (not a terminal, or a terminal that
reports zero columns, on which tqdm draws nothing at all). The bar carries the
task's own metric (accuracy, or a forecaster's mean absolute error), and test
metrics name the round they were measured at: they are only refreshed every
--rounds_per_eval rounds.

After the rounds: the final checkpoint and the full-split evaluation take
tens of seconds; `FinalSteps` says what is running, with a batch count for the
evaluation, so a finished bar is never followed by silence.
"""

import contextlib
import os
import sys
import time
from typing import Any, Optional

import tensorflow as tf
import tensorflow_federated as tff
import tqdm

_TRAIN_PREFIXES = ('client_work/train/', 'train/')
_TEST_PREFIX = 'evaluation/test/'
# Counts, not metrics of the model.
_NOT_SHOWN = frozenset({'loss', 'num_examples', 'num_batches'})
_SHORT = {'accuracy': 'acc', 'mean_absolute_error': 'mae'}
_ROUND_METRICS = (('eps', 'privacy/epsilon'),
                  ('s/round', 'training_time_in_seconds'))
# Line mode: how often a long step says it is still running.
_LINE_EVERY_S = 15.0


def flatten(metrics: Any, prefix: str = '') -> dict[str, Any]:
  """{'a': {'b': 1}} -> {'a/b': 1}, as TFF's CSV release manager names columns."""
  if isinstance(metrics, dict) or hasattr(metrics, 'items'):
    flat = {}
    for key, value in metrics.items():
      flat.update(flatten(value, f'{prefix}{key}/'))
    return flat
  return {prefix[:-1]: metrics}


def _columns(stream) -> int:
  try:
    return os.get_terminal_size(stream.fileno()).columns
  except (AttributeError, OSError, ValueError):
    return 0


def progress_enabled(requested: bool, stream=None) -> bool:
  """A bar only when asked for, on a terminal that says how wide it is.

  A pseudo-terminal without a size (`script` with no terminal, some CI
  runners) reports zero columns, and tqdm then draws nothing; the one line a
  round prints there instead.
  """
  stream = stream or sys.stderr
  return (requested and hasattr(stream, 'isatty') and stream.isatty()
          and _columns(stream) > 0)


def headline_metric(names) -> Optional[str]:
  """The task's own metric among `names`: accuracy, else the first other."""
  names = sorted(n for n in names if n not in _NOT_SHOWN)
  if 'accuracy' in names:
    return 'accuracy'
  return names[0] if names else None


def shown_fields(flat: dict[str, Any], round_num: Optional[int]
                 ) -> dict[str, str]:
  """The bar's fields for one release; test metrics carry their round."""
  fields = {}
  for prefix in _TRAIN_PREFIXES:
    names = [k[len(prefix):] for k in flat if k.startswith(prefix)
             and '/' not in k[len(prefix):]]
    if not names:
      continue
    if 'loss' in names:
      fields['loss'] = f'{float(flat[prefix + "loss"]):.4g}'
    main = headline_metric(names)
    if main:
      fields[_SHORT.get(main, main)] = f'{float(flat[prefix + main]):.4g}'
    break
  test = [k[len(_TEST_PREFIX):] for k in flat if k.startswith(_TEST_PREFIX)]
  if test:
    main = headline_metric(test) or ('loss' if 'loss' in test else None)
    if main:
      value = f'{float(flat[_TEST_PREFIX + main]):.4g}'
      fields[f'test_{_SHORT.get(main, main)}'] = (
          value if round_num is None else f'{value} (round {round_num})')
  for label, name in _ROUND_METRICS:
    if name in flat:
      fields[label] = f'{float(flat[name]):.4g}'
  return fields


class ProgressReleaseManager(tff.program.ReleaseManager):
  """Shows each released round: a tqdm bar on a terminal, else one line a round.

  The line form keeps logs and `| tail` readable where a bar would not be.
  `stream`: where both forms write (default: the bar stderr, lines stdout).
  """

  def __init__(self, total_rounds: int, start_round: int = 0,
               bar: bool = True, stream=None):
    self._total = total_rounds
    self._stream = stream or sys.stdout
    self._bar = tqdm.tqdm(total=total_rounds, initial=start_round,
                          unit='round', dynamic_ncols=True,
                          file=stream or sys.stderr) if bar else None
    self._shown: dict[str, str] = {}

  @property
  def shown(self) -> dict[str, str]:
    """What the bar shows now (the latest value of each field)."""
    return dict(self._shown)

  async def release(self, value: Any, key: Optional[int] = None) -> None:
    # Lines show only this release's values, so they need no round marks.
    now = shown_fields(flatten(value), key if self._bar is not None else None)
    self._shown.update(now)
    if self._bar is not None:
      self._bar.set_postfix(self._shown, refresh=False)
      if key:  # round 0 is the initial evaluation, not a training round
        self._bar.update(key - self._bar.n)
      else:
        self._bar.refresh()
      return
    fields = ' '.join(f'{label}={text}' for label, text in now.items())
    print(f'round {key}/{self._total}: {fields}', file=self._stream, flush=True)

  def close(self) -> None:
    if self._bar is not None:
      self._bar.close()


class _EvaluationProgress(tf.keras.callbacks.Callback):
  """Batches evaluated so far: a bar, or a line every _LINE_EVERY_S seconds."""

  def __init__(self, steps: 'FinalSteps', what: str,
               total_batches: Optional[int]):
    super().__init__()
    self._steps, self._what, self._total = steps, what, total_batches
    self._bar = None
    self._started = self._last_line = 0.0
    self._batches = 0

  def on_test_begin(self, logs=None):
    self._started = self._last_line = time.monotonic()
    self._batches = 0
    if self._steps.bar:
      self._bar = tqdm.tqdm(total=self._total, desc=self._what, unit='batch',
                            dynamic_ncols=True, file=self._steps.bar_stream)
    else:
      self._steps.say(f'{self._what} ...')

  def on_test_batch_end(self, batch, logs=None):
    self._batches = batch + 1
    if self._bar is not None:
      self._bar.update(self._batches - self._bar.n)
      return
    now = time.monotonic()
    if now - self._last_line >= _LINE_EVERY_S:
      self._last_line = now
      self._steps.say(f'{self._what}: {self._batches} batches, '
                      f'{now - self._started:.0f} s')

  def on_test_end(self, logs=None):
    if self._bar is not None:
      self._bar.close()
      self._bar = None
    self._steps.say(f'{self._what}: done, {self._batches} batches in '
                    f'{time.monotonic() - self._started:.1f} s')


class FinalSteps:
  """Says what a run does after its last round, and how far it has got.

  `bar`: a batch bar for evaluations (a terminal; the batches are counted
  first, a few percent of the evaluation's time, so the bar has an end);
  else lines, which need no count.
  """

  def __init__(self, bar: bool, stream=None):
    self.bar = bar
    self._stream = stream or sys.stdout
    self.bar_stream = stream or sys.stderr

  def say(self, text: str) -> None:
    print(text, file=self._stream, flush=True)

  @contextlib.contextmanager
  def step(self, what: str):
    """'what ...' now, 'what: done in N s' after."""
    self.say(f'{what} ...')
    started = time.monotonic()
    yield
    self.say(f'{what}: done in {time.monotonic() - started:.1f} s')

  def evaluation_callback(self, what: str,
                          dataset: Optional[tf.data.Dataset] = None
                          ) -> tf.keras.callbacks.Callback:
    """A Keras callback showing `what` batch by batch.

    With a bar and a `dataset`, its batches are counted so the bar has a
    total (tf.data rarely knows it: flat_map hides it).
    """
    total = None
    if self.bar and dataset is not None:
      total = int(dataset.cardinality())
      if total < 0:
        total = int(dataset.reduce(0, lambda count, _: count + 1))
    return _EvaluationProgress(self, what, total)
