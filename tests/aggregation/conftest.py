"""Aggregation test fixtures: a tiny task on real data."""

import pytest
import tensorflow_federated as tff

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
