"""Quantizing an update to TFF's secure-sum ring, masking it, and unmasking
the sum: the TensorFlow half of masked secure aggregation.

Clients clip and quantize with TFF's own secure-sum quantization (the
client/server shifts of `tff.aggregators.SecureSumFactory` and
`secure_quantized_sum`: values clipped to [lower, upper] and mapped to
integers in [0, 2**32 - 1]). The ring is that of `federated_secure_sum_bitwidth`
for 32 bits: integers modulo 2**(32 + ceil(log2 n)), wide enough to hold the
sum of n such values exactly. Masks are uniform in the ring, expanded from
16-byte seeds by TF's stateless (Philox) generator, so the same seed gives
the same mask to a client and, after reconstruction, to the server.

Used inside the TFF round (vectorized_cohort) and eagerly by tests and the
benchmark, so both run the same code.
"""

import math

import tensorflow as tf
from tensorflow_federated.python.aggregators import primitives

QUANTIZATION_BITS = 32  # TFF's secure_quantized_sum resolution
# Bound of the two trailing coordinates, the client's weight and its count of
# clipped coordinates (both summed under the same masks as the update).
COUNT_BOUND = float(2**24)


def ring_bits(max_clients: int) -> int:
  """log2 of the modulus: 32 bits per value plus room for the sum of n."""
  return QUANTIZATION_BITS + math.ceil(math.log2(max(max_clients, 2)))


def _shift(value, lower, upper):
  return primitives._client_tensor_shift_for_secure_sum(  # pylint: disable=protected-access
      value, tf.constant(lower, value.dtype), tf.constant(upper, value.dtype))


def quantize(update, weight, bound: float):
  """[sum of sizes + 2] int64: weight * update clipped to [-bound, bound],
  then the weight and the number of clipped coordinates, in [0, 2**32 - 1]."""
  flat = tf.concat([tf.reshape(tf.cast(u, tf.float32), [-1]) for u in update],
                   axis=0)
  weighted = flat * tf.cast(weight, tf.float32)
  clipped = tf.reduce_sum(tf.cast(tf.abs(weighted) > bound, tf.float32))
  extras = tf.stack([tf.cast(weight, tf.float32), clipped])
  return tf.concat([_shift(weighted, -bound, bound),
                    _shift(extras, 0.0, COUNT_BOUND)], axis=0)


def mask_sum(seeds, signs, size: int, bits: int):
  """sum_r signs[r] * PRG(seeds[r]) mod 2**bits, over rows with signs != 0."""
  modulus = tf.constant(2**bits, tf.int64)
  seeds = tf.convert_to_tensor(seeds, tf.int64)
  signs = tf.convert_to_tensor(signs, tf.int64)
  active = tf.reshape(tf.where(tf.not_equal(signs, 0)), [-1])

  def add(r, total):
    row = active[r]
    mask = tf.random.stateless_uniform([size], seed=seeds[row], minval=0,
                                       maxval=modulus, dtype=tf.int64)
    return r + 1, tf.math.floormod(total + signs[row] * mask, modulus)

  _, total = tf.while_loop(lambda r, _: r < tf.size(active), add,
                           (tf.constant(0), tf.zeros([size], tf.int64)))
  return total


def mask(quantized, seeds, signs, bits: int):
  """A client's masked input: its quantized vector plus its masks, mod 2**bits."""
  size = quantized.shape[0]
  return tf.math.floormod(quantized + mask_sum(seeds, signs, size, bits),
                          tf.constant(2**bits, tf.int64))


def unmask(summed, seeds, signs, bits: int):
  """The sum of the survivors' quantized vectors, from the sum of their masked
  ones and the server's unmasking rows."""
  modulus = tf.constant(2**bits, tf.int64)
  summed = tf.math.floormod(summed, modulus)
  size = summed.shape[0]
  return tf.math.floormod(summed + mask_sum(seeds, signs, size, bits), modulus)


def dequantize(total, num_summands, shapes, bound: float):
  """(update sum as tensors of `shapes`, weight sum, clipped count) from the
  unmasked sum of `num_summands` quantized vectors (TFF's server shift)."""
  n = tf.cast(num_summands, tf.int32)
  sizes = [math.prod(s) for s in shapes]
  values = primitives._server_tensor_shift_for_secure_sum(  # pylint: disable=protected-access
      n, total[:sum(sizes)], tf.constant(-bound, tf.float32),
      tf.constant(bound, tf.float32), tf.float32)
  extras = primitives._server_tensor_shift_for_secure_sum(  # pylint: disable=protected-access
      n, total[sum(sizes):], tf.constant(0.0, tf.float32),
      tf.constant(COUNT_BOUND, tf.float32), tf.float32)
  parts = tf.split(values, sizes)
  return ([tf.reshape(p, s) for p, s in zip(parts, shapes)], extras[0],
          extras[1])
