"""The per-client state store: rows by client id, saved with checkpoints."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_federated as tff

from tff_lstm.training import client_states
from tff_lstm.training import event_loop

_SPECS = [tf.TensorSpec([2, 3], tf.float32), tf.TensorSpec([4], tf.float32)]
_IDS = ['ann', 'bob', 'cy']


def _stacked(*values):
  return [np.stack([np.full(s.shape, v, np.float32) for v in values])
          for s in _SPECS]


def test_states_start_at_zero_and_update_by_position():
  store = client_states.ClientStateStore(_IDS, _SPECS)
  assert all(not np.any(t) for s in store.states(_IDS) for t in s)
  # The round's clients were cy and ann; positions say which row is whose.
  store.update(['cy', 'ann'], positions=[1, 0], states=_stacked(5.0, 7.0))
  ann, bob, cy = store.states(_IDS)
  assert np.all(ann[0] == 5.0) and np.all(cy[1] == 7.0)
  assert not np.any(bob[0])


def test_save_and_load_round_trip_only_written_rows(tmp_path):
  store = client_states.ClientStateStore(_IDS, _SPECS)
  store.update(['bob'], [0], _stacked(2.0))
  path = str(tmp_path / 'round_1.npz')
  store.save(path)
  with np.load(path) as saved:
    assert list(saved['client_ids']) == ['bob']
  store.update(['ann', 'bob'], [0, 1], _stacked(9.0, 9.0))
  store.load(path)
  ann, bob, _ = store.states(_IDS)
  assert not np.any(ann[0]) and np.all(bob[1] == 2.0)


def test_load_refuses_other_clients_and_shapes(tmp_path):
  store = client_states.ClientStateStore(['zed'], _SPECS)
  store.update(['zed'], [0], _stacked(1.0))
  path = str(tmp_path / 's.npz')
  store.save(path)
  with pytest.raises(ValueError, match="'zed'"):
    client_states.ClientStateStore(_IDS, _SPECS).load(path)
  other = [tf.TensorSpec([2, 2], tf.float32), _SPECS[1]]
  with pytest.raises(ValueError, match='shape'):
    client_states.ClientStateStore(['zed'], other).load(path)


def test_a_store_that_would_not_fit_is_refused_with_its_size():
  specs = [tf.TensorSpec([1024, 256], tf.float32)]        # 1 MiB a client
  with pytest.raises(ValueError, match=r'3 training clients x 1.00 MiB'):
    client_states.ClientStateStore(_IDS, specs,
                                   memory_budget_bytes=2 * 2**20)
  client_states.ClientStateStore(_IDS, specs, memory_budget_bytes=3 * 2**20)


def test_checkpoints_keep_states_beside_each_kept_round(tmp_path):
  store = client_states.ClientStateStore(_IDS, _SPECS)
  inner = tff.program.FileProgramStateManager(
      str(tmp_path / 'checkpoints'), keep_total=2, keep_first=False)
  manager = client_states.CheckpointsWithClientStates(
      inner, store, str(tmp_path / 'states'))
  for version in (1, 2, 3):
    store.update(['ann'], [0], _stacked(float(version)))
    event_loop.run(manager.save(np.float32(version), version))
  assert sorted(p.name for p in (tmp_path / 'states').iterdir()) == [
      'round_2.npz', 'round_3.npz']
  store.update(['ann'], [0], _stacked(0.5))
  state = event_loop.run(manager.load(2, np.float32(0)))
  assert state == 2.0 and np.all(store.states(['ann'])[0][0] == 2.0)
  (tmp_path / 'states' / 'round_3.npz').unlink()
  with pytest.raises(FileNotFoundError, match='round 3 has no client states'):
    event_loop.run(manager.load(3, np.float32(0)))
