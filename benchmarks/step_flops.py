"""The arithmetic of one local step of the Shakespeare model, counted by hand.

A round's seconds say little about how close to the machine it runs; its
floating-point operations divided by its seconds, against the machine's
measured matmul rate (probes/cpu_ceiling.py), do. Only the matmuls are
counted (a multiply-add is 2 operations): the gate arithmetic is a few
percent of them and is what a framework should hide, not count.

Per LSTM layer of width U on inputs of width D, over the step's B x T rows:
forward, the input projection (D x 4U) and T recurrent products (U x 4U);
backward, T recurrent products with the transposed kernel, the two weight
gradients (Xᵀ·dZ and H_prevᵀ·dZ) and, above the first layer, the gradient
to the layer's input. The first layer needs no gradient to its input: the
embedding's gradient is a gather's, not a matmul's. The dense output layer
costs its forward product, its weight gradient and the gradient to its input.
"""


def lstm_layer_flops(rows: int, input_dim: int, units: int,
                     input_gradient: bool) -> int:
  """Forward + backward matmul FLOPs of one LSTM layer over `rows` rows."""
  gates = 4 * units
  products = (input_dim * gates      # input projection
              + units * gates        # recurrent products, forward
              + units * gates        # recurrent products, backward
              + input_dim * gates    # input-weight gradient
              + units * gates)       # recurrent-weight gradient
  if input_gradient:
    products += gates * input_dim
  return 2 * rows * products


def char_lm_step_flops(batch_size: int = 4, sequence_length: int = 80,
                       units: int = 256, num_layers: int = 2,
                       embedding_dim: int = 8, vocab_size: int = 90) -> int:
  """Matmul FLOPs of one client's forward+backward step of the char LM."""
  rows = batch_size * sequence_length
  total = 0
  width = embedding_dim
  for layer in range(num_layers):
    total += lstm_layer_flops(rows, width, units, input_gradient=layer > 0)
    width = units
  total += 2 * rows * 3 * units * vocab_size   # logits: fwd, dW, dX
  return total
