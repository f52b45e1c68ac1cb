"""Noticing a run that learns nothing, and saying so.

A run can finish normally and have trained nothing: every client update
zeroed by the robust aggregator, or non-finite (TFF's client work then gives
it weight 0, and its finalizer skips a non-finite mean), or the model blown up
to non-finite weights. Its metrics rows look like any run's; only a test loss
that never moves gives it away, and only to a reader who looks. So every round
is checked as it comes back: did the global model change at all (weight by
weight against the model the round started from), was every client's update
zeroed (`aggregator/zeroed_count` equal to the round's clients), did the
server skip a non-finite update (`finalizer/update_non_finite`), are the
weights still finite. The first time the model stays unchanged for
`UNCHANGED_ROUNDS` rounds running, a warning goes to stderr at once; at the
end, every finding is printed and recorded in final_metrics.json
(`learning_check`). The counts cover the rounds of this invocation.
"""

import sys
from typing import Any, Optional

import numpy as np
import tensorflow as tf
import tensorflow_federated as tff
import tqdm

# Rounds in a row without any change before a run is called stuck. One round
# can be skipped for a reason (a lone non-finite mean); three in a row is a
# pattern, and still early in any real run.
UNCHANGED_ROUNDS = 3


def _flatten(metrics: Any, prefix: str = '') -> dict[str, Any]:
  if hasattr(metrics, 'items'):
    flat = {}
    for key, value in metrics.items():
      flat.update(_flatten(value, f'{prefix}{key}/'))
    return flat
  return {prefix[:-1]: metrics}


def _weights(state, weights_fn) -> list[np.ndarray]:
  """The global model's weights as arrays; read off TFF's state when it is a
  LearningAlgorithmState (no computation), else through `weights_fn`."""
  if isinstance(state, tff.learning.templates.LearningAlgorithmState):
    weights = state.global_model_weights
  else:
    weights = weights_fn(state)
  return [np.asarray(w) for w in tf.nest.flatten(weights)]


def _span(rounds: list[int]) -> str:
  return (f'round {rounds[0]}' if len(rounds) == 1 else
          f'rounds {rounds[0]}-{rounds[-1]}')


class LearningCheck:
  """Findings about the rounds observed so far."""

  def __init__(self, clients_per_round: int, first_round: int = 1,
               unchanged_rounds: int = UNCHANGED_ROUNDS, stream=None):
    self._clients = clients_per_round
    self._round = first_round
    self._patience = unchanged_rounds
    self._stream = stream
    self._rounds = 0
    self._unchanged: list[int] = []
    self._streak: list[int] = []
    self._longest: list[int] = []
    self._all_zeroed: list[int] = []
    self._non_finite_update: list[int] = []
    self._non_finite_model: list[int] = []
    self._warned_streak = False

  def observe(self, before: list[np.ndarray], after: list[np.ndarray],
              metrics: Any) -> None:
    """One round: the weights it started from and ended with, its metrics."""
    round_num, self._round = self._round, self._round + 1
    self._rounds += 1
    flat = _flatten(metrics)
    if not all(np.array_equal(a, b) for a, b in zip(before, after)):
      self._streak = []
    else:
      self._unchanged.append(round_num)
      self._streak.append(round_num)
      if len(self._streak) > len(self._longest):
        self._longest = list(self._streak)
      if len(self._streak) == self._patience and not self._warned_streak:
        self._warned_streak = True
        self._say(f'warning: the global model has not changed in '
                  f'{_span(self._streak)}: this run is not learning '
                  '(see the learning check at the end).')
    zeroed = flat.get('aggregator/zeroed_count')
    if zeroed is not None and int(zeroed) >= self._clients:
      self._all_zeroed.append(round_num)
    if float(flat.get('finalizer/update_non_finite', 0) or 0) > 0:
      self._non_finite_update.append(round_num)
    if not all(np.all(np.isfinite(w)) for w in after
               if np.issubdtype(w.dtype, np.floating)):
      self._non_finite_model.append(round_num)

  def findings(self, final_test: Optional[dict[str, Any]] = None) -> list[str]:
    """What looks wrong, one sentence each (empty: nothing found)."""
    found = []
    stuck = min(self._patience, self._rounds)
    if self._rounds and len(self._longest) >= stuck:
      found.append(
          f'the global model did not change in {_span(self._longest)} '
          f'({len(self._unchanged)} of {self._rounds} rounds left it '
          'unchanged)')
    if self._all_zeroed:
      found.append(
          f'every client update was zeroed (aggregator/zeroed_count = '
          f'{self._clients}) in {len(self._all_zeroed)} of {self._rounds} '
          f'rounds, first in round {self._all_zeroed[0]}: the updates are '
          'far larger than the zeroing threshold (a learning rate too high, '
          'or unnormalized data?)')
    if self._non_finite_update:
      found.append(
          f'the mean update was not finite, so the server skipped it, in '
          f'{len(self._non_finite_update)} of {self._rounds} rounds, first '
          f'in round {self._non_finite_update[0]} '
          '(finalizer/update_non_finite)')
    if self._non_finite_model:
      found.append(f'the global model\'s weights are not finite since round '
                   f'{self._non_finite_model[0]}')
    loss = (final_test or {}).get('loss')
    if loss is not None and not np.isfinite(float(loss)):
      found.append(f'the final model\'s test loss is {float(loss)}')
    return found

  def report(self, final_test: Optional[dict[str, Any]] = None
             ) -> dict[str, Any]:
    """The record for final_metrics.json."""
    return {
        'rounds_checked': self._rounds,
        'rounds_model_unchanged': len(self._unchanged),
        'longest_unchanged_streak': len(self._longest),
        'rounds_every_update_zeroed': len(self._all_zeroed),
        'rounds_update_non_finite': len(self._non_finite_update),
        'model_finite': not self._non_finite_model,
        'warnings': self.findings(final_test),
    }

  def finish(self, final_test: Optional[dict[str, Any]] = None
             ) -> dict[str, Any]:
    """Prints the findings (if any) and returns the report."""
    report = self.report(final_test)
    for finding in report['warnings']:
      self._say(f'warning: {finding}.')
    if report['warnings']:
      self._say('warning: this run may have learned nothing; the findings '
                'are in final_metrics.json (learning_check).')
    return report

  def _say(self, line: str) -> None:
    # tqdm.write keeps a progress bar on the terminal intact.
    tqdm.tqdm.write(line, file=self._stream or sys.stderr)


class CheckedProcess:
  """Runs `process` and shows every round to a `LearningCheck`.

  Everything but `next` is the process's own; `weights_fn` reads the global
  model of a state that is not TFF's LearningAlgorithmState.
  """

  def __init__(self, process, check: LearningCheck, weights_fn):
    self._process = process
    self._check = check
    self._weights_fn = weights_fn
    self.initialize = process.initialize
    self.get_model_weights = getattr(process, 'get_model_weights', None)
    self.set_model_weights = getattr(process, 'set_model_weights', None)
    self._last = None  # (state, its weights) of the latest round's output

  def next(self, state, data):
    if self._last is not None and self._last[0] is state:
      before = self._last[1]
    else:
      before = _weights(state, self._weights_fn)
    output = self._process.next(state, data)
    after = _weights(output.state, self._weights_fn)
    self._check.observe(before, after, output.metrics)
    self._last = (output.state, after)
    return output
