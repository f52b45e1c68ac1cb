"""Classifying real signals: each day of Italy's power demand by its season.

Data: `signal_sets` (ItalyPowerDemand from the aeon wheel, 20 synthetic IID
clients). An example is one day's 24 hourly readings, fed to a recurrent
encoder one reading per step, and its label (October-March or April-
September). The readings are z-normalized per day by the archive, so there
is nothing to scale. The metric is accuracy; the majority class of the test
split is the naive baseline (`datasets/README.md` gives it).
"""

from typing import Optional

import tensorflow as tf
import tensorflow_federated as tff

from tff_lstm.data import signal_sets
from tff_lstm.models import classifier
from tff_lstm.tasks import client_specs
from tff_lstm.tasks import data_identity
from tff_lstm.tasks import model_config as model_config_lib
from tff_lstm.tasks import seeded_shuffle
from tff_lstm.tasks import task as task_lib

DEFAULT_SHUFFLE_BUFFER_SIZE = 100


def create_preprocess_fn(spec: tff.simulation.baselines.ClientSpec):
  """{values [24], label} -> batches of (readings [b, 24, 1], label [b])."""

  def preprocess(dataset: tf.data.Dataset) -> tf.data.Dataset:
    dataset = client_specs.shuffle_repeat_take(dataset, spec,
                                               DEFAULT_SHUFFLE_BUFFER_SIZE)
    dataset = dataset.map(lambda e: (e['values'][:, tf.newaxis], e['label']))
    return dataset.batch(spec.batch_size)

  return preprocess


def create_task(
    train_client_spec: tff.simulation.baselines.ClientSpec,
    eval_client_spec: Optional[tff.simulation.baselines.ClientSpec] = None,
    *,
    model_config: model_config_lib.ModelConfig = model_config_lib.ModelConfig(),
    cache_dir: Optional[str] = None,
) -> task_lib.Task:
  """The task: ItalyPowerDemand days and a recurrent classifier.

  Args:
    train_client_spec: batch size, epochs, shuffling, max elements (days).
    eval_client_spec: the same for evaluation (default: batch 64, one epoch).
    model_config: cell type and sizes (default: one layer of 32 units);
      there is no embedding, so `embedding_dim` must be unset.
    cache_dir: where the database is built (see `paths`).
  """
  if model_config.embedding_dim is not None:
    raise ValueError('signal_classification reads numbers, not token ids: '
                     'it has no embedding, so leave embedding_dim unset.')
  path = signal_sets.ensure_italy_power_database(cache_dir)
  train_data, test_data = signal_sets.load_client_data(path)
  datasets = client_specs.task_datasets(
      train_data, test_data, create_preprocess_fn, train_client_spec,
      eval_client_spec)
  return task_lib.Task(
      name='signal_classification',
      datasets=datasets,
      keras_model_fn=lambda: classifier.build_signal_classifier(
          signal_sets.LENGTH, 1, len(signal_sets.LABEL_NAMES),
          units=model_config.pick('units', 32),
          num_layers=model_config.pick('num_layers', 1),
          cell_type=model_config.cell_type,
          seed=model_config.seed),
      loss_fn=lambda: tf.keras.losses.SparseCategoricalCrossentropy(
          from_logits=True),
      metrics_fns=[lambda: tf.keras.metrics.SparseCategoricalAccuracy(
          name='accuracy')],
      data_identity=data_identity.of_database(path),
      seeded_train_preprocess_fn=seeded_shuffle.build(
          train_client_spec, DEFAULT_SHUFFLE_BUFFER_SIZE,
          create_preprocess_fn))
