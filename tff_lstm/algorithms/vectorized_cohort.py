"""The round's clients trained as one batched computation: a backend for any
client update rule written to `client_update.ClientUpdate`.

Sequential TFF trains the sampled clients one after another, each on batches
of 4 sequences: thousands of tiny ops per round. Here the round's clients are
gathered at the server, their copies of the model are stacked on a leading
client axis, and every local step of every client runs as one batched step
(batched matmuls, one fused LSTM over all clients). The sum of the clients'
losses (the task's own loss, over each client's real rows) has exactly each
client's own gradient in its slice; the algorithm's rule turns those
gradients into each client's next state. Clients run longest first, and a
client leaves the batch when its data ends (instead of stepping on masked
padding), so real, skewed cohorts cost what their longest client costs, not K
times it. The resulting per-client updates are handed back to their clients
and go through the same TFF aggregator (weighted mean, DP, secure,
compression) and server optimizer as TFF's own algorithms, so the new global
model and the task's metrics are the sequential path's up to float rounding.

Client data enters as `(index, dataset)` pairs: the index says which slice of
the stacked updates is that client's (see `indexed_client_data`).
"""

import collections
from collections.abc import Sequence
from typing import Optional

import numpy as np
import tensorflow as tf
import tensorflow_federated as tff

from tff_lstm.aggregation import masked as masked_lib
from tff_lstm.runtime import federated_concat
from tff_lstm.algorithms import client_update as client_update_lib
from tff_lstm.algorithms import cohort_loss
from tff_lstm.algorithms import cohort_model
from tff_lstm.algorithms import indexed_process

# The recurrent kernels one group of clients holds together: 5 clients at
# 256 units, 20 at 128, 1 at 512. Measured in the TFF round
# (docs/performance.md, "Group sizes"): at 256 units groups of 5 beat groups
# of 7 and of 2, and at 512 units one client a group (the one-client path's
# 2-D products) beat two batched.
GROUP_KERNEL_BYTES = 10 * 2**20

# The worker runs the groups' chains of steps concurrently on its inter-op
# threads, one per core; one group alone keeps about 1.7 of our 2 cores busy.
# A constant, not the machine's core count, so that a run forms the same
# groups (and computes the same floats) on every machine.
MIN_GROUPS = 2


def default_clients_per_group(keras_model: tf.keras.Model) -> int:
  """How many clients' recurrent kernels fit in GROUP_KERNEL_BYTES together."""
  per_client = sum(v.shape.num_elements() * v.dtype.size
                   for v in keras_model.trainable_variables
                   if 'recurrent_kernel' in v.name)
  return max(1, GROUP_KERNEL_BYTES // max(per_client, 1))


def number_of_groups(num_clients, max_per_group: int):
  """The fewest groups that keep every group within `max_per_group` clients,
  and at least `MIN_GROUPS` (when there are that many clients)."""
  under_cap = (num_clients + max_per_group - 1) // max_per_group
  return tf.maximum(under_cap, tf.minimum(num_clients, MIN_GROUPS))


def longest_trains_alone(steps, max_per_group: int):
  """Whether the longest client (steps sorted descending) gets a group of its
  own, the others dealt into groups under the cap.

  A round lasts as long as its slowest group, and a group's steps are
  sequential. Batched with others, the longest client's early steps cost a
  several-client step each; alone they cost a one-client step, while the
  rest of the cohort trains beside it. It pays when the longest client is the
  round's critical path: when its steps are at least the mean load of the
  groups the others would form (real, skewed cohorts), not in uniform
  cohorts, where every group is equally long.
  """
  others = tf.size(steps) - 1
  longest = tf.reduce_sum(steps[:1])     # 0 for an empty cohort
  rest = tf.reduce_sum(steps[1:])
  return tf.logical_and(
      others > 0, longest * number_of_groups(others, max_per_group) >= rest)


def group_count(num_clients, max_per_group: int, lone):
  """Groups in the round: one more than the others need when `lone`."""
  return tf.where(lone, 1 + number_of_groups(num_clients - 1, max_per_group),
                  number_of_groups(num_clients, max_per_group))


def group_members(group, num_clients, num_groups, lone=False):
  """Longest-first positions dealt to `group`: group, group + num_groups, ...

  Group sizes differ by at most one, and every group gets a share of the long
  and of the short clients. The worker trains the groups concurrently (one core
  each), so a round lasts as long as its slowest group: cutting the sorted
  cohort into consecutive runs instead would give one group all the longest
  clients. With `lone` (see `longest_trains_alone`), group 0 holds the
  longest client only and groups 1, 2, ... are dealt positions 1, 2, ... of the
  rest the same way.
  """
  lone = tf.cast(lone, tf.int32)
  # Lone: group 0 is range(0, 1), the others deal with a stride one shorter.
  stop = tf.where(tf.equal(lone * (group + 1), 1), 1, num_clients)
  return tf.range(group, stop, num_groups - lone)


def indexed_client_data(datasets: Sequence[tf.data.Dataset],
                        client_states: Optional[Sequence] = None):
  """The cohort's input: each client's dataset with its slot in the cohort
  (and its state kept across rounds, for stateful algorithms)."""
  if client_states is None:
    return [(index, dataset) for index, dataset in enumerate(datasets)]
  return [(index, dataset, tuple(state)) for index, (dataset, state)
          in enumerate(zip(datasets, client_states))]


def _pad_rows(x, rows):
  pad = rows - tf.shape(x)[0]
  padded = tf.pad(x, [[0, pad]] + [[0, 0]] * (len(x.shape) - 1))
  return tf.ensure_shape(padded, [rows] + x.shape.as_list()[1:])


def _client_tensors(index, dataset, batch_size, client_state=None):
  """One client's batches as [S, B, T] arrays (short batches padded), and its
  state kept across rounds as [1, ...] (stateful algorithms).

  The batches are gathered by `Dataset.reduce`, not `get_single_element`. The
  worker receives each client's dataset as a serialized graph, so its
  functions (the task's preprocessing) are new in every call, and TF 2.14's
  single-element kernel never releases the functions it instantiates
  (`ReduceDataset` does: it iterates with a function handle cache). With
  `get_single_element` here the worker kept about 1.8 MB per client per round.
  Without tf.data's default optimizations: `reduce` would rewrite the
  client's pipeline with them in every call, which cost more than the
  training steps of a small round.
  """
  options = tf.data.Options()
  options.experimental_optimization.apply_default_optimizations = False
  dataset = dataset.with_options(options)
  x_spec, y_spec = dataset.element_spec

  def array(dtype, element_shape):
    return tf.TensorArray(dtype, size=0, dynamic_size=True,
                          element_shape=element_shape)

  def append(arrays, batch):
    xs, ys, rows = arrays
    x, y = batch
    return (xs.write(xs.size(), _pad_rows(x, batch_size)),
            ys.write(ys.size(), _pad_rows(y, batch_size)),
            rows.write(rows.size(), tf.shape(x)[0]))

  xs, ys, rows = dataset.reduce(
      (array(x_spec.dtype, [batch_size] + x_spec.shape[1:]),
       array(y_spec.dtype, [batch_size] + y_spec.shape[1:]),
       array(tf.int32, [])), append)
  x, y, rows = xs.stack(), ys.stack(), rows.stack()
  tensors = collections.OrderedDict(
      index=tf.reshape(tf.cast(index, tf.int32), [1]),
      num_batches=tf.shape(rows)[:1], x=x, y=y, rows=rows)
  if client_state is not None:
    tensors['client_state'] = [tf.convert_to_tensor(t)[tf.newaxis]
                               for t in client_state]
  return tensors


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
          tf.gather(by_index, order), rank, order)


def _in_order(values, cohort_index, order):
  """Per-client [K, ...] values in arrival order -> in `order` of indices."""
  num_clients = tf.shape(values)[0]
  by_index = tf.scatter_nd(cohort_index[:, tf.newaxis], values,
                           tf.concat([[num_clients], tf.shape(values)[1:]], 0))
  return tf.gather(by_index, order)


def _real_rows(rows, batch_size):
  """[...] real-row counts -> [..., B] bool: True on rows that are not
  padding."""
  return tf.range(batch_size) < rows[..., tf.newaxis]


def _shapes(nest, leading_none=False):
  def shape(t):
    if leading_none:
      return tf.TensorShape([None] + t.shape.as_list()[1:])
    return t.shape
  return tf.nest.map_structure(shape, nest)


def _build_cohort_training(forward, client_update, loss_fn, metrics,
                           uniform_weights, clients_per_group):
  """The server-side TF function: all clients' local training at once.

  Batching stops paying once the stacked recurrent weights no longer fit in
  the CPU cache: every timestep reads all of them. So the sorted cohort is cut
  into groups of at most `clients_per_group`, dealt round-robin
  (`group_members`); the worker runs the groups' iterations concurrently.

  Clients are sorted longest first, so at every step the clients that still
  have a batch are a prefix. Training runs in phases: each phase steps the
  prefix of live clients until the shortest of them is done, then drops it.
  No step computes on padding, so a cohort with one long client costs about
  that client's steps, not K times it.

  Args:
    forward: `cohort_model.build_forward` of the task's model.
    client_update: the algorithm's `client_update.ClientUpdate`.
    loss_fn: `cohort_loss.per_client_loss` of the task's loss.
    metrics: `cohort_loss.CohortMetrics` of the task's metrics.
    uniform_weights: weigh each client 1 instead of its example count.
    clients_per_group: clients batched together.
  """

  def train_group(global_weights, server_state, x, y, rows, steps,
                  client_state, metric_state):
    """Local training of one group of clients (sorted longest first)."""
    num_clients = tf.shape(x)[0]
    batch_size = x.shape[2]
    per_client, shared = client_update.initialize(
        global_weights, num_clients, server_state, client_state)
    output_shape = []   # one client's [B, ...] output shape, set when traced
    per_client_shapes = _shapes(per_client, leading_none=True)
    shared_shapes = _shapes(shared)
    metric_shapes = _shapes(metric_state)

    def phase(s, per_client, shared, metric_state, loss_sum):
      live = tf.reduce_sum(tf.cast(steps > s, tf.int32))
      end = steps[live - 1]
      start = s

      def step(t, active, shared, predictions, loss_sum):
        inputs, labels = x[:live, t], y[:live, t]
        real = _real_rows(rows[:live, t], batch_size)
        weights = active['weights']
        with tf.GradientTape() as tape:
          tape.watch(weights)
          outputs = forward(weights, inputs)
          loss = loss_fn(labels, outputs, real)
          total = tf.reduce_sum(loss)
        gradients = [tf.convert_to_tensor(g)
                     for g in tape.gradient(total, weights)]
        batch_rows = tf.cast(rows[:live, t], tf.float32)
        active, shared = client_update.step(active, shared, gradients,
                                            batch_rows, global_weights)
        output_shape[:] = outputs.shape[1:]
        predictions = predictions.write(t - start, tf.stop_gradient(outputs))
        return (t + 1, active, shared, predictions,
                loss_sum + tf.reduce_sum(loss * batch_rows))

      active = tf.nest.map_structure(lambda v: v[:live], per_client)
      # The metrics see every step's predictions (made before its update),
      # updated once per phase: per step, their small ops cost more than the
      # arithmetic.
      predictions = tf.TensorArray(tf.float32, size=end - start)
      s, active, shared, predictions, loss_sum = tf.while_loop(
          lambda t, *_: t < end, step,
          (s, active, shared, predictions, loss_sum),
          shape_invariants=(tf.TensorShape([]), per_client_shapes,
                            shared_shapes, tf.TensorShape(None),
                            tf.TensorShape([])))
      step_major = lambda v: tf.transpose(
          v, [1, 0] + list(range(2, len(v.shape))))
      flat = lambda v: tf.reshape(v, tf.concat([[-1], tf.shape(v)[2:]], 0))
      stacked = predictions.stack()
      stacked.set_shape([None, None] + list(output_shape))
      metric_state = metrics.update(
          metric_state, flat(step_major(y[:live, start:end])), flat(stacked),
          flat(step_major(_real_rows(rows[:live, start:end], batch_size))))
      per_client = tf.nest.map_structure(
          lambda a, v: tf.concat([a, v[live:]], axis=0), active, per_client)
      return s, per_client, shared, metric_state, loss_sum

    max_steps = tf.reduce_max(tf.concat([steps, [0]], axis=0))
    _, per_client, shared, metric_state, loss_sum = tf.while_loop(
        lambda s, *_: s < max_steps, phase,
        (tf.constant(0), per_client, shared, metric_state, tf.constant(0.0)),
        shape_invariants=(tf.TensorShape([]), per_client_shapes, shared_shapes,
                          metric_shapes, tf.TensorShape([])))
    examples = tf.reduce_sum(tf.cast(rows, tf.float32), axis=1)
    out = client_update.update(per_client, shared, global_weights, examples)
    outputs = list(out.update) + list(out.client_state or []) + list(
        out.report or [])
    return outputs, metric_state, loss_sum

  def train(global_weights, server_state, cohort, state_specs, report_specs):
    """Returns the updates, new client states and reports in index order."""
    stateful = state_specs is not None
    x, y, rows, steps, rank, order = _stack_longest_first(cohort)
    num_clients = tf.shape(x)[0]
    lone = longest_trains_alone(steps, clients_per_group)
    num_groups = group_count(num_clients, clients_per_group, lone)
    client_state = ([_in_order(t, cohort['index'], order)
                     for t in cohort['client_state']] if stateful else None)
    # Per client: its update, then its new state, then its report.
    output_specs = (list(global_weights) + list(state_specs or [])
                    + list(report_specs))

    def group(g, arrays, dealt, metric_state, loss_sum):
      members = group_members(g, num_clients, num_groups, lone)
      outputs, metric_state, group_loss = train_group(
          global_weights, server_state, tf.gather(x, members),
          tf.gather(y, members), tf.gather(rows, members),
          tf.gather(steps, members),
          [tf.gather(t, members) for t in client_state] if stateful else None,
          metric_state)
      arrays = [a.write(g, o) for a, o in zip(arrays, outputs)]
      return (g + 1, arrays, dealt.write(g, members), metric_state,
              loss_sum + group_loss)

    arrays = [tf.TensorArray(w.dtype, size=num_groups, infer_shape=False,
                             element_shape=[None] + w.shape.as_list())
              for w in output_specs]
    dealt = tf.TensorArray(tf.int32, size=num_groups, infer_shape=False,
                           element_shape=[None])
    _, arrays, dealt, metric_state, loss_sum = tf.while_loop(
        lambda g, *_: g < num_groups, group,
        (tf.constant(0), arrays, dealt, metrics.initial_state(),
         tf.constant(0.0)))
    # Row r of the outputs holds position dealt[r]; invert that.
    row_of_position = tf.math.invert_permutation(dealt.concat())
    outputs = [tf.gather(a.concat(), tf.gather(row_of_position, rank))
               for a in arrays]   # back to index order
    n, m = len(global_weights), len(state_specs or [])
    deltas, new_states, client_reports = (outputs[:n], outputs[n:n + m],
                                          outputs[n + m:])
    finite = tf.reduce_all(tf.stack(
        [tf.reduce_all(tf.math.is_finite(tf.reshape(d, [num_clients, -1])),
                       axis=1) for d in deltas]), axis=0)
    finite_f = tf.cast(finite, tf.float32)
    # As TFF's client work: a non-finite update is zeroed and weighs 0.
    deltas = [tf.where(tf.reshape(finite, [-1] + [1] * (len(d.shape) - 1)),
                       d, tf.zeros_like(d)) for d in deltas]
    examples = tf.gather(tf.reduce_sum(tf.cast(rows, tf.float32), axis=1),
                         rank)
    client_weights = finite_f if uniform_weights else examples * finite_f
    num_examples = tf.reduce_sum(examples)
    # The metrics TFF's `from_keras_model` reports, in its order.
    train_metrics = metrics.finalize(metric_state)
    train_metrics['loss'] = tf.math.divide_no_nan(loss_sum, num_examples)
    train_metrics['num_examples'] = tf.cast(num_examples, tf.int64)
    train_metrics['num_batches'] = tf.cast(tf.reduce_sum(steps), tf.int64)
    mean_reports = [tf.reduce_mean(r, axis=0) for r in client_reports]
    return deltas, client_weights, train_metrics, new_states, mean_reports

  return train


def _server_mean(stacked_type, aggregator):
  """The plain mean of the stacked updates, and the aggregator's measurements.

  `aggregator` (a plain mean's process) keeps no state and measures nothing:
  its state passes through and its measurements are the same empty structure.
  """
  state_member = aggregator.initialize.type_signature.result.member
  measurements_member = aggregator.next.type_signature.result.measurements.member
  for part, member in (('state', state_member),
                       ('measurements', measurements_member)):
    if tf.nest.flatten(tff.types.type_to_tf_tensor_specs(member)):
      raise ValueError(f'mean_at_server needs a plain mean; this aggregator\'s '
                       f'{part} holds tensors: {member}.')

  @tff.tensorflow.computation(stacked_type)
  def server_mean(stacked):
    deltas, weights = stacked[0], stacked[1]
    total = tf.reduce_sum(weights)
    return [tf.math.divide_no_nan(tf.tensordot(weights, d, axes=1), total)
            for d in deltas]

  # Measurements hold no tensors, so their spec structure is their value.
  return server_mean, tff.types.type_to_tf_tensor_specs(measurements_member)


def build_cohort_process(
    task,
    client_update: client_update_lib.ClientUpdate,
    *,
    server_optimizer: tff.learning.optimizers.Optimizer,
    batch_size: int,
    uniform_weighting: bool = False,
    model_aggregator: tff.aggregators.WeightedAggregationFactory = None,
    mean_at_server: bool = False,
    mixed_precision: bool = False,
    clients_per_group: Optional[int] = None,
) -> indexed_process.IndexedClientsProcess:
  """A learning process running `client_update` for all clients at once.

  Args:
    task: the task (`tff_lstm.tasks.task.Task`): its model, loss and metrics.
    client_update: the algorithm's client side.
    server_optimizer: TFF optimizer applied to the aggregated update.
    batch_size: the clients' batch size (short batches are padded to it).
    uniform_weighting: weigh every client 1 instead of its example count.
    model_aggregator: weighted TFF aggregation factory (default: mean).
    mean_at_server: `model_aggregator` is the plain mean
      (`aggregation.plain_mean`): take it over the stacked updates where
      they are computed, instead of broadcasting the stack so that each
      client holds its own update for the aggregator. Same result, same state
      and measurements; the aggregator must keep no state.
    mixed_precision: compute in bfloat16 (float32 weights, updates and loss).
    clients_per_group: clients batched together at most (None: as many as
      keep their recurrent weights within `GROUP_KERNEL_BYTES`); a cohort of
      at least `MIN_GROUPS` clients is never one group.

  Returns:
    An `indexed_process.IndexedClientsProcess` whose client data are
    `indexed_client_data(datasets[, client_states])`.

  Raises:
    ValueError: the task's model, loss or metrics cannot be batched, naming
      the part.
  """
  if not isinstance(batch_size, int) or batch_size < 1:
    raise ValueError('The vectorized cohort needs the clients\' batch size '
                     f'(an integer >= 1), got {batch_size!r}.')
  model_fn = task.model_fn
  population = len(task.datasets.train_data.client_ids)
  keras_model = task.keras_model_fn()
  weight_specs = [tf.TensorSpec(v.shape, v.dtype)
                  for v in keras_model.trainable_variables]
  state_specs = client_update.client_state(weight_specs)
  stateful = state_specs is not None
  forward = cohort_model.build_forward(
      keras_model, tf.bfloat16 if mixed_precision else tf.float32)
  loss_fn = cohort_loss.per_client_loss(task.loss_fn())
  task_metrics = cohort_loss.CohortMetrics(task.metrics_fns)
  if model_aggregator is None:
    model_aggregator = tff.aggregators.MeanFactory()
  secagg = (model_aggregator
            if isinstance(model_aggregator, masked_lib.MaskedSecureMean)
            else None)
  if secagg is not None and stateful:
    raise ValueError('--secure_aggregation=masked gives each client its mask '
                     'seeds as input; it does not yet combine with an '
                     'algorithm whose clients keep state.')

  @tff.tensorflow.computation
  def initial_weights():
    return tff.learning.models.ModelWeights.from_model(model_fn())

  weights_type = initial_weights.type_signature.result
  trainable_type = weights_type.trainable
  element_spec = model_fn().input_spec
  dataset_type = tff.SequenceType(tff.types.tensorflow_to_type(element_spec))

  if stateful:
    state_type = tff.types.tensorflow_to_type(tuple(state_specs))
    client_input_type = tff.StructType([np.int32, dataset_type, state_type])
  elif secagg is not None:  # (index, data, (mask seeds, signs))
    client_input_type = tff.StructType([np.int32, dataset_type,
                                        secagg.material_type()])
  else:
    client_input_type = tff.StructType([np.int32, dataset_type])

  @tff.tensorflow.computation(client_input_type)
  def to_tensors(client_input):
    return _client_tensors(client_input[0], client_input[1], batch_size,
                           client_input[2] if stateful else None)

  @tff.tensorflow.computation
  def initial_server_state():
    return client_update.server_state(
        [tf.zeros(spec.shape, spec.dtype) for spec in weight_specs])

  server_state_type = initial_server_state.type_signature.result
  report_specs = tf.nest.flatten(
      tff.types.type_to_tf_tensor_specs(server_state_type))

  if clients_per_group is None:
    clients_per_group = default_clients_per_group(keras_model)
  if clients_per_group < 1:
    raise ValueError('clients_per_group must be >= 1, got '
                     f'{clients_per_group}.')
  train_fn = _build_cohort_training(forward, client_update, loss_fn,
                                    task_metrics, uniform_weighting,
                                    clients_per_group)

  cohort_type = tff.types.tensorflow_to_type(tf.nest.map_structure(
      lambda t: tf.TensorSpec([None] + list(t.shape[1:]), t.dtype),
      tff.types.type_to_tf_tensor_specs(to_tensors.type_signature.result)))

  @tff.tensorflow.computation(trainable_type, server_state_type, cohort_type)
  def train_cohort(global_trainable, server_state, cohort):
    server_state = tf.nest.map_structure(tf.convert_to_tensor, server_state)
    (deltas, weights, train_metrics, new_states,
     mean_reports) = train_fn(list(global_trainable), server_state, cohort,
                              state_specs, report_specs)
    num_clients = tf.shape(weights)[0]
    client_states = ((tf.range(num_clients), tuple(new_states))
                     if stateful else ())
    if report_specs:
      server_state = client_update.next_server_state(
          server_state, mean_reports, num_clients, population)
    return deltas, weights, train_metrics, server_state, client_states

  stacked_type = train_cohort.type_signature.result

  @tff.tensorflow.computation(stacked_type)
  def updates_only(stacked):
    return stacked[0], stacked[1]

  @tff.tensorflow.computation(updates_only.type_signature.result, np.int32)
  def client_slice(updates, index):
    deltas, weights = updates
    return [d[index] for d in deltas], weights[index]

  @tff.tensorflow.computation(client_input_type)
  def client_key(client_input):
    return tf.reshape(client_input[0], [1])

  @tff.tensorflow.computation(updates_only.type_signature.result)
  def largest_index(updates):
    return tf.shape(updates[1])[0] - 1

  @tff.tensorflow.computation(
      tff.SequenceType(client_slice.type_signature.result))
  def only_element(selected):
    return selected.get_single_element()

  delta_type = client_slice.type_signature.result[0]
  if secagg is not None:
    aggregator = _MaskedAggregation(secagg, delta_type, client_input_type)
  else:
    aggregator = model_aggregator.create(delta_type,
                                         tff.TensorType(np.float32))
  if mean_at_server and secagg is None:
    server_mean, mean_measurements = _server_mean(stacked_type, aggregator)
  finalizer = tff.learning.templates.build_apply_optimizer_finalizer(
      server_optimizer, weights_type)

  @tff.federated_computation
  def initialize():
    return tff.federated_zip(tff.learning.templates.LearningAlgorithmState(
        global_model_weights=tff.federated_eval(initial_weights, tff.SERVER),
        distributor=tff.federated_value((), tff.SERVER),
        client_work=tff.federated_eval(initial_server_state, tff.SERVER),
        aggregator=aggregator.initialize(),
        finalizer=finalizer.initialize()))

  state_type = initialize.type_signature.result
  @tff.federated_computation(state_type,
                             tff.FederatedType(client_input_type, tff.CLIENTS))
  def next_fn(state, clients):
    tensors = tff.federated_map(to_tensors, clients)
    cohort = federated_concat.federated_concat(tensors)
    stacked = tff.federated_map(
        train_cohort, (state.global_model_weights.trainable, state.client_work,
                       cohort))
    if mean_at_server:
      aggregated = tff.templates.MeasuredProcessOutput(
          state=state.aggregator,
          result=tff.federated_map(server_mean, stacked),
          measurements=tff.federated_value(mean_measurements, tff.SERVER))
    else:
      # Each client is sent its own update (not the new client states, and
      # not the whole stack: a broadcast would copy it to every client).
      updates = tff.federated_map(updates_only, stacked)
      own = tff.federated_map(only_element, tff.federated_select(
          tff.federated_map(client_key, clients),
          tff.federated_map(largest_index, updates), updates, client_slice))
      if secagg is not None:
        aggregated = aggregator.next(state.aggregator, own[0], own[1], clients)
      else:
        aggregated = aggregator.next(state.aggregator, own[0], own[1])
    finalized = finalizer.next(state.finalizer, state.global_model_weights,
                               aggregated.result)
    new_state = tff.federated_zip(tff.learning.templates.LearningAlgorithmState(
        global_model_weights=finalized.result,
        distributor=state.distributor,
        client_work=stacked[3],
        aggregator=aggregated.state,
        finalizer=finalized.state))
    client_work_metrics = collections.OrderedDict(train=stacked[2])
    if stateful:
      client_work_metrics[indexed_process.CLIENT_STATES_KEY] = stacked[4]
    metrics = tff.federated_zip(collections.OrderedDict(
        distributor=tff.federated_value((), tff.SERVER),
        client_work=tff.federated_zip(client_work_metrics),
        aggregator=aggregated.measurements,
        finalizer=finalized.measurements))
    return tff.learning.templates.LearningProcessOutput(new_state, metrics)

  return indexed_process.IndexedClientsProcess.over_algorithm_state(
      initialize, next_fn, weights_type, client_state_specs=state_specs,
      secagg=secagg)


class _MaskedAggregation:
  """Masked SecAgg in the cohort's round, in an aggregation process's shape.

  Each client masks its own update with the seeds in its input; the server
  is handed only the sum of the masked vectors (and its unmasking rows, in
  its state).
  """

  def __init__(self, settings, delta_type, client_input_type):
    self._client_mask, self._server_unmask, self._initial = (
        masked_lib.build_round_computations(settings, delta_type))
    self._ddp = settings.distributed_dp is not None

    @tff.tensorflow.computation(client_input_type)
    def material(client_input):
      return client_input[2]

    @tff.tensorflow.computation(client_input_type)
    def position(client_input):
      return client_input[0]

    self._material, self._position = material, position
    if self._ddp:
      @tff.tensorflow.computation(self._initial.type_signature.result)
      def rotation_seed(state):
        return state['rotation_seed']

      self._rotation_seed = rotation_seed

  def initialize(self):
    return tff.federated_eval(self._initial, tff.SERVER)

  def next(self, state, update, weight, clients):
    material = tff.federated_map(self._material, clients)
    if self._ddp:
      # Distributed DP: each client counts once, and the round's rotation
      # seed is public (TFF's rotation broadcasts its seed too).
      seed = tff.federated_broadcast(
          tff.federated_map(self._rotation_seed, state))
      masked = tff.federated_map(
          self._client_mask,
          (update, material, tff.federated_map(self._position, clients),
           seed))
    else:
      masked = tff.federated_map(self._client_mask,
                                 (update, weight, material))
    summed = tff.federated_sum(masked)
    mean, measurements = tff.federated_map(self._server_unmask,
                                           (summed, state))
    # The rows served this round only; the next round brings its own.
    return tff.templates.MeasuredProcessOutput(
        self.initialize(), mean, measurements)
