"""State kept per client across rounds, stored with the run's checkpoints.

Some algorithms keep state on every client (SCAFFOLD's control variates). In
a simulation the clients do not persist between rounds, so the training loop
keeps their states: a round's clients get theirs as part of their input and
the round hands their new states back (`indexed_process.CLIENT_STATES_KEY`).
The store holds one row per training client, as float32 arrays in memory
(rows a client never wrote stay zero, and are never written to disk), and is
saved beside each checkpoint under the checkpoint's round, so a resumed run
continues with exactly the states the checkpointed model was trained with.
"""

import os
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np
import tensorflow as tf
import tensorflow_federated as tff

from tff_lstm.algorithms import indexed_process

# At most this share of the memory the machine has available at start: the
# rest is for TFF, its worker and the data.
MEMORY_SHARE = 0.5


def available_memory_bytes() -> int:
  """MemAvailable of /proc/meminfo (Linux), else the physical memory."""
  try:
    with open('/proc/meminfo') as f:
      for line in f:
        if line.startswith('MemAvailable:'):
          return int(line.split()[1]) * 1024
  except OSError:
    pass
  return os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES')


def state_bytes(num_clients: int, specs: Sequence[tf.TensorSpec]) -> int:
  return num_clients * sum(
      int(np.prod(s.shape)) * s.dtype.size for s in specs)


class ClientStateStore:
  """Every training client's state, by client id."""

  def __init__(self, client_ids: Sequence[str],
               specs: Sequence[tf.TensorSpec],
               memory_budget_bytes: Optional[int] = None):
    needed = state_bytes(len(client_ids), specs)
    budget = (memory_budget_bytes if memory_budget_bytes is not None else
              int(MEMORY_SHARE * available_memory_bytes()))
    if needed > budget:
      per_client = needed / max(len(client_ids), 1)
      raise ValueError(
          f'This algorithm keeps state on every client: {len(client_ids):,} '
          f'training clients x {per_client / 2**20:.2f} MiB = '
          f'{needed / 2**30:.2f} GiB, more than the {budget / 2**30:.2f} GiB '
          'this run may use for it (half the memory available). Use a smaller '
          'model or fewer clients.')
    self._row = {cid: i for i, cid in enumerate(client_ids)}
    self._ids = list(client_ids)
    # np.zeros maps untouched pages lazily: rows never written cost nothing.
    self._values = [np.zeros((len(client_ids),) + tuple(s.shape),
                             s.dtype.as_numpy_dtype) for s in specs]
    self._written = np.zeros(len(client_ids), bool)

  def states(self, client_ids: Sequence[str]) -> list[tuple[np.ndarray, ...]]:
    rows = [self._row[c] for c in client_ids]
    return [tuple(v[r] for v in self._values) for r in rows]

  def update(self, client_ids: Sequence[str], positions, states) -> None:
    """Row of client_ids[positions[k]] := states[...][k]."""
    rows = [self._row[client_ids[int(p)]] for p in positions]
    for values, new in zip(self._values, states):
      values[rows] = np.asarray(new)
    self._written[rows] = True

  def save(self, path: str) -> None:
    """Writes the rows written so far (atomically: temp file, then rename)."""
    rows = np.flatnonzero(self._written)
    tmp = f'{path}.tmp.npz'
    np.savez(tmp, client_ids=np.array([self._ids[r] for r in rows], dtype=str),
             **{f'state_{i}': v[rows] for i, v in enumerate(self._values)})
    os.replace(tmp, path)

  def load(self, path: str) -> None:
    """Replaces every row with the file's (rows not in it become zero)."""
    with np.load(path) as saved:
      ids = [str(c) for c in saved['client_ids']]
      unknown = [c for c in ids if c not in self._row]
      if unknown:
        raise ValueError(f'{path} holds states of clients that are not in '
                         f'this run\'s training data (e.g. {unknown[0]!r}).')
      rows = [self._row[c] for c in ids]
      for i, values in enumerate(self._values):
        stored = saved[f'state_{i}']
        if stored.shape[1:] != values.shape[1:]:
          raise ValueError(f'{path} holds client states of shape '
                           f'{stored.shape[1:]}, this model needs '
                           f'{values.shape[1:]}.')
        values[...] = 0
        values[rows] = stored
    self._written[:] = False
    self._written[rows] = True


class StatefulClientsProcess:
  """Runs an `IndexedClientsProcess` whose clients keep state, from a store.

  Takes what `client_id_inputs.round_inputs` gives, (position, client id[,
  shuffle seed]), adds each client's stored state at the end, and writes the
  round's new states back; the round's metrics are the process's without the
  states. Everything else is the process's own.
  """

  def __init__(self, process: indexed_process.IndexedClientsProcess,
               store: ClientStateStore):
    self._process = process
    self._store = store
    self.initialize = process.initialize
    self.get_model_weights = process.get_model_weights
    self.set_model_weights = process.set_model_weights

  def next(self, state, indexed_ids):
    ids = [client[1] for client in indexed_ids]
    inputs = [(*client, client_state) for client, client_state
              in zip(indexed_ids, self._store.states(ids))]
    output = self._process.next(state, inputs)
    metrics = dict(output.metrics)
    client_work = dict(metrics['client_work'])
    positions, states = client_work.pop(indexed_process.CLIENT_STATES_KEY)
    self._store.update(ids, positions, states)
    metrics['client_work'] = client_work
    return tff.learning.templates.LearningProcessOutput(output.state, metrics)


class CheckpointsWithClientStates(tff.program.ProgramStateManager):
  """`checkpoints`, with the client states saved and loaded under each
  checkpoint's round (in `directory`, one file per kept checkpoint)."""

  def __init__(self, checkpoints: tff.program.ProgramStateManager,
               store: ClientStateStore, directory: str):
    self._checkpoints = checkpoints
    self._store = store
    self._directory = directory

  def _path(self, version: int) -> str:
    return os.path.join(self._directory, f'round_{version}.npz')

  async def get_versions(self) -> Optional[list[int]]:
    return await self._checkpoints.get_versions()

  async def load(self, version: int, structure: Any) -> Any:
    path = self._path(version)
    if not os.path.exists(path):
      raise FileNotFoundError(
          f'The checkpoint of round {version} has no client states file '
          f'({path}); the run cannot resume with the states its model was '
          'trained with.')
    state = await self._checkpoints.load(version, structure)
    self._store.load(path)
    return state

  async def save(self, program_state: Any, version: int) -> None:
    # States first: a checkpoint never exists without its states.
    os.makedirs(self._directory, exist_ok=True)
    self._store.save(self._path(version))
    await self._checkpoints.save(program_state, version)
    kept = set(await self._checkpoints.get_versions() or [])
    for name in os.listdir(self._directory):
      if name.startswith('round_') and name.endswith('.npz'):
        if int(name[len('round_'):-len('.npz')]) not in kept:
          os.remove(os.path.join(self._directory, name))
