"""TFF's client-by-client path for any `client_update.ClientUpdate`.

The same rule object that the vectorized cohort runs with the round's clients
stacked runs here one client at a time (a stack of one), inside a
`tff.learning.templates.ClientWorkProcess` that trains the task's own TFF
model on the client's dataset. An algorithm written as a rule therefore has
both paths without a second implementation, and a test comparing them checks
the batched backend, not two copies of the rule.
"""

import collections
from collections.abc import Callable

import numpy as np
import tensorflow as tf
import tensorflow_federated as tff

from tff_lstm.runtime import federated_concat
from tff_lstm.algorithms import client_update as client_update_lib
from tff_lstm.algorithms import indexed_process
from tff_lstm.algorithms import optimizers


def _lists_as_tuples(nest):
  """tf.data reads a Python list as one tensor to stack; a tuple is a nest."""
  if isinstance(nest, (list, tuple)):
    return tuple(_lists_as_tuples(x) for x in nest)
  if isinstance(nest, dict):
    return type(nest)((k, _lists_as_tuples(v)) for k, v in nest.items())
  return nest


def _stack_one(tensors):
  return [tf.convert_to_tensor(t)[tf.newaxis] for t in tensors]


def _unstack_one(tensors):
  return [t[0] for t in tensors]


def build_client_work(
    model_fn: Callable[[], tff.learning.models.VariableModel],
    client_update: client_update_lib.ClientUpdate,
    *,
    uniform_weighting: bool,
    population: int,
) -> tff.templates.MeasuredProcess:
  """A ClientWorkProcess: each client runs `client_update` alone.

  Reports the task model's metrics (loss, the task's Keras metrics,
  num_examples, num_batches) summed over clients, as TFF's own client works
  do, and zeroes a non-finite update and its weight as they do. Its state is
  the rule's server state. A stateful rule's clients take (position, dataset,
  client state) and their new states come back in the measurements, under
  `indexed_process.CLIENT_STATES_KEY`, with their positions.
  """
  with tf.Graph().as_default():
    model = model_fn()
    metrics_aggregation_fn = tff.learning.metrics.sum_then_finalize(
        model.metric_finalizers())
    weight_specs = [tf.TensorSpec(v.shape, v.dtype)
                    for v in model.trainable_variables]
  weights_type = tff.learning.models.weights_type_from_model(model)
  data_type = tff.SequenceType(tff.types.tensorflow_to_type(model.input_spec))
  state_specs = client_update.client_state(weight_specs)
  stateful = state_specs is not None
  if stateful:
    client_input_type = tff.StructType([
        np.int32, data_type,
        tff.types.tensorflow_to_type(tuple(state_specs))])
  else:
    client_input_type = data_type

  @tff.tensorflow.computation
  def initial_server_state():
    return client_update.server_state(
        [tf.zeros(spec.shape, spec.dtype) for spec in weight_specs])

  server_state_type = initial_server_state.type_signature.result
  has_server_state = bool(tf.nest.flatten(
      tff.types.type_to_tf_tensor_specs(server_state_type)))

  @tff.tensorflow.computation(server_state_type, weights_type,
                              client_input_type)
  def train_one_client(server_state, initial_weights, client_input):
    if stateful:
      position, dataset, client_state = client_input
      client_state = _stack_one(client_state)
    else:
      dataset, client_state = client_input, None
    model = model_fn()
    global_weights = [tf.convert_to_tensor(w)
                      for w in initial_weights.trainable]
    tf.nest.map_structure(lambda v, w: v.assign(w),
                          model.non_trainable_variables,
                          list(initial_weights.non_trainable))
    per_client, shared = client_update.initialize(
        global_weights, 1, tf.nest.map_structure(tf.convert_to_tensor,
                                                 server_state), client_state)

    def reduce_fn(carry, batch):
      per_client, shared, num_examples = carry
      for v, w in zip(model.trainable_variables, per_client['weights']):
        v.assign(w[0])
      with tf.GradientTape() as tape:
        output = model.forward_pass(batch, training=True)
      gradients = tape.gradient(
          output.loss, model.trainable_variables,
          unconnected_gradients=tf.UnconnectedGradients.ZERO)
      rows = tf.cast(output.num_examples, tf.float32)
      per_client, shared = client_update.step(
          per_client, shared, _stack_one(gradients), rows[tf.newaxis],
          global_weights)
      return _lists_as_tuples((per_client, shared, num_examples + rows))

    per_client, shared, num_examples = dataset.reduce(
        _lists_as_tuples((per_client, shared, tf.constant(0.0))), reduce_fn)
    out = client_update.update(per_client, shared, global_weights,
                               num_examples[tf.newaxis])
    update = _unstack_one(out.update)
    finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(u))
                            for u in update])
    update = [tf.where(finite, u, tf.zeros_like(u)) for u in update]
    weight = tf.constant(1.0) if uniform_weighting else num_examples
    weight = tf.where(finite, weight, 0.0)
    # The metrics are read from variables the loop updated: after it.
    with tf.control_dependencies([num_examples]):
      model_metrics = model.report_local_unfinalized_metrics()
    report = tuple(_unstack_one(out.report)) if has_server_state else ()
    new_state = ((tf.reshape(position, [1]), tuple(out.client_state))
                 if stateful else ())
    return (tff.learning.templates.ClientResult(update=update,
                                                update_weight=weight),
            model_metrics, report, new_state)

  @tff.federated_computation
  def init_fn():
    return tff.federated_eval(initial_server_state, tff.SERVER)

  @tff.tensorflow.computation(client_input_type)
  def one(client_input):
    del client_input
    return np.int32(1)

  report_type = train_one_client.type_signature.result[2]

  @tff.tensorflow.computation(server_state_type, report_type, np.int32)
  def next_server_state(server_state, mean_report, participants):
    return client_update.next_server_state(
        tf.nest.map_structure(tf.convert_to_tensor, server_state),
        list(mean_report), participants, population)

  @tff.federated_computation(
      init_fn.type_signature.result,
      tff.FederatedType(weights_type, tff.CLIENTS),
      tff.FederatedType(client_input_type, tff.CLIENTS))
  def next_fn(state, weights, client_data):
    outputs = tff.federated_map(
        train_one_client, (tff.federated_broadcast(state), weights,
                           client_data))
    measurements = collections.OrderedDict(
        train=metrics_aggregation_fn(outputs[1]))
    if has_server_state:
      state = tff.federated_map(next_server_state, (
          state, tff.federated_mean(outputs[2]),
          tff.federated_sum(tff.federated_map(one, client_data))))
    if stateful:
      measurements[indexed_process.CLIENT_STATES_KEY] = (
          federated_concat.federated_concat(outputs[3]))
    return tff.templates.MeasuredProcessOutput(
        state, outputs[0], tff.federated_zip(measurements))

  if stateful:
    # TFF's ClientWorkProcess takes datasets only: a plain measured process.
    return tff.templates.MeasuredProcess(init_fn, next_fn)
  return tff.learning.templates.ClientWorkProcess(init_fn, next_fn)


def build_learning_process(
    model_fn: Callable[[], tff.learning.models.VariableModel],
    client_update: client_update_lib.ClientUpdate,
    *,
    server_optimizer: tff.learning.optimizers.Optimizer,
    uniform_weighting: bool,
    population: int,
    model_aggregator: tff.aggregators.WeightedAggregationFactory = None,
) -> tff.learning.templates.LearningProcess:
  """The rule's sequential process, composed from TFF's building blocks:
  broadcast distributor, this client work, the aggregator, and the server
  optimizer's finalizer. A stateful rule's process is an
  `indexed_process.IndexedClientsProcess`."""
  @tff.tensorflow.computation
  def initial_weights():
    return tff.learning.models.ModelWeights.from_model(model_fn())

  weights_type = initial_weights.type_signature.result
  client_work = build_client_work(model_fn, client_update,
                                  uniform_weighting=uniform_weighting,
                                  population=population)
  update_type = client_work.next.type_signature.result.result.member.update
  aggregator = (model_aggregator or tff.aggregators.MeanFactory()).create(
      update_type, tff.TensorType(np.float32))
  distributor = tff.learning.templates.build_broadcast_process(weights_type)
  finalizer = tff.learning.templates.build_apply_optimizer_finalizer(
      server_optimizer, weights_type)
  if not isinstance(client_work, tff.learning.templates.ClientWorkProcess):
    return _compose_stateful(initial_weights, distributor, client_work,
                             aggregator, finalizer,
                             client_update.client_state(_weight_specs(
                                 model_fn)))
  return tff.learning.templates.compose_learning_process(
      initial_weights, distributor, client_work, aggregator, finalizer)


def _weight_specs(model_fn):
  with tf.Graph().as_default():
    return [tf.TensorSpec(v.shape, v.dtype)
            for v in model_fn().trainable_variables]


def _compose_stateful(initial_weights, distributor, client_work, aggregator,
                      finalizer, state_specs):
  """What `compose_learning_process` builds, for clients that take
  (position, dataset, state): TFF's ClientWorkProcess accepts datasets only."""
  weights_type = initial_weights.type_signature.result

  @tff.federated_computation
  def initialize():
    return tff.federated_zip(tff.learning.templates.LearningAlgorithmState(
        global_model_weights=tff.federated_eval(initial_weights, tff.SERVER),
        distributor=distributor.initialize(),
        client_work=client_work.initialize(),
        aggregator=aggregator.initialize(),
        finalizer=finalizer.initialize()))

  state_type = initialize.type_signature.result
  client_data_type = client_work.next.type_signature.parameter[2]

  @tff.federated_computation(state_type, client_data_type)
  def next_fn(state, client_data):
    distributed = distributor.next(state.distributor,
                                   state.global_model_weights)
    work = client_work.next(state.client_work, distributed.result, client_data)
    aggregated = aggregator.next(state.aggregator, work.result.update,
                                 work.result.update_weight)
    finalized = finalizer.next(state.finalizer, state.global_model_weights,
                               aggregated.result)
    new_state = tff.federated_zip(tff.learning.templates.LearningAlgorithmState(
        global_model_weights=finalized.result,
        distributor=distributed.state,
        client_work=work.state,
        aggregator=aggregated.state,
        finalizer=finalized.state))
    metrics = tff.federated_zip(collections.OrderedDict(
        distributor=distributed.measurements,
        client_work=work.measurements,
        aggregator=aggregated.measurements,
        finalizer=finalized.measurements))
    return tff.learning.templates.LearningProcessOutput(new_state, metrics)

  return indexed_process.IndexedClientsProcess.over_algorithm_state(
      initialize, next_fn, weights_type, client_state_specs=state_specs)


def build_for_task(task, client_update: client_update_lib.ClientUpdate,
                   settings) -> tff.learning.templates.LearningProcess:
  """`build_learning_process` with a task and the shared `ProcessSettings`."""
  return build_learning_process(
      task.model_fn, client_update,
      server_optimizer=optimizers.build_optimizer(settings.server_optimizer),
      uniform_weighting=settings.client_weighting == 'uniform',
      model_aggregator=settings.weighted_model_aggregator(),
      population=len(task.datasets.train_data.client_ids))
