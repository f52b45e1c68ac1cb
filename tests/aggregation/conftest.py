"""Aggregation test fixtures: a tiny task on real data."""

import numpy as np
import pytest
import tensorflow_federated as tff

from tff_lstm.aggregation import masked
from tff_lstm.aggregation import masked_ddp

from tff_lstm.tasks import model_config
from tff_lstm.tasks import shakespeare_char

# No shuffling and few examples: deterministic, fast local updates.
_SPEC = tff.simulation.baselines.ClientSpec(
    num_epochs=1, batch_size=2, max_elements=4, shuffle_buffer_size=1)


@pytest.fixture(scope='session')
def char_task(macbeth_client_data):
  """Shakespeare characters on Macbeth with a 4-unit LSTM."""
  return shakespeare_char.create_task(
      _SPEC, sequence_length=10, client_data=macbeth_client_data,
      model_config=model_config.ModelConfig(units=4, num_layers=1, seed=7))


@pytest.fixture(scope='session')
def char_datasets(char_task):
  """(num_clients, first=0) -> preprocessed train datasets of those clients."""
  data = char_task.datasets

  def datasets(num_clients, first=0):
    ids = sorted(data.train_data.client_ids)[first:first + num_clients]
    return [data.train_preprocess_fn(
        data.train_data.create_tf_dataset_for_client(c)) for c in ids]

  return datasets


@pytest.fixture(scope='session')
def assert_server_saw_only_masks():
  """Checks what a masked-DDP round handed the server: one vector per
  survivor, uniform in the 2^bits ring and unrelated to the encoded update it
  hides, their plain sum, and unmasking shares that reveal self-mask seeds
  ('b') of survivors only."""

  def check(view, params, updates, survivors, seed):
    modulus = 2**params.bits
    rotation = masked.rotation_seed(seed)
    for position, client in enumerate(survivors):
      hidden = masked_ddp.client_encode(updates[client], params, rotation,
                                        [0, position]).numpy()
      sent = np.asarray(view.masked_inputs[position])
      assert sent.shape == (params.padded_dim,)
      assert sent.min() >= 0 and sent.max() < modulus
      assert abs(np.corrcoef(sent, hidden)[0, 1]) < 5 / np.sqrt(sent.size)
      assert abs(sent.mean() / modulus - 0.5) < 0.05
    np.testing.assert_array_equal(view.masked_sum,
                                  np.sum(view.masked_inputs, axis=0))
    for _, kind, payload in view.protocol_messages:
      if kind == 'unmasking_shares':
        assert all((owner in survivors) == (k == 'b')
                   for owner, (k, _) in payload.items())

  return check
