"""Learning processes that take client ids and build the clients' data in the worker.

Handing a round its clients as `tf.data.Dataset`s built in Python means a new
dataset graph per client per round: on the Shakespeare round that is ~1 s of
Python work, and the Python process keeps ~8 MB of traced dataset functions per
round that it never frees (10 GB over a 1,200-round run). TFF's own remedy is a
dataset computation (`ClientData.dataset_computation`): the process takes client
ids, and the worker builds each client's dataset inside the round, from the
same graph every round. The state, model weights and results are unchanged, so
checkpoints written by the dataset-taking process load into this one.

With the task's seeded preprocessing, a client's input also carries the seed
of its shuffle, so its data order is chosen by the run (the loop derives it
from the seed flag, round and client id), not by chance in the worker.
"""

from collections.abc import Callable, Sequence
from typing import Any, Optional

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
  process = getattr(process, 'client_process', process)
  return isinstance(process, indexed_process.IndexedClientsProcess)


def compose(
    process: tff.learning.templates.LearningProcess,
    client_data: tff.simulation.datasets.ClientData,
    preprocess_fn: Callable[[tf.data.Dataset], tf.data.Dataset],
    seeded_preprocess_fn: Optional[
        Callable[[tf.data.Dataset, Any], tf.data.Dataset]] = None,
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
    seeded_preprocess_fn: the same with its shuffle seeded, (dataset, int64
      seed) -> dataset (`Task.seeded_train_preprocess_fn`). Given, it is used
      instead, and each client's input carries its seed after its id:
      (client id, seed), or (position, client id, seed[, client state]).
  """
  if hasattr(process, 'with_client_process'):
    # A process that runs its clients through another one (e.g. CKKS
    # encryption around the round): that one takes the client ids.
    return process.with_client_process(compose(
        process.client_process, client_data, preprocess_fn,
        seeded_preprocess_fn))
  seeded = seeded_preprocess_fn is not None
  preprocessed = client_data.preprocess(preprocess_fn)

  def client_dataset(client_id, seed):
    if seeded:
      return seeded_preprocess_fn(
          client_data.serializable_dataset_fn(client_id), seed)
    return preprocessed.serializable_dataset_fn(client_id)

  if not takes_indexed_clients(process):
    if not seeded:
      return tff.simulation.compose_dataset_computation_with_learning_process(
          preprocessed.dataset_computation, process)

    @tff.tensorflow.computation(tff.StructType([np.str_, np.int64]))
    def seeded_dataset(client):
      return client_dataset(client[0], client[1])

    return tff.simulation.compose_dataset_computation_with_learning_process(
        seeded_dataset, process)

  specs = process.client_state_specs
  secagg = getattr(process, 'secagg', None)
  id_types = [np.int32, np.str_] + ([np.int64] if seeded else [])
  if specs is not None:
    id_types.append(tff.types.tensorflow_to_type(tuple(specs)))
  if secagg is not None:  # masked SecAgg: the client's mask seeds, last
    id_types.append(secagg.material_type())
  id_type = tff.StructType(id_types)
  state_field = 3 if seeded else 2

  @tff.tensorflow.computation(id_type)
  def indexed_dataset(indexed_id):
    dataset = client_dataset(indexed_id[1], indexed_id[2] if seeded else None)
    if secagg is not None:
      return indexed_id[0], dataset, indexed_id[len(id_types) - 1]
    if specs is None:
      return indexed_id[0], dataset
    return indexed_id[0], dataset, indexed_id[state_field]

  state_type = process.next.type_signature.parameter[0]

  @tff.federated_computation(state_type,
                             tff.FederatedType(id_type, tff.CLIENTS))
  def next_fn(state, indexed_ids):
    return process.next(state, tff.federated_map(indexed_dataset, indexed_ids))

  return indexed_process.IndexedClientsProcess.wrapping(
      process, client_state_specs=specs, next_fn=next_fn)


def round_inputs(process: tff.learning.templates.LearningProcess,
                 client_ids: Sequence[str],
                 seeds: Optional[Sequence[int]] = None) -> list[Any]:
  """The client data of a `compose`d process for one round's sampled clients.

  `seeds` (one per client) must be given exactly when the process was
  composed with a `seeded_preprocess_fn`.
  """
  if seeds is None:
    clients = list(client_ids)
  else:
    if len(seeds) != len(client_ids):
      raise ValueError(f'{len(client_ids)} clients, {len(seeds)} seeds.')
    clients = [(c, int(s)) for c, s in zip(client_ids, seeds)]
  if takes_indexed_clients(process):
    return [(i, c) if seeds is None else (i, *c)
            for i, c in enumerate(clients)]
  return clients
