"""An LSTM whose backward pass computes weight gradients once per sequence.

Autodiff through Keras' recurrent loop adds a small rank-B outer product into
every weight gradient at every timestep (memory-bound on CPU). Here the
backward recurrence computes only the gate gradients dZ; the weight gradients
are then one matmul over all timesteps: dW = X^T dZ, dU = H_prev^T dZ. The
input projection X W + b is likewise one matmul before the recurrence.

Everything carries a leading "client" axis K, so the same code trains one model
(K = 1, the Keras layer below) or a whole cohort of per-client weights at once
(the vectorized cohort). Gate order and masking follow `tf.keras.layers.LSTM`
(i, f, c, o; a masked step carries h and c over and outputs the carried h), so the two
layers hold interchangeable weights and compute the same function.
"""

import tensorflow as tf

# Scale applied to z before one sigmoid over all four gates: the candidate
# gate uses tanh(x) = 2 * sigmoid(2x) - 1, so every step runs one sigmoid op.
_GATE_SCALE_PARTS = (1.0, 1.0, 2.0, 1.0)


def gate_scale(units: int, dtype) -> tf.Tensor:
  """[4u] factors applied to the pre-activations of gates i, f, c, o."""
  return tf.concat([tf.fill([units], tf.constant(s, dtype))
                    for s in _GATE_SCALE_PARTS], axis=0)


# The per-timestep recurrent products run as one matmul per column block of
# this width: TF 2.14's CPU matmul is much slower on 4 rows times a wide
# kernel. Measured (benchmarks/recurrent_matmul.py, one thread, 5 clients of
# 256 units, 80 steps): forward [4, 256] x [256, 1024] 23.36 ms whole, 11.26 ms
# in 128-column blocks; backward [4, 1024] x [1024, 256] 11.78 vs 7.34 ms.
# Each output column is the same dot product either way.
_COLUMN_BLOCK = 128


def column_blocks(matrix, width=_COLUMN_BLOCK):
  """`matrix` [..., n, m] cut into [..., n, <=width] blocks, once per call.

  Public so that benchmarks/recurrent_matmul.py can time other widths.
  """
  columns = matrix.shape[-1]
  sizes = [width] * (columns // width)
  if columns % width:
    sizes.append(columns % width)
  return tf.split(matrix, sizes, axis=-1) if len(sizes) > 1 else [matrix]


def blocked_matmul(a, blocks):
  """a @ concat(blocks, -1), one product per column block."""
  if len(blocks) == 1:
    return tf.linalg.matmul(a, blocks[0])
  return tf.concat([tf.linalg.matmul(a, b) for b in blocks], axis=-1)


def per_client_count(clients, one, many):
  """`one()` for a single client, else `many()`; chosen once per recurrence.

  For one client the recurrent product is [B, u] x [u, 4u], and the column
  blocks that pay for several clients cost more ops than they save: the whole
  product is faster there (benchmarks/probes/step_parts.py). That branch also
  runs its loop on tensors without the client axis, so its products are
  plain 2-D matmuls: with oneDNN, TF 2.14 runs a [4, 256] x [256, 1024]
  product in about half the time as a 2-D `MatMul` as it does as a
  `BatchMatMulV2` of one batch. A cohort's count of live clients is known
  only when it runs, so then both loops are built and a `tf.cond` picks one
  before the timesteps start.
  """
  static = tf.get_static_value(clients)
  if static is not None:
    return one() if static == 1 else many()
  return tf.cond(tf.equal(clients, 1), one, many)


def _forward(xw, keep, recurrent_kernel, scale, units, several_clients):
  """Runs the recurrence; returns outputs and what the backward pass needs.

  Args:
    xw: [T, K, B, 4u] input projections (bias included), time-major.
    keep: [T, K, B, 1] bool, True where the step is real.
    recurrent_kernel: [K, u, 4u].
    scale: [4u] gate scale.
    units: u.
    several_clients: only the batched loop is needed (see `lstm_sequence`).

  Returns:
    [T, K, B, u] outputs (the carried h), [T, K, B, 4u] sigmoids of the
    scaled gates, and [T, K, B, u] carried cell states.
  """
  steps = tf.shape(xw)[0]
  state_shape = tf.concat([tf.shape(xw)[1:3], [units]], axis=0)
  zeros = tf.zeros(state_shape, xw.dtype)
  # The gate scale goes into the inputs and the kernel once per call, not
  # into every step.
  xw = xw * scale
  kernel = recurrent_kernel * scale

  def one():
    outs = _forward_loop(xw[:, 0], keep[:, 0], [kernel[0]], steps, zeros[0])
    return tuple(tf.expand_dims(a, 1) for a in outs)

  def many():
    return _forward_loop(xw, keep, column_blocks(kernel), steps, zeros)

  if several_clients:
    return many()
  return per_client_count(
      xw.shape[1] if xw.shape[1] is not None else tf.shape(xw)[1], one, many)


def cell_step(z, h, c, keep):
  """One LSTM timestep from its scaled pre-activations `z` [..., 4u].

  Returns the carried h and c (the previous ones where `keep` is False)
  and the gates' sigmoids, which are all the reverse step needs of it.
  """
  s = tf.sigmoid(z)
  i, f, g2, o = tf.split(s, 4, axis=-1)
  c_new = f * c + i * (2.0 * g2 - 1.0)
  h_new = o * tf.tanh(c_new)
  return tf.where(keep, h_new, h), tf.where(keep, c_new, c), s


def _forward_loop(xw, keep, kernel_blocks, steps, zeros):
  """The timesteps, on [T, K, B, ...] tensors or a lone client's [T, B, ...].

  A step's cost at one client is mostly per op, not per flop (XLA, which
  fuses the elementwise ops, runs it in about half the time), so the body
  holds only what the recurrence needs: the previous h and c are the
  previous outputs, and the backward pass rebuilds the rest.
  """
  arrays = [tf.TensorArray(xw.dtype, size=steps) for _ in range(3)]

  def step(t, h, c, outs, sigmoids, cells):
    h, c, s = cell_step(xw[t] + blocked_matmul(h, kernel_blocks), h, c,
                        keep[t])
    return (t + 1, h, c, outs.write(t, h), sigmoids.write(t, s),
            cells.write(t, c))

  result = tf.while_loop(lambda t, *_: t < steps, step,
                         (tf.constant(0), zeros, zeros, *arrays))
  return tuple(a.stack() for a in result[3:])


def previous(x):
  """x[t - 1] at every t of a time-major tensor, zeros at t = 0."""
  return tf.concat([tf.zeros_like(x[:1]), x[:-1]], axis=0)


def reverse_factors(mask, sigmoids, cells):
  """What the reverse recurrence reads per timestep, for all timesteps.

  Everything in dZ that does not depend on the gradient flowing back
  through time is computed here, as a few large ops over [T, ...] tensors,
  so that each reverse step reads one slice. At a masked step dZ is zero
  and the gradients pass through, so the carried cell state stands in for
  the step's own there.

  Returns:
    The packed factors [T, ..., 6u + 2] and their sizes, for
    `reverse_cell_step`.
  """
  units = cells.shape[-1]
  i, f, g2, o = tf.split(sigmoids, 4, axis=-1)
  g = 2.0 * g2 - 1.0
  tanh_c = tf.tanh(cells)
  # d c_new / d h_new, per gate d z / d c_new (o's: d z / d h_new), masked.
  dc_from_dh = mask * o * (1.0 - tanh_c * tanh_c)
  dz_factors = mask * tf.concat([g * i * (1.0 - i),
                                 previous(cells) * f * (1.0 - f),
                                 i * (1.0 - g * g),
                                 tanh_c * o * (1.0 - o)], axis=-1)
  return (tf.concat([mask, 1.0 - mask, dc_from_dh, f, dz_factors], axis=-1),
          [1, 1, units, units, 4 * units])


def reverse_cell_step(factors, sizes, dh, dc, d_out):
  """One reverse timestep: the gate gradients dZ and what passes back.

  Args:
    factors, sizes: this timestep's slice of `reverse_factors`.
    dh, dc: the gradients reaching this step's carried h and c from later
      steps; d_out: the gradient of this step's output.

  Returns:
    dZ [..., 4u], the part of the next (earlier) step's dh that does not go
    through the recurrent product (add dZ U^T to it), and its dc.
  """
  m, not_m, dc_from_dh, f, dz_factors = tf.split(factors, sizes, axis=-1)
  dh_out = dh + d_out
  dc_new = m * dc + dc_from_dh * dh_out
  dz = tf.concat([dc_new, dc_new, dc_new, dh_out], axis=-1) * dz_factors
  return dz, not_m * dh_out, not_m * dc + f * dc_new


def _backward(d_out, mask, sigmoids, cells, recurrent_kernel, several_clients):
  """Gate gradients dZ [T, K, B, 4u] by the reverse recurrence."""
  factors, sizes = reverse_factors(mask, sigmoids, cells)
  steps = tf.shape(d_out)[0]
  kernel_t = tf.linalg.matrix_transpose(recurrent_kernel)

  def many():
    return _backward_loop(d_out, factors, sizes, column_blocks(kernel_t),
                          steps)

  if several_clients:
    return many()
  return per_client_count(
      d_out.shape[1] if d_out.shape[1] is not None else tf.shape(d_out)[1],
      lambda: tf.expand_dims(_backward_loop(
          d_out[:, 0], factors[:, 0], sizes, [kernel_t[0]], steps), 1),
      many)


def _backward_loop(d_out, factors, sizes, kernel_t_blocks, steps):
  """The reverse timesteps, with or without the client axis as forward."""

  def step(t, dh, dc, dzs):
    dz, dh, dc = reverse_cell_step(factors[t], sizes, dh, dc, d_out[t])
    return (t - 1, dh + blocked_matmul(dz, kernel_t_blocks), dc,
            dzs.write(t, dz))

  zeros = tf.zeros_like(d_out[0])
  result = tf.while_loop(lambda t, *_: t >= 0, step,
                         (steps - 1, zeros, zeros,
                          tf.TensorArray(d_out.dtype, size=steps)))
  return result[3].stack()


def _time_major(x):
  """[K, B, T, ...] -> [T, K, B, ...]."""
  rank = len(x.shape)
  return tf.transpose(x, [2, 0, 1] + list(range(3, rank)))


def _batch_major(x):
  """[T, K, B, ...] -> [K, B, T, ...]."""
  rank = len(x.shape)
  return tf.transpose(x, [1, 2, 0] + list(range(3, rank)))


def _lstm_op(several_clients):
  """The LSTM as a custom-gradient op, with or without the one-client loops
  (a custom gradient's arguments in graph mode must be tensors, so the
  choice is made here, once)."""

  @tf.custom_gradient
  def lstm(inputs, mask, kernel, recurrent_kernel, bias):
    return _lstm(inputs, mask, kernel, recurrent_kernel, bias,
                 several_clients)

  return lstm


def _lstm(inputs, mask, kernel, recurrent_kernel, bias, several_clients):
  """Outputs [K, B, T, u] of an LSTM over inputs [K, B, T, D], and their
  gradient function."""
  units = recurrent_kernel.shape[-2]
  scale = gate_scale(units, inputs.dtype)
  shape = tf.shape(inputs)
  flat_x = tf.reshape(inputs, [shape[0], -1, shape[3]])     # [K, B*T, D]
  xw = tf.linalg.matmul(flat_x, kernel) + bias[:, tf.newaxis, :]
  xw = tf.reshape(xw, tf.concat([shape[:3], [4 * units]], axis=0))
  mask_tm = _time_major(mask[..., tf.newaxis])
  outs, sigmoids, cells = _forward(_time_major(xw), mask_tm > 0.5,
                                   recurrent_kernel, scale, units,
                                   several_clients)

  def grad(d_outputs):
    dz = _backward(_time_major(d_outputs), mask_tm, sigmoids, cells,
                   recurrent_kernel, several_clients)
    dz = _batch_major(dz)                                    # [K, B, T, 4u]
    flat_dz = tf.reshape(dz, [shape[0], -1, 4 * units])      # [K, B*T, 4u]
    flat_h = tf.reshape(_batch_major(previous(outs)), [shape[0], -1, units])
    d_kernel = tf.linalg.matmul(flat_x, flat_dz, transpose_a=True)
    d_recurrent = tf.linalg.matmul(flat_h, flat_dz, transpose_a=True)
    d_bias = tf.reduce_sum(flat_dz, axis=1)
    d_inputs = tf.reshape(
        tf.linalg.matmul(flat_dz, kernel, transpose_b=True), shape)
    return d_inputs, tf.zeros_like(mask), d_kernel, d_recurrent, d_bias

  outputs = _batch_major(outs)
  # The loop loses the static time dimension; Keras shape inference needs it.
  outputs.set_shape(inputs.shape[:3].concatenate([units]))
  return outputs, grad


_LSTM = {several: _lstm_op(several) for several in (False, True)}


def lstm_sequence(inputs, kernel, recurrent_kernel, bias, mask=None, *,
                  several_clients=False):
  """Per-client LSTM outputs for every timestep.

  Args:
    inputs: [K, B, T, D] float.
    kernel: [K, D, 4u]; recurrent_kernel: [K, u, 4u]; bias: [K, 4u]
      (Keras layout, gate order i, f, c, o).
    mask: optional [K, B, T] bool; False steps carry the state over (and
      output it), as in Keras.
    several_clients: the caller has already ruled out a lone client (the
      other branch of its own `per_client_count`), so only the batched
      loops are built, not a one-client pair that could never run.

  Returns:
    [K, B, T, u] hidden states.
  """
  if mask is None:
    mask = tf.ones(tf.shape(inputs)[:3], inputs.dtype)
  else:
    mask = tf.cast(mask, inputs.dtype)
  return _LSTM[several_clients](inputs, mask, kernel, recurrent_kernel, bias)


class FusedLSTM(tf.keras.layers.Layer):
  """Drop-in for `tf.keras.layers.LSTM(units, return_sequences=...)`.

  Same weights (kernel, recurrent_kernel, bias; same shapes, order and
  initializers, forget-gate bias 1), same outputs, same gradients; faster
  training on CPU. Supports Keras masks.
  """

  def __init__(self, units: int, return_sequences: bool = False, **kwargs):
    super().__init__(**kwargs)
    self.units = units
    self.return_sequences = return_sequences
    self.supports_masking = True

  def build(self, input_shape):
    units, dim = self.units, int(input_shape[-1])
    self.kernel = self.add_weight(
        'kernel', shape=(dim, 4 * units),
        initializer=tf.keras.initializers.GlorotUniform())
    self.recurrent_kernel = self.add_weight(
        'recurrent_kernel', shape=(units, 4 * units),
        initializer=tf.keras.initializers.Orthogonal())

    def bias_init(shape, dtype=None):
      del shape
      return tf.concat([tf.zeros([units], dtype), tf.ones([units], dtype),
                        tf.zeros([2 * units], dtype)], axis=0)

    self.bias = self.add_weight('bias', shape=(4 * units,),
                                initializer=bias_init)
    super().build(input_shape)

  def call(self, inputs, mask=None):
    batch_mask = None if mask is None else mask[tf.newaxis]
    outputs = lstm_sequence(inputs[tf.newaxis], self.kernel[tf.newaxis],
                            self.recurrent_kernel[tf.newaxis],
                            self.bias[tf.newaxis], batch_mask)[0]
    # Masked steps output the carried state, so the last step is the last
    # real output, as in Keras.
    return outputs if self.return_sequences else outputs[:, -1]

  def compute_mask(self, inputs, mask=None):
    return mask if self.return_sequences else None

  def get_config(self):
    return {**super().get_config(), 'units': self.units,
            'return_sequences': self.return_sequences}

