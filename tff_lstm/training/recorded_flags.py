"""On resume, a flag the command leaves out takes the value its run recorded.

A run resumes only with the settings that decide what it trains. Compared
with today's defaults, a flag left out of the command would refuse, or
silently change, a run whose flag default has changed since it started
(--robust_aggregation was on by default until the plain mean became the
default). So for those flags, what the command does not say, the record
does: the command a run was started with resumes it, whatever the defaults
of this version. A flag the command gives is compared with the record as
before, and a difference is refused by name (`outputs.write_hparams`). Flags
that may change on resume (`outputs.RESUMABLE_CHANGES`) and the data's
location keep the command's value or default.
"""

from collections.abc import Iterable
from typing import Any, Optional

from absl import flags

from tff_lstm.training import outputs

# Never taken from a record: they may differ between invocations of one run.
_COMMAND_ONLY = outputs.RESUMABLE_CHANGES | outputs.DATA_LOCATION_FLAGS


def adopt(flag_values: flags.FlagValues, names: Iterable[str],
          record: Optional[dict[str, Any]], exp_dir: str) -> dict[str, Any]:
  """Sets each flag of `names` not given on the command line to `record`'s.

  Args:
    flag_values: the parsed flags.
    names: the flags the binary records (its key flags).
    record: the run's recorded flags (`outputs.read_hparams`, restated in
      today's terms), or None for a new run.
    exp_dir: the experiment directory, for messages.

  Returns:
    {flag: value} of the flags whose value this changed.

  Raises:
    ValueError: the record holds a value this version's flag refuses.
  """
  adopted = {}
  for name in sorted(set(names) & set(record or {})):
    flag = flag_values[name]
    value = record[name]
    if name in _COMMAND_ONLY or flag.present or value == flag.value:
      continue
    try:
      parsed = None if value is None else flag.parser.parse(value)
      setattr(flag_values, name, parsed)
    except (ValueError, TypeError, flags.Error) as e:
      raise ValueError(
          f'{exp_dir} records --{name}={value!r}, which this version refuses '
          f'({e}); give --{name} explicitly, or pick a new --experiment_name.'
      ) from e
    adopted[name] = parsed
  return adopted


def describe(adopted: dict[str, Any]) -> str:
  """One line naming what the record supplied ('' when nothing)."""
  if not adopted:
    return ''
  given = ' '.join(f'--{k}={v}' for k, v in sorted(adopted.items()))
  return f'resuming with the run\'s recorded {given} (not on the command line)'
