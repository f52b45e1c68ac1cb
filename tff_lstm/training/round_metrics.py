"""Adds metrics that depend only on the round number (e.g. DP epsilon) to every
release, so CSV, TensorBoard and the progress display all carry them.
"""

import collections
from collections.abc import Callable, Sequence
from typing import Any, Optional

import tensorflow_federated as tff


class WithRoundMetrics(tff.program.ReleaseManager):
  """Releases `value` plus `round_metrics_fn(key)` to each inner manager."""

  def __init__(self, managers: Sequence[tff.program.ReleaseManager],
               round_metrics_fn: Callable[[int], dict[str, Any]]):
    self._managers = list(managers)
    self._round_metrics_fn = round_metrics_fn

  async def release(self, value: Any, key: Optional[int] = None) -> None:
    value = collections.OrderedDict(value)
    if key is not None:
      value.update(self._round_metrics_fn(key))
    for manager in self._managers:
      await manager.release(value, key=key)
