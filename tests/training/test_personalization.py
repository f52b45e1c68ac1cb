"""Personalization eval fine-tunes on each client's data and reports both sides."""

import numpy as np
import tensorflow_federated as tff

from tff_lstm.algorithms import learning_process
from tff_lstm.tasks import model_config
from tff_lstm.tasks import shakespeare_char
from tff_lstm.training import personalization


def test_finetuning_on_own_data_changes_test_metrics(federated_runtime,
                                                     macbeth_client_data):
  task = shakespeare_char.create_task(
      tff.simulation.baselines.ClientSpec(num_epochs=1, batch_size=4),
      tff.simulation.baselines.ClientSpec(num_epochs=1, batch_size=4,
                                          shuffle_buffer_size=1),
      sequence_length=20, client_data=macbeth_client_data,
      model_config=model_config.ModelConfig(units=8, num_layers=1, seed=2))
  process = learning_process.build_learning_process(task)
  weights = process.get_model_weights(process.initialize())
  ids = sorted(task.datasets.test_data.client_ids)[:4]
  computation = personalization.build_personalization_eval(
      task, batch_size=4, epochs=3, learning_rate=0.5, max_num_clients=10)

  metrics = computation(weights, personalization.client_inputs(task, ids))

  assert len(metrics['baseline_metrics']['loss']) == 4
  summary = personalization.summarize(metrics)
  assert np.isfinite(summary['finetuned/loss'])
  # Three epochs of SGD on the client's own text lowers its test loss.
  assert summary['finetuned/loss'] < summary['baseline_metrics/loss']
