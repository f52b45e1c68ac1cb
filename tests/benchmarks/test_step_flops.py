"""benchmarks/step_flops.py and the ceiling section `make bench` writes from it.

The count is checked against the step's matmuls listed one by one for the
2 x 256 Shakespeare model, and the report against rates worked out by hand
from the rounds' recorded sequences and seconds.
"""

import os
import sys

import pytest

_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
sys.path.insert(0, os.path.join(_ROOT, 'benchmarks'))

import round_speed  # pylint: disable=g-import-not-at-top,wrong-import-position
import step_flops  # pylint: disable=g-import-not-at-top,wrong-import-position


def _matmul(m, k, n):
  return 2 * m * k * n


def test_the_shakespeare_step_is_its_matmuls_listed_one_by_one():
  rows, units, gates = 4 * 80, 256, 1024
  layer1 = (_matmul(rows, 8, gates)             # input projection
            + 80 * _matmul(4, units, gates)     # recurrence, forward
            + 80 * _matmul(4, gates, units)     # recurrence, backward
            + _matmul(8, rows, gates)           # input-weight gradient
            + _matmul(units, rows, gates))      # recurrent-weight gradient
  layer2 = (_matmul(rows, units, gates) + 80 * _matmul(4, units, gates)
            + 80 * _matmul(4, gates, units) + _matmul(units, rows, gates)
            + _matmul(units, rows, gates)
            + _matmul(rows, gates, units))      # gradient to layer 1's output
  logits = (_matmul(rows, units, 90) + _matmul(units, rows, 90)
            + _matmul(rows, 90, units))
  assert step_flops.char_lm_step_flops() == layer1 + layer2 + logits
  assert step_flops.char_lm_step_flops() / 1e9 == pytest.approx(1.5647,
                                                                abs=1e-4)


def test_the_count_is_per_row_and_grows_with_the_width():
  assert (step_flops.char_lm_step_flops(batch_size=4)
          == 4 * step_flops.char_lm_step_flops(batch_size=1))
  one_layer = step_flops.char_lm_step_flops(num_layers=1)
  two_layers = step_flops.char_lm_step_flops(num_layers=2)
  # The second layer adds a 256-input layer with a gradient to its input.
  assert two_layers - one_layer == step_flops.lstm_layer_flops(
      320, 256, 256, input_gradient=True)
  assert (step_flops.char_lm_step_flops(units=512)
          > 3.9 * step_flops.char_lm_step_flops(units=256))


def test_the_report_divides_each_rounds_matmuls_by_its_seconds():
  per_sequence = step_flops.char_lm_step_flops(batch_size=1) / 1e9
  results = {
      'meta': {'rounds': 3},
      'sequences': {'uniform_10_3': [[64] * 10] * 3,
                    'real_10_3': [[1, 2], [300, 100], [50, 50]]},
      'uniform': {'ours': {'round_s': [9.0, 2.0, 4.0], 'median_s': 3.0},
                  'torch_peer': {'round_s': [9.0, 4.0, 4.0],
                                 'median_s': 4.0}},
      'real': {'ours': {'round_s': [9.0, 4.0, 1.0], 'median_s': 2.5}},
      'yardstick': {'ceiling_gflops': {'one_thread': 100.0,
                                       'two_processes': 200.0},
                    'one_client_step_ms': 40.0,
                    'step_gflop': 4 * per_sequence},
  }
  table = '\n'.join(round_speed.yardstick_lines(results))
  step_rate = 4 * per_sequence / 0.040
  assert f'| {step_rate:.1f} | {step_rate / 100:.0%} |' in table
  uniform = 640 * per_sequence
  # Warm-up round 0 is left out: the median of 2 s and 4 s rounds' rates.
  ours = (uniform / 2 + uniform / 4) / 2
  assert f'uniform round, `ours` (median of rounds) | {uniform:.0f} |' in table
  assert f'| {ours:.1f} | {ours / 100:.0%} | {ours / 200:.0%} |' in table
  peer = uniform / 4
  assert f'| {peer:.1f} | {peer / 100:.0%} |' in table
  real = (400 * per_sequence / 4 + 100 * per_sequence / 1) / 2
  assert f'| {real:.1f} |' in table
  assert 'real round, `torch_peer`' not in table   # not measured
