"""Compressed aggregation: error within quantization, measured bytes ratio."""

import math

import numpy as np
import pytest
import tensorflow_federated as tff

from tff_lstm.aggregation import compression
from tff_lstm.aggregation import config as config_lib
from tff_lstm.algorithms import fedavg
from tff_lstm.algorithms import learning_process
from tff_lstm.algorithms import optimizers

_BIG, _SMALL = 2**16, 10  # a power of 2: the Hadamard rotation adds no padding


def _client_updates(num_clients, seed=0):
  rng = np.random.default_rng(seed)
  return [[rng.normal(size=_BIG).astype(np.float32),
           rng.normal(size=_SMALL).astype(np.float32)]
          for _ in range(num_clients)]


@pytest.mark.parametrize('bits, hadamard', [(8, False), (4, False), (8, True)])
def test_mean_within_quantization_error_and_bytes_ratio(federated_runtime, bits,
                                                        hadamard):
  factory = compression.compressed_mean(bits, threshold=1000,
                                        hadamard=hadamard, weighted=False)
  value_type = tff.StructWithPythonType(
      [tff.TensorType(np.float32, [n]) for n in (_BIG, _SMALL)], list)
  process = factory.create(value_type)
  updates = _client_updates(3)
  output = process.next(process.initialize(), updates)
  big_mean = np.mean([u[0] for u in updates], axis=0)
  error = output.result[0] - big_mean
  if hadamard:
    # Quantized after an orthogonal rotation: bound the error in L2 norm.
    assert np.linalg.norm(error) < 0.05 * np.linalg.norm(big_mean)
  else:
    # Stochastic rounding moves each coordinate by less than one level.
    step = max(np.ptp(u[0]) for u in updates) / (2**bits - 1)
    assert np.max(np.abs(error)) <= step
    assert np.abs(np.mean(error)) < 0.01 * step  # unbiased
  # The small tensor is below the threshold: sent as is.
  np.testing.assert_allclose(output.result[1],
                             np.mean([u[1] for u in updates], axis=0),
                             atol=1e-6)

  measured = output.measurements['mean_value']
  plain = 3 * 4 * (_BIG + _SMALL)
  assert measured['uncompressed_bytes'] == plain
  # tensor_encoding packs `bits`-bit levels into 28 of each int32's 32 bits
  # (so that varint serialization stays 4 bytes): 28 / bits, not 32 / bits.
  # Plus the quantization range and the small tensor.
  packed = 3 * (4 * math.ceil(_BIG * bits / 28) + 4 * _SMALL)
  assert packed <= measured['client_to_server_bytes'] <= packed + 3 * 16
  assert measured['compression_ratio'] == pytest.approx(
      plain / measured['client_to_server_bytes'])
  assert measured['compression_ratio'] == pytest.approx(28 / bits, rel=0.01)


def test_compressed_fedavg_round_reports_bytes(federated_runtime, char_task,
                                               char_datasets):
  config = config_lib.AggregationConfig(compression_bits=8,
                                        compression_threshold=100, robust=True)
  process = learning_process.build_learning_process(
      char_task,
      fedavg.Config(optimizers.OptimizerConfig(learning_rate=0.5)),
      model_aggregator=config_lib.build_aggregator(config, 3, 'num_examples'))
  state = process.initialize()
  before = process.get_model_weights(state).trainable
  state, metrics = process.next(state, char_datasets(3))
  after = process.get_model_weights(state).trainable
  assert all(np.all(np.isfinite(w)) for w in after)
  assert any(not np.allclose(a, b) for a, b in zip(after, before))
  # Robust wrappers nest the mean's measurements.
  measured = metrics['aggregator']['zeroing']['clipping']['mean_value']
  assert compression.find_bytes_metrics(metrics['aggregator']) == dict(measured)
  plain = 3 * 4 * sum(w.size for w in before)
  assert measured['uncompressed_bytes'] == plain
  # Only the larger tensors are quantized, so less than 4x.
  assert 2 < measured['compression_ratio'] < 4
