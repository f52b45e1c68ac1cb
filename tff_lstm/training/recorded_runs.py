"""Copying finished runs into results/ without ever losing a recorded one.

A results page keeps, for each run NAME, NAME.metrics.csv,
NAME.final_metrics.json and NAME.hparams.json: the tables and plots are drawn
from them and readers check the README's numbers against them, often hours of
training each. A results script records a run by copying its experiment dir's
files there, which must never replace a recorded run by a lesser one: a run
stopped after a round, a shorter budget, or other settings. So a copy is made
only when the experiment dir holds a finished run (its final evaluation is of
its last round) and, where NAME is recorded already, the same configuration
(hparams.json, apart from how long it trained and where it ran) over at least
the recorded rounds and examples. Anything else is refused, naming both, and
nothing is written: every run of a call is checked before any is copied.
"""

import dataclasses
import filecmp
import math
import os
import shutil
from collections.abc import Sequence
from typing import Any

from tff_lstm.training import layout
from tff_lstm.training import metrics_files
from tff_lstm.training import outputs

# What may differ between a recorded run and its replacement: what the resume
# rule lets change (how long, where, how it reports), but not how the
# recorded curves were measured: the same rounds evaluated on the same
# number of test clients, or the curves would not be the recorded ones.
MEASUREMENT_FLAGS = frozenset({
    'rounds_per_eval', 'clients_per_eval', 'personalization_clients',
    'personalization_epochs', 'personalization_learning_rate'})
FREE_FLAGS = outputs.RESUMABLE_CHANGES - MEASUREMENT_FLAGS


class RecordRefusedError(ValueError):
  """Recording would lose a recorded run, or record an unfinished one."""


@dataclasses.dataclass(frozen=True)
class Extent:
  """How far a run got: its last round and the examples it had seen."""

  rounds: int
  examples_seen: float  # NaN: not recorded


def _extent(rows, files) -> Extent:
  try:
    seen = metrics_files.examples_seen(rows, files)[-1] if rows else math.nan
  except metrics_files.MetricsFileError:
    seen = math.nan
  return Extent(metrics_files.last_round(rows), seen)


def _describe(extent: Extent) -> str:
  rounds = f'{extent.rounds:,} round{"s" if extent.rounds != 1 else ""}'
  if math.isnan(extent.examples_seen):
    return rounds
  return f'{rounds}, {extent.examples_seen:,.0f} examples'


def finished_extent(files: metrics_files.RunFiles) -> Extent:
  """How far the run at `files` got; refuses a run that did not finish.

  Finished: metrics.csv, hparams.json, and a final evaluation of the last
  round in metrics.csv. A run stopped mid-way, or trained on after its last
  final evaluation, is partial.
  """
  rows = metrics_files.read_rows(files)
  if not rows:
    raise RecordRefusedError(f'{files.where} is a partial run: its '
                             'metrics.csv has no rounds.')
  extent = _extent(rows, files)
  final = metrics_files.read_json(files.final_metrics_json)
  if final is None:
    raise RecordRefusedError(
        f'{files.where} is a partial run: metrics.csv reaches round '
        f'{extent.rounds} but there is no {layout.FINAL_METRICS_JSON} '
        '(it stopped before its final evaluation). Finish it by rerunning '
        'its command, then record it.')
  if final.get('rounds') != extent.rounds:
    raise RecordRefusedError(
        f'{files.where} is a partial run: its final evaluation is of round '
        f'{final.get("rounds")} but metrics.csv reaches round '
        f'{extent.rounds} (it trained on and stopped before evaluating '
        'again). Finish it by rerunning its command, then record it.')
  if not os.path.isfile(files.hparams_json):
    raise RecordRefusedError(
        f'{files.where} has no {layout.HPARAMS_JSON}, so its '
        'configuration is unknown.')
  return extent


def _config_differences(recorded: dict[str, Any],
                        candidate: dict[str, Any]) -> list[str]:
  """Flags that differ, as the resume rule compares them, but stricter.

  A flag recorded on one side only counts as a difference: without the
  flag's default at hand, the two runs cannot be shown to be the same.
  """
  free = set(FREE_FLAGS) | {outputs.DATA_IDENTITY_KEY}
  old = recorded.get(outputs.DATA_IDENTITY_KEY)
  new = candidate.get(outputs.DATA_IDENTITY_KEY)
  differences = []
  if old is not None and new is not None:
    if old != new:
      differences.append('the data (content hashes differ)')
    else:
      free |= outputs.DATA_LOCATION_FLAGS
  absent = object()
  for key in sorted(set(recorded) | set(candidate)):
    if key in free:
      continue
    before, now = recorded.get(key, absent), candidate.get(key, absent)
    if before != now:
      show = lambda v: 'not recorded' if v is absent else repr(v)
      differences.append(f'--{key}: {show(before)} recorded, {show(now)} here')
  return differences


def check(exp_dir: str, results_dir: str, name: str) -> str:
  """What recording `exp_dir` as `name` would do ('record' or 'unchanged').

  Raises:
    RecordRefusedError: it would replace a recorded run by a lesser one or
      by one of another configuration, or `exp_dir` holds a partial run.
  """
  candidate = metrics_files.experiment_files(exp_dir)
  recorded = metrics_files.recorded_files(results_dir, name)
  try:
    extent = finished_extent(candidate)
  except RecordRefusedError as e:
    kept = ''
    if os.path.isfile(recorded.metrics_csv):
      had = _extent(metrics_files.read_rows(recorded), recorded)
      kept = f' {recorded.metrics_csv} ({_describe(had)}) stays as recorded.'
    raise RecordRefusedError(
        f'refused: {e}{kept} Nothing was written.') from None
  if not os.path.isfile(recorded.metrics_csv):
    return 'record'
  if filecmp.cmp(candidate.metrics_csv, recorded.metrics_csv, shallow=False):
    # The very run recorded (its timings make the CSV unique): adding the
    # files it was recorded without loses nothing.
    return 'unchanged'
  had = _extent(metrics_files.read_rows(recorded), recorded)
  refusal = (f'refused: {exp_dir} ({_describe(extent)}) would replace '
             f'{recorded.metrics_csv} ({_describe(had)})')
  rule = ('A recorded run is only replaced by a finished run of the same '
          'configuration that covers at least its rounds. Nothing was '
          'written.')
  short = extent.rounds < had.rounds or (
      not math.isnan(had.examples_seen)
      and not extent.examples_seen >= had.examples_seen)
  if short:
    raise RecordRefusedError(f'{refusal}, and covers less. {rule}')
  old_hparams = metrics_files.read_json(recorded.hparams_json)
  if old_hparams is None:
    raise RecordRefusedError(
        f'{refusal}, but {recorded.hparams_json} does not exist, so the two '
        'cannot be shown to share a configuration. To replace the recorded '
        f'run anyway, delete {results_dir}/{name}.* first (git keeps them). '
        + rule)
  differences = _config_differences(
      old_hparams, metrics_files.read_json(candidate.hparams_json))
  if differences:
    raise RecordRefusedError(
        f'{refusal}, but with another configuration '
        f'({"; ".join(differences)}). {rule}')
  return 'record'


def _copy(source: str, target: str) -> None:
  tmp = f'{target}.tmp'
  shutil.copyfile(source, tmp)
  os.replace(tmp, target)


def record(runs: Sequence[tuple[str, str]], results_dir: str
           ) -> list[str]:
  """Copies each (exp_dir, name) into `results_dir`, or refuses them all.

  An exp_dir that does not exist is skipped (a run this invocation did not
  train keeps what is recorded). Returns one line per run saying what
  happened.
  """
  plans = []
  for exp_dir, name in runs:
    if os.path.isdir(exp_dir):
      plans.append((exp_dir, name, check(exp_dir, results_dir, name)))
    else:
      plans.append((exp_dir, name, None))
  os.makedirs(results_dir, exist_ok=True)
  return [_carry_out(exp_dir, name, action, results_dir)
          for exp_dir, name, action in plans]


def _carry_out(exp_dir: str, name: str, action, results_dir: str) -> str:
  """Does what `check` decided for one run; the line saying what it did."""
  recorded = metrics_files.recorded_files(results_dir, name)
  if action is None:
    return (f'{name}: no run at {exp_dir}; kept {recorded.metrics_csv}'
            if os.path.isfile(recorded.metrics_csv)
            else f'{name}: no run at {exp_dir}, and none recorded')
  candidate = metrics_files.experiment_files(exp_dir)
  pairs = [(candidate.metrics_csv, recorded.metrics_csv),
           (candidate.final_metrics_json, recorded.final_metrics_json),
           (candidate.hparams_json, recorded.hparams_json)]
  added = []
  for source, target in pairs:
    if action == 'record' or not os.path.isfile(target):
      if not (os.path.isfile(target)
              and filecmp.cmp(source, target, shallow=False)):
        _copy(source, target)
        added.append(os.path.basename(target))
  extent = _describe(_extent(metrics_files.read_rows(recorded), recorded))
  if action == 'record':
    return (f'{name}: recorded {exp_dir} ({extent}) as '
            f'{results_dir}/{name}.*')
  return (f'{name}: {exp_dir} is the recorded run ({extent})'
          + (f'; added {", ".join(added)}' if added else ''))
