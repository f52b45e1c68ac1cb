"""FedAvg with the whole cohort trained as one batched computation.

Sequential TFF trains the sampled clients one after another, each on batches
of 4 sequences: thousands of tiny ops per round. Here the round's clients are
gathered at the server, their copies of the model are stacked on a leading
client axis, and every local step of every client runs as one batched step
(batched matmuls, one fused LSTM over all clients). The sum of the clients'
losses has exactly each client's own gradient in its slice. Clients run
longest first, and a client leaves the batch when its data ends (instead of
stepping on masked padding), so real, skewed cohorts cost what their longest
client costs, not K times it. The
resulting per-client updates are handed back to their clients and go through
the same TFF aggregator (weighted mean, DP, secure, compression) and server
optimizer as in `tff.learning.algorithms.build_weighted_fed_avg`, so the new
global model is the sequential one up to float rounding.

Client data enters as `(index, dataset)` pairs: the index says which slice of
the stacked updates is that client's (see `indexed_client_data`).
"""

import collections
from collections.abc import Callable, Sequence
from typing import Optional

import numpy as np
import tensorflow as tf
import tensorflow_federated as tff

from tff_lstm import federated_concat
from tff_lstm.algorithms import cohort_model

_MAX_BATCHES = 2**31 - 1
# Stacked recurrent kernels beyond this stop fitting in cache and every
# timestep streams them from memory (half the 32 MiB L3 of our machines).
CACHE_BUDGET_BYTES = 16 * 2**20


def default_clients_per_group(keras_model: tf.keras.Model) -> int:
  """How many clients' recurrent kernels fit in CACHE_BUDGET_BYTES together."""
  per_client = sum(v.shape.num_elements() * v.dtype.size
                   for v in keras_model.trainable_variables
                   if 'recurrent_kernel' in v.name)
  return max(1, CACHE_BUDGET_BYTES // max(per_client, 1))


def number_of_groups(num_clients, max_per_group: int):
  """The fewest groups that keep every group within `max_per_group` clients."""
  return (num_clients + max_per_group - 1) // max_per_group


def group_members(group, num_clients, num_groups):
  """Longest-first positions dealt to `group`: group, group + num_groups, ...

  Group sizes differ by at most one, and every group gets a share of the long
  and of the short clients. The worker trains the groups concurrently (one core
  each), so a round lasts as long as its slowest group: cutting the sorted
  cohort into consecutive runs instead would give one group all the longest
  clients.
  """
  return tf.range(group, num_clients, num_groups)


def indexed_client_data(datasets: Sequence[tf.data.Dataset]):
  """The cohort's input: each client's dataset with its slot in the cohort."""
  return [(index, dataset) for index, dataset in enumerate(datasets)]


def _pad_rows(x, rows):
  pad = rows - tf.shape(x)[0]
  padded = tf.pad(x, [[0, pad]] + [[0, 0]] * (len(x.shape) - 1))
  return tf.ensure_shape(padded, [rows] + x.shape.as_list()[1:])


def _client_tensors(index, dataset, batch_size):
  """One client's batches as [S, B, T] arrays (short batches padded)."""
  x_spec, y_spec = dataset.element_spec
  padded = dataset.map(lambda x, y: (_pad_rows(x, batch_size),
                                     _pad_rows(y, batch_size),
                                     tf.shape(x)[0]))
  empty = tf.data.Dataset.from_tensors((
      tf.zeros([0, batch_size] + x_spec.shape[1:], x_spec.dtype),
      tf.zeros([0, batch_size] + y_spec.shape[1:], y_spec.dtype),
      tf.zeros([0], tf.int32)))
  x, y, rows = padded.batch(_MAX_BATCHES).concatenate(empty).take(
      1).get_single_element()
  return collections.OrderedDict(
      index=tf.reshape(tf.cast(index, tf.int32), [1]),
      num_batches=tf.shape(rows)[:1], x=x, y=y, rows=rows)


def _stack_longest_first(cohort):
  """[sum S, ...] in arrival order -> [K, S_max, ...], longest client first.

  Returns x, y, rows, the clients' step counts (descending) and `rank`, each
  client index's position in that order.
  """
  counts = cohort['num_batches']
  num_clients = tf.size(counts)
  by_index = tf.scatter_nd(cohort['index'][:, tf.newaxis], counts,
                           [num_clients])
  order = tf.argsort(by_index, direction='DESCENDING', stable=True)
  rank = tf.scatter_nd(order[:, tf.newaxis], tf.range(num_clients),
                       [num_clients])
  starts = tf.cumsum(counts, exclusive=True)
  owner = tf.repeat(tf.range(num_clients), counts)
  step = tf.range(tf.size(owner)) - tf.gather(starts, owner)
  slot = tf.gather(rank, tf.gather(cohort['index'], owner))
  where = tf.stack([slot, step], axis=1)
  max_steps = tf.reduce_max(tf.concat([counts, [0]], axis=0))

  def scatter(values):
    shape = tf.concat([[num_clients, max_steps], tf.shape(values)[1:]], 0)
    return tf.scatter_nd(where, values, shape)

  return (scatter(cohort['x']), scatter(cohort['y']), scatter(cohort['rows']),
          tf.gather(by_index, order), rank)


def _build_cohort_training(forward, learning_rate, pad_id, uniform_weights,
                           clients_per_group):
  """The server-side TF function: all clients' local SGD at once.

  Batching stops paying once the stacked recurrent weights no longer fit in
  the CPU cache: every timestep reads all of them. So the sorted cohort is cut
  into groups of at most `clients_per_group`, dealt round-robin
  (`group_members`); the worker runs the groups' iterations concurrently.

  Clients are sorted longest first, so at every step the clients that still
  have a batch are a prefix. Training runs in phases: each phase steps the
  prefix of live clients until the shortest of them is done, then drops it.
  No step computes on padding, so a cohort with one long client costs about
  that client's steps, not K times them.
  """

  def per_client_loss(weights, x, y):
    logits = forward(weights, x)                               # [K,B,T,V]
    labels = tf.cast(y, tf.int32)
    valid = tf.cast(tf.not_equal(labels, pad_id), logits.dtype)
    token_loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
    loss = tf.math.divide_no_nan(tf.reduce_sum(token_loss * valid, [1, 2]),
                                 tf.reduce_sum(valid, [1, 2]))
    correct = tf.cast(tf.equal(tf.argmax(logits, -1, tf.int32), labels),
                      logits.dtype) * valid
    return loss, tf.reduce_sum(correct), tf.reduce_sum(valid)

  def train_group(global_weights, x, y, rows, steps):
    """Local SGD of one group of clients (sorted longest first), in phases."""
    num_clients = tf.shape(x)[0]
    weights = [tf.repeat(w[tf.newaxis], num_clients, axis=0)
               for w in global_weights]
    invariants = [tf.TensorShape([None] + w.shape.as_list()[1:])
                  for w in weights]

    def phase(s, weights, totals):
      live = tf.reduce_sum(tf.cast(steps > s, tf.int32))
      end = steps[live - 1]

      def step(t, active, totals):
        with tf.GradientTape() as tape:
          tape.watch(active)
          loss, correct, valid = per_client_loss(active, x[:live, t],
                                                 y[:live, t])
          total = tf.reduce_sum(loss)
        grads = tape.gradient(total, active)
        active = [w - learning_rate * tf.convert_to_tensor(g)
                  for w, g in zip(active, grads)]
        batch_rows = tf.cast(rows[:live, t], tf.float32)
        totals += tf.stack([tf.reduce_sum(loss * batch_rows), correct, valid])
        return t + 1, active, totals

      s, active, totals = tf.while_loop(
          lambda t, *_: t < end, step,
          (s, [w[:live] for w in weights], totals),
          shape_invariants=(tf.TensorShape([]), invariants,
                            tf.TensorShape([3])))
      weights = [tf.concat([a, w[live:]], axis=0)
                 for a, w in zip(active, weights)]
      return s, weights, totals

    max_steps = tf.reduce_max(tf.concat([steps, [0]], axis=0))
    _, trained, totals = tf.while_loop(
        lambda s, *_: s < max_steps, phase,
        (tf.constant(0), weights, tf.zeros([3])),
        shape_invariants=(tf.TensorShape([]), invariants,
                          tf.TensorShape([3])))
    return trained, totals

  def train(global_weights, cohort):
    x, y, rows, steps, rank = _stack_longest_first(cohort)
    num_clients = tf.shape(x)[0]
    num_groups = number_of_groups(num_clients, clients_per_group)

    def group(g, arrays, dealt, totals):
      members = group_members(g, num_clients, num_groups)
      trained, group_totals = train_group(
          global_weights, tf.gather(x, members), tf.gather(y, members),
          tf.gather(rows, members), tf.gather(steps, members))
      arrays = [a.write(g, w) for a, w in zip(arrays, trained)]
      return g + 1, arrays, dealt.write(g, members), totals + group_totals

    arrays = [tf.TensorArray(w.dtype, size=num_groups, infer_shape=False,
                             element_shape=[None] + w.shape.as_list())
              for w in global_weights]
    dealt = tf.TensorArray(tf.int32, size=num_groups, infer_shape=False,
                           element_shape=[None])
    _, arrays, dealt, totals = tf.while_loop(
        lambda g, *_: g < num_groups, group,
        (tf.constant(0), arrays, dealt, tf.zeros([3])))
    # Row r of the trained weights holds position dealt[r]; invert that.
    row_of_position = tf.math.invert_permutation(dealt.concat())
    trained = [a.concat() for a in arrays]
    trained = [tf.gather(w, tf.gather(row_of_position, rank))
               for w in trained]   # back to index order
    deltas = [w0[tf.newaxis] - w for w0, w in zip(global_weights, trained)]
    finite = tf.reduce_all(tf.stack(
        [tf.reduce_all(tf.math.is_finite(tf.reshape(d, [num_clients, -1])),
                       axis=1) for d in deltas]), axis=0)
    finite_f = tf.cast(finite, tf.float32)
    # As TFF's client update: a non-finite update is zeroed and weighs 0.
    deltas = [tf.where(tf.reshape(finite, [-1] + [1] * (len(d.shape) - 1)),
                       d, tf.zeros_like(d)) for d in deltas]
    examples = tf.gather(tf.reduce_sum(tf.cast(rows, tf.float32), axis=1),
                         rank)
    client_weights = finite_f if uniform_weights else examples * finite_f
    num_examples = tf.reduce_sum(examples)
    loss_sum, correct, valid = tf.unstack(totals)
    metrics = collections.OrderedDict(
        loss=tf.math.divide_no_nan(loss_sum, num_examples),
        accuracy=tf.math.divide_no_nan(correct, valid),
        num_examples=tf.cast(num_examples, tf.int64),
        num_batches=tf.cast(tf.reduce_sum(steps), tf.int64))
    return deltas, client_weights, metrics

  return train


def build_vectorized_fed_avg(
    model_fn: Callable[[], tff.learning.models.VariableModel],
    keras_model_fn: Callable[[], tf.keras.Model],
    *,
    client_learning_rate: float,
    server_optimizer: tff.learning.optimizers.Optimizer,
    batch_size: int,
    uniform_weighting: bool = False,
    model_aggregator: tff.aggregators.WeightedAggregationFactory = None,
    pad_id: int = 0,
    mixed_precision: bool = False,
    clients_per_group: Optional[int] = None,
) -> tff.learning.templates.LearningProcess:
  """FedAvg/FedOpt whose clients train as one batched computation.

  Args:
    model_fn: the task's TFF model (gives the weights and input types).
    keras_model_fn: the same model in Keras (gives the layer sequence).
    client_learning_rate: local SGD learning rate.
    server_optimizer: TFF optimizer applied to the aggregated update.
    batch_size: the clients' batch size (short batches are padded to it).
    uniform_weighting: weigh every client 1 instead of its example count.
    model_aggregator: weighted TFF aggregation factory (default: mean).
    pad_id: label id that carries no loss (padding).
    mixed_precision: compute in bfloat16 (float32 weights, updates and loss).
    clients_per_group: clients batched together (None: as many as keep their
      recurrent weights within `CACHE_BUDGET_BYTES`).

  Returns:
    A `tff.learning.templates.LearningProcess` whose client data are
    `indexed_client_data(datasets)`.
  """
  keras_model = keras_model_fn()
  forward = cohort_model.build_forward(
      keras_model, tf.bfloat16 if mixed_precision else tf.float32)
  if model_aggregator is None:
    model_aggregator = tff.aggregators.MeanFactory()

  @tff.tensorflow.computation
  def initial_weights():
    return tff.learning.models.ModelWeights.from_model(model_fn())

  weights_type = initial_weights.type_signature.result
  trainable_type = weights_type.trainable
  element_spec = model_fn().input_spec
  dataset_type = tff.SequenceType(tff.types.tensorflow_to_type(element_spec))

  @tff.tensorflow.computation(np.int32, dataset_type)
  def to_tensors(index, dataset):
    return _client_tensors(index, dataset, batch_size)

  if clients_per_group is None:
    clients_per_group = default_clients_per_group(keras_model)
  if clients_per_group < 1:
    raise ValueError(f'clients_per_group must be >= 1, got {clients_per_group}.')
  train_fn = _build_cohort_training(forward, client_learning_rate, pad_id,
                                    uniform_weighting, clients_per_group)

  cohort_type = tff.types.tensorflow_to_type(tf.nest.map_structure(
      lambda t: tf.TensorSpec([None] + list(t.shape[1:]), t.dtype),
      tff.types.type_to_tf_tensor_specs(to_tensors.type_signature.result)))

  @tff.tensorflow.computation(trainable_type, cohort_type)
  def train_cohort(global_trainable, cohort):
    return train_fn(list(global_trainable), cohort)

  stacked_type = train_cohort.type_signature.result

  @tff.tensorflow.computation(stacked_type, np.int32)
  def client_slice(stacked, index):
    deltas, weights, _ = stacked
    return [d[index] for d in deltas], weights[index]

  @tff.tensorflow.computation(np.int32, dataset_type)
  def client_index(index, dataset):
    del dataset
    return index

  delta_type = client_slice.type_signature.result[0]
  aggregator = model_aggregator.create(delta_type, tff.TensorType(np.float32))
  finalizer = tff.learning.templates.build_apply_optimizer_finalizer(
      server_optimizer, weights_type)

  @tff.federated_computation
  def initialize():
    return tff.federated_zip(tff.learning.templates.LearningAlgorithmState(
        global_model_weights=tff.federated_eval(initial_weights, tff.SERVER),
        distributor=tff.federated_value((), tff.SERVER),
        client_work=tff.federated_value((), tff.SERVER),
        aggregator=aggregator.initialize(),
        finalizer=finalizer.initialize()))

  state_type = initialize.type_signature.result
  client_input_type = tff.FederatedType((np.int32, dataset_type), tff.CLIENTS)

  @tff.federated_computation(state_type, client_input_type)
  def next_fn(state, clients):
    tensors = tff.federated_map(to_tensors, clients)
    cohort = federated_concat.federated_concat(tensors)
    stacked = tff.federated_map(
        train_cohort, (state.global_model_weights.trainable, cohort))
    index = tff.federated_map(client_index, clients)
    own = tff.federated_map(client_slice,
                            (tff.federated_broadcast(stacked), index))
    aggregated = aggregator.next(state.aggregator, own[0], own[1])
    finalized = finalizer.next(state.finalizer, state.global_model_weights,
                               aggregated.result)
    new_state = tff.federated_zip(tff.learning.templates.LearningAlgorithmState(
        global_model_weights=finalized.result,
        distributor=state.distributor,
        client_work=state.client_work,
        aggregator=aggregated.state,
        finalizer=finalized.state))
    metrics = tff.federated_zip(collections.OrderedDict(
        distributor=tff.federated_value((), tff.SERVER),
        client_work=tff.federated_zip(collections.OrderedDict(
            train=stacked[2])),
        aggregator=aggregated.measurements,
        finalizer=finalized.measurements))
    return tff.learning.templates.LearningProcessOutput(new_state, metrics)

  @tff.tensorflow.computation(state_type.member)
  def get_model_weights(state):
    return state.global_model_weights

  @tff.tensorflow.computation(state_type.member, weights_type)
  def set_model_weights(state, weights):
    return tff.learning.templates.LearningAlgorithmState(
        global_model_weights=weights, distributor=state.distributor,
        client_work=state.client_work, aggregator=state.aggregator,
        finalizer=state.finalizer)

  return tff.learning.templates.LearningProcess(
      initialize, next_fn, get_model_weights, set_model_weights)
