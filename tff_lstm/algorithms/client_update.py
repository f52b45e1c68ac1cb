"""What a client does in a round, written once for a stack of clients.

An algorithm that runs on the vectorized cohort describes its client side as a
`ClientUpdate`, in the spirit of FedJAX's `for_each_client`: what a client
starts from (`initialize`), what one local batch does (`step`) and what it
sends to the server at the end (`update`). Every tensor carries a leading
client axis K, and the rules are written elementwise over it, so the same code
describes one client or the whole cohort; `vectorized_cohort` runs it with the
round's clients stacked, computing each client's gradients of the task's loss
for it.

An algorithm may also keep state
  * per client across rounds (`client_state`, e.g. SCAFFOLD's control
    variates): each round's clients get theirs in and send the new one back;
    the training loop stores it with the checkpoints (`client_states`);
  * on the server (`server_state`, e.g. SCAFFOLD's global control variate):
    every client receives it, and it moves by the clients' mean `report`.

The state a client keeps during the round comes in two parts:
  * `per_client`: a dict of [K, ...] tensors, one row per client. It must hold
    'weights', the trainable weights the forward pass uses. The cohort drops
    clients whose data has ended from the batch and steps the rest, so every
    step sees only the rows of the clients still training.
  * `shared`: tensors every training client has in common, such as an
    optimizer's hyperparameters and step count (clients start together and a
    client never steps again once its data ends, so all clients still
    training have taken the same number of steps).
"""

import abc
import collections
import dataclasses
from typing import Any, Optional

import tensorflow as tf
import tensorflow_federated as tff

PerClient = collections.OrderedDict  # str -> nest of [K, ...] tensors
Shared = Any                         # nest of tensors common to all clients


@dataclasses.dataclass
class ClientOutput:
  """What a round leaves behind for each client ([K, ...] tensors).

  Attributes:
    update: per trainable weight, applied by the server optimizer as a
      gradient (FedAvg: global minus local weights).
    client_state: the client's new state (algorithms with `client_state`).
    report: what the server averages over the round's clients into its
      `server_state` (algorithms with `server_state`).
  """

  update: list[tf.Tensor]
  client_state: Optional[list[tf.Tensor]] = None
  report: Optional[list[tf.Tensor]] = None


class ClientUpdate(abc.ABC):
  """One client's local training, over stacked clients (leading axis K)."""

  def client_state(self, weight_specs: list[tf.TensorSpec]
                   ) -> Optional[list[tf.TensorSpec]]:
    """Specs of one client's state kept across rounds; None: stateless.

    A client's first state is zeros.
    """
    del weight_specs
    return None

  def server_state(self, global_weights: list[tf.Tensor]) -> Any:
    """The server-side state's initial value (a nest of tensors)."""
    del global_weights
    return ()

  def next_server_state(self, server_state, mean_report: list[tf.Tensor],
                        num_participants: tf.Tensor, population: int):
    """The server state after a round whose clients reported `mean_report`."""
    del mean_report, num_participants, population
    return server_state

  @abc.abstractmethod
  def initialize(self, global_weights: list[tf.Tensor], num_clients: tf.Tensor,
                 server_state: Any = (),
                 client_state: Optional[list[tf.Tensor]] = None
                 ) -> tuple[PerClient, Shared]:
    """The clients' starting state, from the global model (unstacked), the
    server state and (stateful algorithms) each client's state [K, ...]."""

  @abc.abstractmethod
  def step(self, per_client: PerClient, shared: Shared,
           gradients: list[tf.Tensor], batch_rows: tf.Tensor,
           global_weights: list[tf.Tensor]) -> tuple[PerClient, Shared]:
    """One local batch: `gradients` of each client's own loss at its
    `per_client['weights']`; `batch_rows` [K] its real rows (float32)."""

  @abc.abstractmethod
  def update(self, per_client: PerClient, shared: Shared,
             global_weights: list[tf.Tensor],
             num_examples: tf.Tensor) -> ClientOutput:
    """What each client sends and keeps. `num_examples` [K] (float32)
    counts each client's examples."""


def repeat_for_clients(weights: list[tf.Tensor],
                       num_clients) -> list[tf.Tensor]:
  return [tf.repeat(w[tf.newaxis], num_clients, axis=0) for w in weights]


def _split_state(state):
  """An optimizer state's leaves: per client (weight-shaped) or shared.

  TFF's optimizers keep hyperparameters and step counts as scalars and their
  accumulators in the shape of the weights.
  """
  leaves = [tf.convert_to_tensor(l) for l in tf.nest.flatten(state)]
  per_client = [l for l in leaves if l.shape.rank]
  shared = [l for l in leaves if not l.shape.rank]
  return per_client, shared


def _join_state(structure, per_client, shared):
  per_client, shared = list(per_client), list(shared)
  leaves = [per_client.pop(0) if tf.convert_to_tensor(l).shape.rank
            else shared.pop(0) for l in tf.nest.flatten(structure)]
  return tf.nest.pack_sequence_as(structure, leaves)


class LocalTraining(ClientUpdate):
  """Local steps of a TFF optimizer, optionally with FedProx's proximal term.

  TFF's optimizers are functional and elementwise, so the one optimizer object
  steps every stacked client at once, each with its own accumulators; this is
  the client side of TFF's FedAvg (`model_delta_client_work`) and, with
  `proximal_strength` > 0, of FedProx (Li et al. 2020): the gradient of
  mu/2 * ||w - w_global||^2, mu * (w - w_global), is added to the loss's.
  """

  def __init__(self, optimizer: tff.learning.optimizers.Optimizer,
               proximal_strength: float = 0.0):
    self._optimizer = optimizer
    self._mu = proximal_strength
    self._structure = None

  def initialize(self, global_weights, num_clients, server_state=(),
                 client_state=None):
    del server_state, client_state
    # A TFF optimizer's initial state depends on the weights' specs only, so
    # one client's, repeated, is every client's.
    specs = tuple(tf.TensorSpec(w.shape, w.dtype) for w in global_weights)
    state = self._optimizer.initialize(specs)
    self._structure = state
    accumulators, shared = _split_state(state)
    return (collections.OrderedDict(
        weights=repeat_for_clients(global_weights, num_clients),
        optimizer=repeat_for_clients(accumulators, num_clients)), shared)

  def step(self, per_client, shared, gradients, batch_rows, global_weights):
    del batch_rows
    weights = per_client['weights']
    if self._mu:
      gradients = [g + self._mu * (w - w0[tf.newaxis])
                   for g, w, w0 in zip(gradients, weights, global_weights)]
    state = _join_state(self._structure, per_client['optimizer'], shared)
    state, weights = self._optimizer.next(state, tuple(weights),
                                          tuple(gradients))
    accumulators, shared = _split_state(state)
    return (collections.OrderedDict(weights=list(weights),
                                    optimizer=accumulators), shared)

  def update(self, per_client, shared, global_weights, num_examples):
    del shared, num_examples
    return ClientOutput([w0[tf.newaxis] - w for w0, w in
                         zip(global_weights, per_client['weights'])])
