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


def _client_data_member(process: tff.learning.templates.LearningProcess):
  return process.next.type_signature.parameter[1].member


def takes_indexed_clients(process: tff.learning.templates.LearningProcess) -> bool:
  """Whether each client's input is (index in the cohort, data), as the
  vectorized cohort's is, rather than data alone."""
  member = _client_data_member(process)
  return isinstance(member, tff.StructType) and len(member) == 2


def compose(
    process: tff.learning.templates.LearningProcess,
    client_data: tff.simulation.datasets.ClientData,
    preprocess_fn: Callable[[tf.data.Dataset], tf.data.Dataset],
) -> tff.learning.templates.LearningProcess:
  """`process`, taking client ids (see `round_inputs`) instead of datasets.

  Args:
    process: a LearningProcess whose client data are preprocessed datasets of
      `client_data`, or (index, dataset) pairs (the vectorized cohort).
    client_data: the training ClientData (its `serializable_dataset_fn` runs
      inside the worker).
    preprocess_fn: the task's training preprocessing.
  """
  preprocessed = client_data.preprocess(preprocess_fn)
  if not takes_indexed_clients(process):
    return tff.simulation.compose_dataset_computation_with_learning_process(
        preprocessed.dataset_computation, process)

  @tff.tensorflow.computation(np.int32, np.str_)
  def indexed_dataset(index, client_id):
    return index, preprocessed.serializable_dataset_fn(client_id)

  state_type = process.next.type_signature.parameter[0]
  ids_type = tff.FederatedType(tff.StructType([np.int32, np.str_]), tff.CLIENTS)

  @tff.federated_computation(state_type, ids_type)
  def next_fn(state, indexed_ids):
    return process.next(state, tff.federated_map(indexed_dataset, indexed_ids))

  return tff.learning.templates.LearningProcess(
      initialize_fn=process.initialize,
      next_fn=next_fn,
      get_model_weights=process.get_model_weights,
      set_model_weights=process.set_model_weights,
      get_hparams_fn=process.get_hparams,
      set_hparams_fn=process.set_hparams)


def round_inputs(process: tff.learning.templates.LearningProcess,
                 client_ids: Sequence[str]) -> list[Any]:
  """The client data of a `compose`d process for one round's sampled clients."""
  if takes_indexed_clients(process):
    return list(enumerate(client_ids))
  return list(client_ids)
