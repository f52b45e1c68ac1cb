"""A checkpoint written on one path a round runs on resumes on the other."""

import asyncio

import numpy as np
import pytest
import tensorflow_federated as tff

from tff_lstm.algorithms import fedavg
from tff_lstm.algorithms import learning_process
from tff_lstm.algorithms import optimizers
from tff_lstm.algorithms import vectorized_cohort
from tff_lstm.tasks import model_config
from tff_lstm.tasks import shakespeare_char
from tff_lstm.training import outputs
from tff_lstm.training import portable_checkpoints

_BATCH = 4


def _task(client_data):
  spec = tff.simulation.baselines.ClientSpec(
      num_epochs=1, batch_size=_BATCH, shuffle_buffer_size=1)
  return shakespeare_char.create_task(
      spec, sequence_length=12, client_data=client_data,
      model_config=model_config.ModelConfig(units=8, num_layers=1, seed=3))


def _round(process, state, datasets, parallelism):
  data = (vectorized_cohort.indexed_client_data(datasets)
          if parallelism == 'vectorized' else datasets)
  return process.next(state, data).state


@pytest.mark.parametrize('first, then', [('vectorized', 'sequential'),
                                         ('sequential', 'vectorized')])
def test_resumed_on_the_other_path_equals_staying_on_one(
    federated_runtime, macbeth_client_data, tmp_path, first, then):
  del federated_runtime
  task = _task(macbeth_client_data)
  train = task.datasets.train_data
  datasets = [task.datasets.train_preprocess_fn(
      train.create_tf_dataset_for_client(cid).take(n))
              for n, cid in zip([5, 2, 7], sorted(train.client_ids))]
  processes = {
      p: learning_process.build_learning_process(
          task, fedavg.Config(optimizers.OptimizerConfig(learning_rate=0.5)),
          client_parallelism=p, client_batch_size=_BATCH)
      for p in (first, then)}
  state = _round(processes[first], processes[first].initialize(), datasets,
                 first)
  checkpoints = portable_checkpoints.PortableCheckpoints(
      outputs.program_state_manager(str(tmp_path)))
  asyncio.run(checkpoints.save(state, 1))

  loaded, version = asyncio.run(
      checkpoints.load_latest(processes[then].initialize()))
  assert version == 1
  resumed = _round(processes[then], loaded, datasets, then)
  stayed = _round(processes[first], state, datasets, first)

  for r, s in zip(processes[then].get_model_weights(resumed).trainable,
                  processes[first].get_model_weights(stayed).trainable):
    np.testing.assert_allclose(r, s, atol=2e-5)


def test_any_other_difference_is_still_refused(federated_runtime,
                                               macbeth_client_data, tmp_path):
  del federated_runtime
  task = _task(macbeth_client_data)
  build = lambda units: learning_process.build_learning_process(
      shakespeare_char.create_task(
          tff.simulation.baselines.ClientSpec(num_epochs=1, batch_size=4),
          sequence_length=12, client_data=macbeth_client_data,
          model_config=model_config.ModelConfig(units=units, num_layers=1)),
      fedavg.Config(optimizers.OptimizerConfig(learning_rate=0.5)),
      client_parallelism='sequential', client_batch_size=_BATCH)
  del task
  checkpoints = portable_checkpoints.PortableCheckpoints(
      outputs.program_state_manager(str(tmp_path)))
  asyncio.run(checkpoints.save(build(8).initialize(), 1))
  with pytest.raises((TypeError, ValueError)):
    asyncio.run(checkpoints.load(1, build(4).initialize()))
