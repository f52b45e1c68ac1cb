"""A tqdm progress bar over rounds, fed as a TFF release manager.

`tff.simulation.run_training_process` hands every round's metrics to its
release managers, so the bar is one more of them: no hook into the loop.
"""

from typing import Any, Optional
import sys

import tensorflow_federated as tff
import tqdm

# Shown in the bar, by the flattened metric names of TFF's learning processes.
_SHOWN = (
    ('loss', 'client_work/train/loss'),
    ('loss', 'train/loss'),
    ('acc', 'client_work/train/accuracy'),
    ('test_acc', 'evaluation/test/accuracy'),
    ('eps', 'privacy/epsilon'),
    ('s/round', 'training_time_in_seconds'),
)


def flatten(metrics: Any, prefix: str = '') -> dict[str, Any]:
  """{'a': {'b': 1}} -> {'a/b': 1}, as TFF's CSV release manager names columns."""
  if isinstance(metrics, dict) or hasattr(metrics, 'items'):
    flat = {}
    for key, value in metrics.items():
      flat.update(flatten(value, f'{prefix}{key}/'))
    return flat
  return {prefix[:-1]: metrics}


def progress_enabled(requested: bool, stream=None) -> bool:
  """On only when asked for and the output is a terminal."""
  stream = stream or sys.stderr
  return requested and hasattr(stream, 'isatty') and stream.isatty()


class ProgressReleaseManager(tff.program.ReleaseManager):
  """Shows each released round: a tqdm bar on a terminal, else one line a round.

  The line form keeps logs and `| tail` readable where a bar would not be.
  """

  def __init__(self, total_rounds: int, start_round: int = 0,
               bar: bool = True, stream=None):
    self._total = total_rounds
    self._stream = stream or sys.stdout
    self._bar = tqdm.tqdm(total=total_rounds, initial=start_round,
                          unit='round', dynamic_ncols=True) if bar else None
    self._shown: dict[str, str] = {}

  def _update_shown(self, value: Any) -> dict[str, str]:
    flat = flatten(value)
    now = {}
    for label, name in _SHOWN:
      if name in flat:
        now[label] = f'{float(flat[name]):.4g}'
    self._shown.update(now)
    return now

  async def release(self, value: Any, key: Optional[int] = None) -> None:
    now = self._update_shown(value)
    if self._bar is not None:
      self._bar.set_postfix(self._shown, refresh=False)
      if key:  # round 0 is the initial evaluation, not a training round
        self._bar.update(key - self._bar.n)
      return
    fields = ' '.join(f'{label}={text}' for label, text in now.items())
    print(f'round {key}/{self._total}: {fields}', file=self._stream, flush=True)

  def close(self) -> None:
    if self._bar is not None:
      self._bar.close()
