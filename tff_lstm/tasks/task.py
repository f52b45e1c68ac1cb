"""A task bundles data, preprocessing and the model, like TFF's BaselineTask.

We keep the Keras builder, loss and metrics beside TFF's `model_fn` because the
centralized baseline and the server-side evaluation train or evaluate the very
same Keras model outside TFF.
"""

from collections.abc import Callable, Mapping, Sequence
import dataclasses
from typing import Any, Optional

import tensorflow as tf
import tensorflow_federated as tff


@dataclasses.dataclass(frozen=True)
class Task:
  """Everything an experiment needs to train one model on one data set.

  Attributes:
    name: registry name, e.g. 'shakespeare_char'.
    datasets: train/test ClientData and their preprocessing functions.
    keras_model_fn: builds a fresh, uncompiled Keras model.
    loss_fn: builds the Keras loss.
    metrics_fns: each builds one Keras metric.
    data_identity: data file name -> content hash of the data the task reads
      (empty for in-memory data); a run records it, and refuses to resume on
      other data written to the same path.
    seeded_train_preprocess_fn: `datasets.train_preprocess_fn` with its
      shuffle seeded, (dataset, int64 seed) -> dataset
      (`seeded_shuffle.SeededPreprocess`): what federated runs train on, so
      that the same seeds give the same batches.
  """

  name: str
  datasets: tff.simulation.baselines.BaselineTaskDatasets
  keras_model_fn: Callable[[], tf.keras.Model]
  loss_fn: Callable[[], tf.keras.losses.Loss]
  metrics_fns: Sequence[Callable[[], tf.keras.metrics.Metric]]
  data_identity: Mapping[str, str] = dataclasses.field(default_factory=dict)
  seeded_train_preprocess_fn: Optional[
      Callable[[tf.data.Dataset, Any], tf.data.Dataset]] = None

  def model_fn(self) -> tff.learning.models.VariableModel:
    """The TFF model: our Keras model wrapped by `from_keras_model`."""
    return tff.learning.models.from_keras_model(
        self.keras_model_fn(),
        loss=self.loss_fn(),
        input_spec=self.datasets.element_type_structure,
        metrics=list(self.metrics_fns))

  def compiled_keras_model(self) -> tf.keras.Model:
    """The same model compiled for Keras `fit`/`evaluate` (centralized runs)."""
    model = self.keras_model_fn()
    model.compile(loss=self.loss_fn(), optimizer='sgd',
                  metrics=[fn() for fn in self.metrics_fns])
    return model
