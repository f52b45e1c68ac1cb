"""Finds the newest checkpoint that reads back whole, before a run resumes.

A checkpoint can be damaged after it was written (a full disk, a copy cut
short, a bad sector). TFF's program state manager would then fail deep inside
TensorFlow, without saying which checkpoint, and would never try the intact
one before it. Here every kept checkpoint is read back newest first, as TFF
will read it (SavedModel variables carry checksums, so flipped bytes are
caught too), together with its client-states file where the algorithm keeps
one. Damaged checkpoints are moved aside under a name TFF's manager does not
list, so the resumed run can write those rounds again.
"""

import asyncio
import dataclasses
import os
from typing import Optional

import numpy as np
from tensorflow_federated.python.program import file_utils

from tff_lstm.training import layout

DAMAGED_PREFIX = 'damaged_'


class NoIntactCheckpointError(RuntimeError):
  """Checkpoints exist, and none of them reads back whole."""


@dataclasses.dataclass(frozen=True)
class Damage:
  round_num: int
  path: str
  problem: str


def _checkpoint_path(exp_dir: str, round_num: int) -> str:
  return os.path.join(layout.checkpoint_dir(exp_dir),
                      f'{layout.PROGRAM_STATE_PREFIX}{round_num}')


def _client_states_path(exp_dir: str, round_num: int) -> str:
  return os.path.join(layout.client_states_dir(exp_dir),
                      f'round_{round_num}.npz')


def _first_line(error: BaseException) -> str:
  text = str(error).strip().splitlines()
  detail = text[0] if text else ''
  # TF prefixes some errors with the op's name in braces; the rest explains.
  if detail.startswith('{{') and '}}' in detail:
    detail = detail.split('}}', 1)[1].strip()
  return f'{type(error).__name__}: {detail}'[:300]


def _problem(exp_dir: str, round_num: int,
             with_client_states: bool) -> Optional[str]:
  """Why round `round_num`'s checkpoint cannot be resumed from, or None."""
  try:
    asyncio.run(file_utils.read_saved_model(
        _checkpoint_path(exp_dir, round_num)))
  except Exception as e:  # pylint: disable=broad-except
    # Any failure to read it back is damage: TF raises OSError, IndexError,
    # DataLossError or ValueError depending on which file is hurt.
    return _first_line(e)
  if with_client_states:
    path = _client_states_path(exp_dir, round_num)
    try:
      with np.load(path) as stored:
        for name in stored.files:
          stored[name]  # pylint: disable=pointless-statement
    except Exception as e:  # pylint: disable=broad-except
      return f'client states {path}: {_first_line(e)}'
  return None


def checkpoint_rounds(exp_dir: str) -> list[int]:
  """The rounds of the checkpoints TFF's manager would list, oldest first."""
  directory = layout.checkpoint_dir(exp_dir)
  if not os.path.isdir(directory):
    return []
  rounds = []
  for name in os.listdir(directory):
    suffix = name[len(layout.PROGRAM_STATE_PREFIX):]
    if name.startswith(layout.PROGRAM_STATE_PREFIX) and suffix.isdigit():
      rounds.append(int(suffix))
  return sorted(rounds)


def _move_aside(path: str) -> None:
  target = os.path.join(os.path.dirname(path),
                        DAMAGED_PREFIX + os.path.basename(path))
  candidate, n = target, 1
  while os.path.lexists(candidate):  # the same round damaged once before
    candidate, n = f'{target}.{n}', n + 1
  os.replace(path, candidate)


def newest_intact_round(exp_dir: str, with_client_states: bool = False
                        ) -> tuple[int, list[Damage]]:
  """(round of the newest intact checkpoint or 0, the damaged ones above it).

  Damaged checkpoints newer than the intact one are moved aside (renamed
  `damaged_program_state_<round>`), so TFF resumes from the intact one and
  writes those rounds again. Nothing is moved when no checkpoint is intact.

  Raises:
    NoIntactCheckpointError: there are checkpoints and none is intact; names
      each one and what is wrong with it.
  """
  damaged = []
  for round_num in reversed(checkpoint_rounds(exp_dir)):
    problem = _problem(exp_dir, round_num, with_client_states)
    if problem is None:
      for damage in damaged:
        _move_aside(damage.path)
      return round_num, damaged
    damaged.append(Damage(round_num, _checkpoint_path(exp_dir, round_num),
                          problem))
  if damaged:
    listing = '; '.join(f'{d.path}: {d.problem}' for d in damaged)
    raise NoIntactCheckpointError(
        f'no checkpoint of {exp_dir} reads back whole ({listing}). Restore '
        'one from a backup, or pick a new --experiment_name.')
  return 0, []


def describe(damaged: list[Damage], resumed_round: int) -> str:
  """One line per damaged checkpoint, for the run's output."""
  return '\n'.join(
      f'checkpoint of round {d.round_num} is damaged ({d.problem}); moved to '
      f'{DAMAGED_PREFIX}{os.path.basename(d.path)}, resuming from round '
      f'{resumed_round}' for d in damaged)
