"""Coordinate-wise trimmed mean of client updates (Yin et al. 2018).

For every coordinate, the server sorts the clients' values, drops the
`trim_fraction` largest and smallest, and averages the rest. Up to that
fraction of arbitrarily bad clients (a poisoned or broken update) cannot pull
any coordinate outside the range of the honest ones, which a plain mean, and
even norm clipping, does not guarantee. TFF ships no such aggregator.

Built from TFF pieces: an `UnweightedAggregationFactory` whose process gathers
the updates at the server (`federated_concat`) and reduces them there. It
needs every client's update in the clear, so it does not compose with secure
aggregation, and it is unweighted (like DP), so runs use uniform weighting.
"""

import collections
import math

import tensorflow as tf
import tensorflow_federated as tff

from tff_lstm.runtime import federated_concat


def trimmed_mean(stacked: tf.Tensor, trim_fraction: float) -> tf.Tensor:
  """Mean over axis 0 after dropping the extreme `trim_fraction` per side."""
  num = tf.shape(stacked)[0]
  trim = tf.cast(tf.floor(trim_fraction * tf.cast(num, tf.float32)), tf.int32)
  kept = tf.sort(stacked, axis=0)[trim:num - trim]
  return tf.reduce_mean(kept, axis=0)


class TrimmedMeanFactory(tff.aggregators.UnweightedAggregationFactory):
  """Aggregates client values by their coordinate-wise trimmed mean."""

  def __init__(self, trim_fraction: float):
    if not (isinstance(trim_fraction, (int, float))
            and 0 <= trim_fraction < 0.5 and not math.isnan(trim_fraction)):
      raise ValueError('trim_fraction must be in [0, 0.5) (the share of '
                       f'clients dropped at each end), got {trim_fraction}.')
    self._trim_fraction = float(trim_fraction)

  def create(self, value_type) -> tff.templates.AggregationProcess:
    specs = tff.types.type_to_tf_tensor_specs(value_type)

    @tff.tensorflow.computation(value_type)
    def as_rows(value):
      return tf.nest.map_structure(lambda t: t[tf.newaxis], value)

    @tff.tensorflow.computation(tf.nest.map_structure(
        lambda s: tf.TensorSpec([None] + s.shape.as_list(), s.dtype), specs))
    def reduce(stacked):
      return tf.nest.map_structure(
          lambda t: trimmed_mean(t, self._trim_fraction), stacked)

    @tff.federated_computation
    def initialize():
      return tff.federated_value((), tff.SERVER)

    @tff.federated_computation(initialize.type_signature.result,
                               tff.FederatedType(value_type, tff.CLIENTS))
    def next_fn(state, value):
      stacked = federated_concat.federated_concat(
          tff.federated_map(as_rows, value))
      result = tff.federated_map(reduce, stacked)
      measurements = tff.federated_value(
          collections.OrderedDict(trim_fraction=self._trim_fraction),
          tff.SERVER)
      return tff.templates.MeasuredProcessOutput(state, result, measurements)

    return tff.templates.AggregationProcess(initialize, next_fn)
