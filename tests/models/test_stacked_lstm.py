"""Two stacked LSTMs run as a wavefront compute the two layers in turn."""

import numpy as np
import pytest
import tensorflow as tf

from tff_lstm.models import fused_lstm
from tff_lstm.models import stacked_lstm


def _args(clients, steps, units1, units2, masking, seed=0):
  batch, dim = 3, 5
  rng = np.random.default_rng(seed)
  def normal(*shape):
    return tf.constant(0.3 * rng.standard_normal(shape), tf.float32)
  weights = [normal(clients, batch, steps, dim),
             normal(clients, dim, 4 * units1), normal(clients, units1,
                                                      4 * units1),
             normal(clients, 4 * units1), normal(clients, units1, 4 * units2),
             normal(clients, units2, 4 * units2), normal(clients, 4 * units2)]
  lengths = rng.integers(1, steps + 1, (clients, batch))
  mask = {'none': None,
          'trailing': tf.sequence_mask(lengths, steps),
          # Masked steps inside sequences too.
          'holes': tf.logical_and(tf.sequence_mask(lengths, steps),
                                  rng.random((clients, batch, steps)) > 0.3),
          }[masking]
  return weights, mask


def _value_and_grads(fn, weights, mask):
  with tf.GradientTape() as tape:
    tape.watch(weights)
    y = fn(weights[0], weights[1:4], weights[4:7], mask)
    loss = tf.reduce_sum(y * tf.sin(3.0 * y))
  return [y] + tape.gradient(loss, weights)


def _layer_by_layer(x, first, second, mask):
  return fused_lstm.lstm_sequence(
      fused_lstm.lstm_sequence(x, *first, mask=mask), *second, mask=mask)


@pytest.mark.parametrize('masking', ['none', 'trailing', 'holes'])
# Layers of different widths, so that a swapped kernel cannot pass; 160
# units are wider than one column block.
@pytest.mark.parametrize('units1,units2', [(6, 10), (160, 96)])
@pytest.mark.parametrize('steps', [1, 9])
def test_one_client_gets_what_the_layers_give_in_turn(masking, units1, units2,
                                                      steps):
  weights, mask = _args(1, steps, units1, units2, masking)
  wavefront = _value_and_grads(stacked_lstm.stacked_lstm_sequence, weights,
                               mask)
  layered = _value_and_grads(_layer_by_layer, weights, mask)
  for a, b in zip(wavefront, layered):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=2e-5)
  if steps > 1:  # layer 2's recurrent kernel gets a gradient
    assert float(tf.reduce_max(tf.abs(wavefront[6]))) > 1e-3


def test_count_known_only_when_run():
  """In the cohort the live clients are counted when the step runs: one
  client takes the wavefront, two the layers in turn, through one graph."""
  spec_of = lambda a: tf.TensorSpec([None] + a.shape.as_list()[1:], a.dtype)
  for clients in (1, 2):
    weights, mask = _args(clients, 9, 6, 10, 'holes', seed=clients)
    graph = tf.function(
        lambda w, m: _value_and_grads(stacked_lstm.stacked_lstm_sequence, w,
                                      m),
        input_signature=[[spec_of(w) for w in weights], spec_of(mask)])
    for a, b in zip(graph(weights, mask),
                    _value_and_grads(_layer_by_layer, weights, mask)):
      np.testing.assert_allclose(a, b, rtol=1e-5, atol=2e-5)


def _loop_bodies(loop_body_ops, fn, clients, units, known_when_traced=True):
  weights, mask = _args(clients, 4, units, units, 'trailing')
  signature = None
  if not known_when_traced:
    signature = [[tf.TensorSpec([None] + w.shape.as_list()[1:], w.dtype)
                  for w in weights]]
  graph = tf.function(lambda w: _value_and_grads(fn, w, mask),
                      input_signature=signature)
  return loop_body_ops(graph, weights)


def test_one_client_runs_both_layers_in_one_loop_each_way(loop_body_ops):
  """One forward and one reverse loop for the two layers together, each
  body holding both layers' products; layer by layer there are four."""
  bodies = _loop_bodies(loop_body_ops, stacked_lstm.stacked_lstm_sequence, 1,
                        16)
  assert len(bodies) == 2
  for ops in bodies:
    assert ops.count('MatMul') == 2
  assert len(_loop_bodies(loop_body_ops, _layer_by_layer, 1, 16)) == 4


def test_count_known_when_run_builds_no_dead_loops(loop_body_ops):
  """With the count known only when run, the graph holds the wavefront's
  two loops and the layers' batched four, not also the layers' own
  one-client loops, which that branch never reaches."""
  bodies = _loop_bodies(loop_body_ops, stacked_lstm.stacked_lstm_sequence, 2,
                        16, known_when_traced=False)
  assert len(bodies) == 6
  assert sum('BatchMatMulV2' in ops for ops in bodies) == 4


def test_large_kernels_run_layer_by_layer(monkeypatch, loop_body_ops):
  """Above the kernel size where reading layer 2's kernels at every step
  costs more than the overlap saves, one client runs the layers in turn,
  each on its own one-client loops (plain 2-D products)."""
  monkeypatch.setattr(stacked_lstm, 'WAVEFRONT_MAX_KERNEL_BYTES',
                      (16 + 16) * 4 * 16 * 4 - 1)
  bodies = _loop_bodies(loop_body_ops, stacked_lstm.stacked_lstm_sequence, 1,
                        16)
  assert len(bodies) == 4
  for ops in bodies:
    assert 'MatMul' in ops and 'BatchMatMulV2' not in ops, ops
