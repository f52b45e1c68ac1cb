"""Learning processes that take client ids and build the clients' data in the worker.

Handing a round its clients as `tf.data.Dataset`s built in Python means a new
dataset graph per client per round: on the Shakespeare round that is ~1 s of
Python work, and the Python process keeps ~8 MB of traced dataset functions per
round that it never frees (10 GB over a 1,200-round run). TFF's own remedy is a
dataset computation (`ClientData.dataset_computation`): the process takes client
ids, and the worker builds each client's dataset inside the round, from the
same graph every round. The state, model weights and results are unchanged, so
checkpoints written by the dataset-taking process load into this one.
"""

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_federated as tff

from tff_lstm.algorithms import indexed_process


def takes_indexed_clients(process: tff.learning.templates.LearningProcess) -> bool:
  """Whether each client's input is (position in the cohort, data), as the
  vectorized cohort's is, rather than data alone.

  Decided by the process's type, never by the shape of its input: another
  algorithm's clients may well take pairs of their own.
  """
  return isinstance(process, indexed_process.IndexedClientsProcess)


def compose(
    process: tff.learning.templates.LearningProcess,
    client_data: tff.simulation.datasets.ClientData,
    preprocess_fn: Callable[[tf.data.Dataset], tf.data.Dataset],
) -> tff.learning.templates.LearningProcess:
  """`process`, taking client ids (see `round_inputs`) instead of datasets.

  Args:
    process: a LearningProcess whose client data are preprocessed datasets of
      `client_data`, or an `IndexedClientsProcess` (the vectorized cohort,
      algorithms with client state): its clients then take (position, client
      id[, client state]).
    client_data: the training ClientData (its `serializable_dataset_fn` runs
      inside the worker).
    preprocess_fn: the task's training preprocessing.
  """
  preprocessed = client_data.preprocess(preprocess_fn)
  if not takes_indexed_clients(process):
    return tff.simulation.compose_dataset_computation_with_learning_process(
        preprocessed.dataset_computation, process)

  specs = process.client_state_specs
  if specs is None:
    id_type = tff.StructType([np.int32, np.str_])
  else:
    id_type = tff.StructType([np.int32, np.str_,
                              tff.types.tensorflow_to_type(tuple(specs))])

  @tff.tensorflow.computation(id_type)
  def indexed_dataset(indexed_id):
    dataset = preprocessed.serializable_dataset_fn(indexed_id[1])
    if specs is None:
      return indexed_id[0], dataset
    return indexed_id[0], dataset, indexed_id[2]

  state_type = process.next.type_signature.parameter[0]

  @tff.federated_computation(state_type,
                             tff.FederatedType(id_type, tff.CLIENTS))
  def next_fn(state, indexed_ids):
    return process.next(state, tff.federated_map(indexed_dataset, indexed_ids))

  return indexed_process.IndexedClientsProcess.wrapping(
      process, client_state_specs=specs, next_fn=next_fn)


def round_inputs(process: tff.learning.templates.LearningProcess,
                 client_ids: Sequence[str]) -> list[Any]:
  """The client data of a `compose`d process for one round's sampled clients."""
  if takes_indexed_clients(process):
    return list(enumerate(client_ids))
  return list(client_ids)
