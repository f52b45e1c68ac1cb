"""Resuming from the newest checkpoint that reads back whole."""

import asyncio
import os
import shutil

import numpy as np
import pytest
import tensorflow_federated as tff

from tff_lstm.training import checkpoint_integrity
from tff_lstm.training import layout
from tff_lstm.training import outputs


def _save_rounds(exp_dir, rounds, client_states=False):
  manager = tff.program.FileProgramStateManager(  # keeps every round
      layout.checkpoint_dir(exp_dir),
      prefix=layout.PROGRAM_STATE_PREFIX, keep_total=0)
  for r in rounds:
    state = {'weights': np.full(50_000, r, np.float32), 'round': r}
    asyncio.run(manager.save(state, r))
    if client_states:
      os.makedirs(layout.client_states_dir(str(exp_dir)), exist_ok=True)
      np.savez(os.path.join(layout.client_states_dir(str(exp_dir)),
                            f'round_{r}.npz'), c=np.full((4, 3), r))


def _path(exp_dir, r):
  return os.path.join(layout.checkpoint_dir(exp_dir),
                      f'{layout.PROGRAM_STATE_PREFIX}{r}')


def _truncate_data(path):
  data = os.path.join(path, 'variables', 'variables.data-00000-of-00001')
  with open(data, 'r+b') as f:
    f.truncate(os.path.getsize(data) // 2)


def _flip_bytes(path):
  data = os.path.join(path, 'variables', 'variables.data-00000-of-00001')
  with open(data, 'r+b') as f:
    f.seek(1000)
    chunk = bytearray(f.read(16))
    f.seek(1000)
    f.write(bytes(b ^ 0xFF for b in chunk))


def _empty(path):
  shutil.rmtree(path)
  os.makedirs(path)


_DAMAGE = {
    'data file truncated': _truncate_data,
    'saved_model.pb deleted': lambda p: os.remove(
        os.path.join(p, 'saved_model.pb')),
    'folder emptied': _empty,
    'bytes flipped': _flip_bytes,
}


@pytest.mark.parametrize('damage', sorted(_DAMAGE))
def test_damaged_latest_falls_back_to_the_newest_intact(tmp_path, damage):
  exp_dir = str(tmp_path)
  _save_rounds(exp_dir, [2, 4, 6])
  _DAMAGE[damage](_path(exp_dir, 6))
  start, damaged = checkpoint_integrity.newest_intact_round(exp_dir)
  assert start == 4
  assert [d.round_num for d in damaged] == [6]
  assert checkpoint_integrity.checkpoint_rounds(exp_dir) == [2, 4]
  assert os.path.isdir(os.path.join(
      exp_dir, layout.CHECKPOINT_DIR, 'damaged_program_state_6'))
  message = checkpoint_integrity.describe(damaged, start)
  assert 'checkpoint of round 6 is damaged' in message
  assert 'resuming from round 4' in message
  # TFF's own manager now resumes from round 4 and can write round 6 again.
  manager = outputs.program_state_manager(exp_dir)
  state, version = asyncio.run(manager.load_latest(
      {'weights': np.zeros(50_000, np.float32), 'round': 0}))
  assert version == 4 and state['weights'][0] == 4


def test_no_intact_checkpoint_is_refused_naming_each(tmp_path):
  exp_dir = str(tmp_path)
  _save_rounds(exp_dir, [1, 2])
  _truncate_data(_path(exp_dir, 1))
  os.remove(os.path.join(_path(exp_dir, 2), 'saved_model.pb'))
  with pytest.raises(checkpoint_integrity.NoIntactCheckpointError) as error:
    checkpoint_integrity.newest_intact_round(exp_dir)
  assert _path(exp_dir, 1) in str(error.value)
  assert _path(exp_dir, 2) in str(error.value)
  assert checkpoint_integrity.checkpoint_rounds(exp_dir) == [1, 2]  # untouched


def test_a_damaged_client_states_file_damages_its_checkpoint(tmp_path):
  exp_dir = str(tmp_path)
  _save_rounds(exp_dir, [1, 2], client_states=True)
  states = os.path.join(layout.client_states_dir(exp_dir), 'round_2.npz')
  with open(states, 'r+b') as f:
    f.truncate(os.path.getsize(states) // 2)
  assert checkpoint_integrity.newest_intact_round(exp_dir)[0] == 2  # no states
  assert checkpoint_integrity.newest_intact_round(
      exp_dir, with_client_states=True)[0] == 1


def test_a_new_run_has_nothing_to_check(tmp_path):
  assert checkpoint_integrity.newest_intact_round(str(tmp_path)) == (0, [])
