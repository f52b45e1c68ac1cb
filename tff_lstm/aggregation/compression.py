"""Compressed client-to-server updates: uniform quantization, optional rotation.

Each large tensor of a client's update is flattened, optionally rotated by a
random Hadamard transform (spreads the mass evenly, so fewer levels are wasted
on outliers), quantized to `bits` bits between its min and max with stochastic
rounding (unbiased), and bit-packed (Suresh et al. 2017) - TFF's
`EncodedSumFactory` with tensor_encoding's encoders, the mechanism of
`tff.learning.compression_aggregator` with the bit-width as a choice.

The factory reports what the clients send, measured on the encoded tensors:
`client_to_server_bytes` (all clients this round), `uncompressed_bytes` (the
same updates as plain tensors) and their `compression_ratio`. tensor_encoding
packs the levels into 28 of every int32's 32 bits (so that varint serialization
stays 4 bytes): the ratio is about 28 / bits, less on tensors left unquantized.
TFF's simulation also ships encoder parameters back through the aggregate; those
are an artifact of its implementation and not counted.
"""

import collections
import collections.abc

import tensorflow as tf
import tensorflow_federated as tff
from tensorflow_federated.python.core.impl.types import type_conversions
from tensorflow_model_optimization.python.core.internal import tensor_encoding as te

BYTES_METRICS = ('client_to_server_bytes', 'uncompressed_bytes',
                 'compression_ratio')


def build_encoder_fn(bits: int, threshold: int, hadamard: bool):
  """tf.TensorSpec -> GatherEncoder quantizing tensors above `threshold` size.

  Small tensors (biases, norms) are sent unchanged, as in TFF's
  `EncodedSumFactory.quantize_above_threshold`: they cost little and are
  sensitive to error.
  """

  def encoder_fn(spec):
    if spec.shape.num_elements() > threshold:
      encoder = (te.encoders.hadamard_quantization(bits) if hadamard
                 else te.encoders.uniform_quantization(bits))
    else:
      encoder = te.encoders.identity()
    return te.encoders.as_gather_encoder(encoder, spec)

  return encoder_fn


def _bytes_of(tensors) -> tf.Tensor:
  sizes = [tf.size(t, out_type=tf.int64) * t.dtype.size
           for t in tf.nest.flatten(tensors)]
  return tf.add_n(sizes + [tf.constant(0, tf.int64)])


def _bytes_measurement(encoder_fn):
  """client_measurement_fn: bytes of the encoded and of the plain updates."""

  def measure(value):
    value_type = value.type_signature.member
    specs = type_conversions.type_to_tf_tensor_specs(value_type)
    encoders = tf.nest.map_structure(encoder_fn, specs)

    @tff.tensorflow.computation(value_type)
    def client_bytes(x):
      encoded = []
      for encoder, tensor in zip(tf.nest.flatten(encoders), tf.nest.flatten(x)):
        params, _, _ = encoder.get_params(encoder.initial_state())
        encoded.append(encoder.encode(tensor, params)[0])
      return collections.OrderedDict(client_to_server_bytes=_bytes_of(encoded),
                                     uncompressed_bytes=_bytes_of(x))

    @tff.tensorflow.computation
    def with_ratio(total):
      total['compression_ratio'] = tf.cast(
          total['uncompressed_bytes'], tf.float32) / tf.cast(
              tf.maximum(total['client_to_server_bytes'], 1), tf.float32)
      return total

    totals = tff.federated_sum(tff.federated_map(client_bytes, value))
    return tff.federated_map(with_ratio, totals)

  return measure


def compressed_sum(bits: int, *, threshold: int = 20000,
                   hadamard: bool = False
                   ) -> tff.aggregators.UnweightedAggregationFactory:
  """Sum of quantized client tensors, reporting `BYTES_METRICS`."""
  encoder_fn = build_encoder_fn(bits, threshold, hadamard)
  return tff.aggregators.add_measurements(
      tff.aggregators.EncodedSumFactory(encoder_fn),
      client_measurement_fn=_bytes_measurement(encoder_fn))


def compressed_mean(
    bits: int, *, threshold: int = 20000, hadamard: bool = False,
    weighted: bool = True) -> tff.aggregators.AggregationFactory:
  """Weighted or uniform mean whose client-to-server sum is compressed."""
  value_sum = compressed_sum(bits, threshold=threshold, hadamard=hadamard)
  if weighted:
    return tff.aggregators.MeanFactory(value_sum_factory=value_sum)
  return tff.aggregators.UnweightedMeanFactory(value_sum_factory=value_sum)


def find_bytes_metrics(aggregator_metrics) -> dict[str, float]:
  """`BYTES_METRICS` wherever they sit in the (nested) aggregator measurements.

  Their depth depends on the wrappers (robust zeroing/clipping, mean).
  """
  found = {}
  if isinstance(aggregator_metrics, collections.abc.Mapping):
    for key, value in aggregator_metrics.items():
      if key in BYTES_METRICS:
        found[key] = value
      else:
        found.update(find_bytes_metrics(value))
  return found
