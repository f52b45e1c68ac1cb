"""Power-demand days classified by season: real data, a recurrent classifier."""

import numpy as np
import tensorflow_federated as tff

from tff_lstm.tasks import forecast_baselines
from tff_lstm.tasks import model_config
from tff_lstm.tasks import registry

_SPEC = tff.simulation.baselines.ClientSpec(num_epochs=1, batch_size=8)


def test_task_trains_and_has_a_majority_baseline(tmp_path):
  task = registry.create_task(
      'signal_classification', _SPEC, cache_dir=str(tmp_path),
      model_config=model_config.ModelConfig(cell_type='gru', units=8, seed=0))
  assert len(task.datasets.train_data.client_ids) == 20
  x, y = next(iter(task.datasets.train_preprocess_fn(
      task.datasets.train_data.create_tf_dataset_for_client('part_00'))))
  assert x.shape == (8, 24, 1) and y.shape == (8,)
  model = task.compiled_keras_model()
  assert np.isfinite(model.fit(x, y, verbose=0).history['loss'][0])
  baseline = forecast_baselines.evaluate_majority_class(task)
  # The two seasons are near balanced: the majority is near a coin flip.
  assert 0.4 < baseline['majority_class']['accuracy'] < 0.6
