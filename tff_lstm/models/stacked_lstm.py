"""Two stacked LSTM layers whose recurrences run side by side for one client.

A lone client's LSTM step is a chain of small ops, each waiting on the one
before it, so one layer's recurrence keeps one core busy and leaves the
other idle; this is the tail of a real round, where the longest client
trains alone. Two stacked layers hold two such chains that need not wait
on each other: layer 2 at timestep t - 1 depends only on layer 1's output
at t - 1, not on layer 1 at t. Here one loop iteration runs layer 1 at t
and layer 2 at t - 1 (a wavefront), and the reverse pass runs layer 2 at t
beside layer 1 at t + 1, so the worker's two inter-op threads each have a
chain. Layer 2's input product then runs per step, fused with its
recurrent product into one matmul.

Layer 2's kernels are read at every step this way rather than once as one
large input product, which pays while they are small: at 256 units (2 MiB
of kernels) the two layers' forward and backward at one client took 0.76x
to 0.84x the time of the layer-by-layer loops, at 128 units 0.85x, and at
512 units (8 MiB) 1.29x (plain TF, one intra-op and two inter-op threads
as in the worker, AMD EPYC family 25 model 17; `lstm2_grad` against
`lstm2_stacked_grad` in benchmarks/probes/step_parts.py). Above
`WAVEFRONT_MAX_KERNEL_BYTES` one client runs layer by layer too.

Several clients already fill both cores with their batched products, and
there the wavefront's per-step input products cost more than they save,
so they run layer by layer (`fused_lstm.lstm_sequence` twice). Either way
the outputs and gradients are those of the two layers one after the other.
"""

import tensorflow as tf

from tff_lstm.models import fused_lstm


WAVEFRONT_MAX_KERNEL_BYTES = 2 * 2**20


def _wavefront_pays(units1, units2, dtype):
  """Whether layer 2's per-step kernels are small enough (see above)."""
  return (units1 + units2) * 4 * units2 * dtype.size <= \
      WAVEFRONT_MAX_KERNEL_BYTES


def _flat(x):
  """[T, B, n] -> [T * B, n]."""
  return tf.reshape(x, [-1, x.shape[-1]])


def _zeros(like, units):
  return tf.zeros(tf.concat([tf.shape(like)[1:2], [units]], 0), like.dtype)


@tf.custom_gradient
def _wavefront(inputs, mask, kernel1, recurrent1, bias1, kernel2, recurrent2,
               bias2):
  """Layer 2's outputs [B, T, u2] over one client's inputs [B, T, D]."""
  units1, units2 = recurrent1.shape[0], recurrent2.shape[0]
  scale1 = fused_lstm.gate_scale(units1, inputs.dtype)
  scale2 = fused_lstm.gate_scale(units2, inputs.dtype)
  x = tf.transpose(inputs, [1, 0, 2])                          # [T, B, D]
  m = tf.transpose(mask)[..., tf.newaxis]                      # [T, B, 1]
  keep = m > 0.5
  steps = tf.shape(x)[0]
  xw1 = tf.reshape(tf.linalg.matmul(_flat(x), kernel1) + bias1,
                   tf.concat([tf.shape(x)[:2], [4 * units1]], 0)) * scale1
  u1 = recurrent1 * scale1
  # Layer 2's input and recurrent products, one matmul per step.
  w2 = tf.concat([kernel2, recurrent2], axis=0) * scale2
  b2 = bias2 * scale2
  arrays = [tf.TensorArray(inputs.dtype, size=steps) for _ in range(6)]
  zeros1, zeros2 = _zeros(x, units1), _zeros(x, units2)

  def layer2(h1, h2, c2, t):
    return fused_lstm.cell_step(
        tf.linalg.matmul(tf.concat([h1, h2], -1), w2) + b2, h2, c2, keep[t])

  def write(arrays, t, h, c, s):
    return [arrays[0].write(t, h), arrays[1].write(t, s),
            arrays[2].write(t, c)]

  h1, c1, s1 = fused_lstm.cell_step(xw1[0], zeros1, zeros1, keep[0])
  first = write(arrays[:3], 0, h1, c1, s1)

  def step(t, h1, c1, h2, c2, arrays1, arrays2):
    n1 = fused_lstm.cell_step(xw1[t] + tf.linalg.matmul(h1, u1), h1, c1,
                              keep[t])
    n2 = layer2(h1, h2, c2, t - 1)
    return (t + 1, n1[0], n1[1], n2[0], n2[1], write(arrays1, t, *n1),
            write(arrays2, t - 1, *n2))

  _, h1, _, h2, c2, arrays1, arrays2 = tf.while_loop(
      lambda t, *_: t < steps, step,
      (tf.constant(1), h1, c1, zeros2, zeros2, first, arrays[3:]))
  arrays2 = write(arrays2, steps - 1, *layer2(h1, h2, c2, steps - 1))
  outs1, sigmoids1, cells1 = (a.stack() for a in arrays1)
  outs2, sigmoids2, cells2 = (a.stack() for a in arrays2)

  def grad(d_outputs):
    d_out = tf.transpose(d_outputs, [1, 0, 2])                 # [T, B, u2]
    factors1, sizes1 = fused_lstm.reverse_factors(m, sigmoids1, cells1)
    factors2, sizes2 = fused_lstm.reverse_factors(m, sigmoids2, cells2)
    u1_t = tf.transpose(recurrent1)
    w2_t = tf.transpose(tf.concat([kernel2, recurrent2], axis=0))
    dzs = [tf.TensorArray(inputs.dtype, size=steps) for _ in range(2)]

    def layer2(t, dh2, dc2):
      """dZ2 at t, the gradient of layer 1's output at t, dh2 and dc2."""
      dz, dh2, dc2 = fused_lstm.reverse_cell_step(factors2[t], sizes2, dh2,
                                                  dc2, d_out[t])
      d_h1, d_h2 = tf.split(tf.linalg.matmul(dz, w2_t), [units1, units2], -1)
      return dz, d_h1, dh2 + d_h2, dc2

    dz2, d_h1, dh2, dc2 = layer2(steps - 1, zeros2, zeros2)
    dzs2 = dzs[1].write(steps - 1, dz2)

    def step(t, dh1, dc1, d_h1, dh2, dc2, dzs1, dzs2):
      dz1, dh1, dc1 = fused_lstm.reverse_cell_step(factors1[t + 1], sizes1,
                                                   dh1, dc1, d_h1)
      dz2, d_h1, dh2, dc2 = layer2(t, dh2, dc2)
      return (t - 1, dh1 + tf.linalg.matmul(dz1, u1_t), dc1, d_h1, dh2, dc2,
              dzs1.write(t + 1, dz1), dzs2.write(t, dz2))

    _, dh1, dc1, d_h1, _, _, dzs1, dzs2 = tf.while_loop(
        lambda t, *_: t >= 0, step,
        (steps - 2, zeros1, zeros1, d_h1, dh2, dc2, dzs[0], dzs2))
    dz1 = fused_lstm.reverse_cell_step(factors1[0], sizes1, dh1, dc1, d_h1)[0]
    dz1 = _flat(dzs1.write(0, dz1).stack())                    # [T*B, 4u1]
    dz2 = _flat(dzs2.stack())                                  # [T*B, 4u2]
    flat_x, flat_h1 = _flat(x), _flat(outs1)
    d_inputs = tf.transpose(
        tf.reshape(tf.linalg.matmul(dz1, kernel1, transpose_b=True),
                   tf.shape(x)), [1, 0, 2])
    return (d_inputs, tf.zeros_like(mask),
            tf.linalg.matmul(flat_x, dz1, transpose_a=True),
            tf.linalg.matmul(_flat(fused_lstm.previous(outs1)), dz1,
                             transpose_a=True),
            tf.reduce_sum(dz1, axis=0),
            tf.linalg.matmul(flat_h1, dz2, transpose_a=True),
            tf.linalg.matmul(_flat(fused_lstm.previous(outs2)), dz2,
                             transpose_a=True),
            tf.reduce_sum(dz2, axis=0))

  outputs = tf.transpose(outs2, [1, 0, 2])
  outputs.set_shape(inputs.shape[:2].concatenate([units2]))
  return outputs, grad


def stacked_lstm_sequence(inputs, first, second, mask=None):
  """Per-client outputs of LSTM `second` over the outputs of LSTM `first`.

  Args:
    inputs: [K, B, T, D] float.
    first, second: each (kernel [K, D, 4u], recurrent_kernel [K, u, 4u],
      bias [K, 4u]) in Keras' layout; `second`'s input width is `first`'s u.
    mask: optional [K, B, T] bool, for both layers (as Keras passes a
      sequence's mask on through a layer that returns sequences).

  Returns:
    [K, B, T, u2]: what `fused_lstm.lstm_sequence` gives applied twice.
  """
  if mask is None:
    mask = tf.ones(tf.shape(inputs)[:3], inputs.dtype)
  else:
    mask = tf.cast(mask, inputs.dtype)

  def one():
    return _wavefront(inputs[0], mask[0], *(w[0] for w in first),
                      *(w[0] for w in second))[tf.newaxis]

  def layer_by_layer(several_clients):
    return fused_lstm.lstm_sequence(
        fused_lstm.lstm_sequence(inputs, *first, mask=mask,
                                 several_clients=several_clients),
        *second, mask=mask, several_clients=several_clients)

  units1, units2 = first[1].shape[-2], second[1].shape[-2]
  if not _wavefront_pays(units1, units2, inputs.dtype):
    return layer_by_layer(several_clients=False)
  clients = inputs.shape[0]
  return fused_lstm.per_client_count(
      clients if clients is not None else tf.shape(inputs)[0], one,
      lambda: layer_by_layer(several_clients=True))
