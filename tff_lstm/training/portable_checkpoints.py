"""Checkpoints that resume on either path a round can run on.

A round runs on the vectorized cohort (one local worker) or on TFF's
sequential path (remote workers, or algorithms the cohort cannot run), and both
give the same model. Their FedAvg states differ in one place only: TFF's
client work keeps the client learning rate as state, `{'learning_rate': lr}`,
where the cohort's stateless client work keeps `()`. Neither carries anything
trained (the rate is a flag, compared on resume), so a checkpoint written on
one path is loaded on the other by taking the current process's client-work
state in its place. Any other difference in structure is left to TFF, which
refuses it. TFF's manager does not compare shapes, so a checkpoint of another
model would load and fail later, deep in a round; shapes and dtypes are
compared here, naming the checkpoint.
"""

import collections
from typing import Any, Optional

import numpy as np
import tensorflow as tf
import tensorflow_federated as tff
from tensorflow_federated.python.program import file_utils
import tree

_LEARNING_RATE_ONLY = ('learning_rate',)


def _carries_nothing_trained(client_work_state) -> bool:
  if client_work_state == () or client_work_state is None:  # pylint: disable=g-explicit-bool-comparison
    return True
  return (isinstance(client_work_state, collections.abc.Mapping)
          and tuple(client_work_state) == _LEARNING_RATE_ONLY
          and np.ndim(client_work_state['learning_rate']) == 0)


def _numpy(value):
  return value.numpy() if isinstance(value, tf.Tensor) else value


def _check_shapes(state, structure, version: int) -> None:
  mismatches = []

  def compare(path, loaded, expected):
    if np.shape(loaded) != np.shape(expected) or (
        np.asarray(loaded).dtype != np.asarray(expected).dtype):
      mismatches.append(
          f'{path}: {np.asarray(loaded).dtype}'
          f'{list(np.shape(loaded))} saved, {np.asarray(expected).dtype}'
          f'{list(np.shape(expected))} now')

  flat_structure = tree.flatten(structure)
  for (path, loaded), expected in zip(tree.flatten_with_path(state),
                                      flat_structure):
    compare('/'.join(map(str, path)), loaded, expected)
  if mismatches:
    raise ValueError(
        f'The checkpoint of round {version} holds a model of another shape '
        f'({"; ".join(mismatches[:3])}): it was written by other settings.')


class PortableCheckpoints(tff.program.ProgramStateManager):
  """`checkpoints`, loading a learning-process state saved on the other path."""

  def __init__(self, checkpoints: tff.program.FileProgramStateManager):
    self._checkpoints = checkpoints

  async def get_versions(self) -> Optional[list[int]]:
    return await self._checkpoints.get_versions()

  async def save(self, program_state: Any, version: int) -> None:
    await self._checkpoints.save(program_state, version)

  async def load(self, version: int, structure: Any) -> Any:
    state = await self._load(version, structure)
    _check_shapes(state, structure, version)
    return state

  async def _load(self, version: int, structure: Any) -> Any:
    try:
      return await self._checkpoints.load(version, structure)
    except (TypeError, ValueError):
      if not isinstance(structure, tff.learning.templates.LearningAlgorithmState):
        raise
      # pylint: disable=protected-access
      path = self._checkpoints._get_path_for_version(version)
      # pylint: enable=protected-access
      stored = await file_utils.read_saved_model(path)
      # SavedModel rebuilds namedtuples as new classes of the same name.
      if not (type(stored).__name__ == type(structure).__name__
              and getattr(stored, '_fields', None) == structure._fields
              and _carries_nothing_trained(stored.client_work)
              and _carries_nothing_trained(structure.client_work)):
        raise
      stored = stored._replace(client_work=structure.client_work)
      return tf.nest.map_structure(lambda unused, value: _numpy(value),
                                   structure, stored, check_types=False)
