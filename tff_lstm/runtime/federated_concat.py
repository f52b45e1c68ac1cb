"""Gathers clients' tensors at the server, concatenated along their first axis.

TFF 0.87 has no `federated_collect`; this is the same thing built on
`tff.federated_aggregate`: the accumulator starts as empty tensors whose first
dimension is unknown, and accumulating or merging is concatenation. The order
of clients is the executor's, so values that need an owner should carry one
(the vectorized cohort sends each client's index along). Simulation only: it
moves every client's values to the server, which is exactly what a robust
aggregator or a batched cohort needs and what a deployment must not do with
private data.
"""

import tensorflow as tf
import tensorflow_federated as tff


def _empty(spec: tf.TensorSpec) -> tf.Tensor:
  """An empty tensor of `spec`'s type, its first dimension typed as unknown."""
  empty = tf.zeros([0] + spec.shape.as_list()[1:], spec.dtype)
  # A plain tf.zeros would be typed [0, ...]; TFF requires the accumulator's
  # type to hold every concatenation.
  return tf.compat.v1.placeholder_with_default(
      empty, [None] + spec.shape.as_list()[1:])


def _concat(a, b):
  return tf.nest.map_structure(lambda x, y: tf.concat([x, y], axis=0), a, b)


def federated_concat(client_values):
  """`{T}@CLIENTS` of structures of [n_i, ...] tensors -> `T@SERVER`, concatenated.

  Must be called inside a `tff.federated_computation`.
  """
  member = client_values.type_signature.member
  specs = tff.types.type_to_tf_tensor_specs(member)

  @tff.tensorflow.computation
  def zero():
    return tf.nest.map_structure(_empty, specs)

  accumulator = zero.type_signature.result

  @tff.tensorflow.computation(accumulator, member)
  def accumulate(a, b):
    return _concat(a, b)

  @tff.tensorflow.computation(accumulator, accumulator)
  def merge(a, b):
    return _concat(a, b)

  @tff.tensorflow.computation(accumulator)
  def report(a):
    return a

  return tff.federated_aggregate(client_values, zero(), accumulate, merge,
                                 report)
