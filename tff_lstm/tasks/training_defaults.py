"""Each task's defaults for the training flags whose right value depends on it.

One default cannot suit every task: the papers' 10 clients of client learning
rate 1 train the language models, but the default forecasting data has five
clients in all, and its scaled readings train best at a smaller rate.
A flag of `TASK_DEFAULTS` left out of the command takes its task's value; the
flag's help says so, and the run records the value it used. A resumed run
keeps its recorded value (`training/recorded_flags.py`), so a value changed
here never changes a run already started.
"""

from collections.abc import Container
from typing import Any

from absl import flags

# Only what differs from the flags' own defaults (10 clients, lr 1).
TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    # The five stock symbols of the default data, every round; lr 0.3 is
    # what results/applications trains them with (it beats the naive
    # forecast there).
    'timeseries_forecast': {'clients_per_round': 5,
                            'client_learning_rate': 0.3},
}

FLAGS_WITH_TASK_DEFAULTS = tuple(sorted(
    {name for values in TASK_DEFAULTS.values() for name in values}))


def help_suffix(flag: str) -> str:
  """' With --task=timeseries_forecast the default is 5.' ('' if none)."""
  own = [f'--task={task} {values[flag]:g}' for task, values in
         sorted(TASK_DEFAULTS.items()) if flag in values]
  return f' Default with {"; ".join(own)}.' if own else ''


def apply(flag_values: flags.FlagValues,
          keep: Container[str] = ()) -> dict[str, Any]:
  """Sets the task's defaults on flags not given and not in `keep` (the
  flags a resumed run recorded); returns what it set."""
  applied = {}
  for name, value in TASK_DEFAULTS.get(flag_values.task, {}).items():
    if name in flag_values and not flag_values[name].present and (
        name not in keep):
      setattr(flag_values, name, value)
      applied[name] = value
  return applied
