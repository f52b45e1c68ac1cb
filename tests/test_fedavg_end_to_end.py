"""One FedAvg round of a Keras LSTM through TFF end to end (the stack works)."""

import numpy as np
import tensorflow_federated as tff

from tff_lstm.algorithms import fedavg
from tff_lstm.algorithms import learning_process
from tff_lstm.algorithms import optimizers
from tff_lstm.tasks import model_config
from tff_lstm.tasks import shakespeare_char


def test_one_fedavg_round_on_synthetic_shakespeare(federated_runtime):
  synthetic = tff.simulation.datasets.shakespeare.get_synthetic()
  task = shakespeare_char.create_task(
      tff.simulation.baselines.ClientSpec(num_epochs=1, batch_size=4),
      sequence_length=20,
      model_config=model_config.ModelConfig(units=16, num_layers=1, seed=1),
      client_data=(synthetic, synthetic))
  process = learning_process.build_learning_process(
      task,
      fedavg.Config(optimizers.OptimizerConfig(learning_rate=0.5)))
  state = process.initialize()
  before = process.get_model_weights(state).trainable
  clients = [task.datasets.train_data.create_tf_dataset_for_client(c)
             for c in task.datasets.train_data.client_ids]
  clients = [task.datasets.train_preprocess_fn(ds) for ds in clients]

  result = process.next(state, clients)

  after = process.get_model_weights(result.state).trainable
  train = result.metrics['client_work']['train']
  assert np.isfinite(train['loss'])
  assert train['num_examples'] > 0
  assert any(not np.allclose(b, a) for b, a in zip(before, after))
