"""Shakespeare next-character prediction (McMahan et al. 2017) on our offline data.

Preprocessing is TFF's own (same vocabulary, BOS/EOS/pad and 80-char windows
as `tff.simulation.baselines.shakespeare`); the model is ours so the cell type
and sizes are flags.
"""

from typing import Optional

import tensorflow as tf
import tensorflow_federated as tff
from tensorflow_federated.python.simulation.baselines.shakespeare import char_prediction_preprocessing as tff_char_preprocessing

from tff_lstm.data import shakespeare
from tff_lstm.models import language_models
from tff_lstm.models import losses
from tff_lstm.models import metrics
from tff_lstm.tasks import data_identity as data_identity_lib
from tff_lstm.tasks import model_config as model_config_lib
from tff_lstm.tasks import seeded_shuffle
from tff_lstm.tasks import task as task_lib

DEFAULT_SEQUENCE_LENGTH = 80
# Characters, plus pad (0), OOV, BOS and EOS: 90, the model of the papers.
VOCAB_SIZE = len(tff_char_preprocessing.CHAR_VOCAB) + 4
PAD, OOV, BOS, EOS = tff_char_preprocessing.get_special_tokens()


def create_keras_model(config: model_config_lib.ModelConfig,
                       sequence_length: int) -> tf.keras.Model:
  return language_models.build_char_lm(
      VOCAB_SIZE,
      embedding_dim=config.pick('embedding_dim', 8),
      units=config.pick('units', 256),
      num_layers=config.pick('num_layers', 2),
      cell_type=config.cell_type,
      sequence_length=sequence_length,
      seed=config.seed)


def metrics_fns():
  """Accuracy over real characters, and without OOV/BOS/EOS as TFF reports."""
  return [
      lambda: metrics.MaskedCategoricalAccuracy([PAD], name='accuracy'),
      lambda: metrics.MaskedCategoricalAccuracy(
          [PAD, OOV, BOS, EOS], name='accuracy_without_oov_or_eos'),
  ]


def loss_fn():
  return losses.MaskedSparseCategoricalCrossentropy(pad_id=PAD)


def create_task(
    train_client_spec: tff.simulation.baselines.ClientSpec,
    eval_client_spec: Optional[tff.simulation.baselines.ClientSpec] = None,
    *,
    sequence_length: int = DEFAULT_SEQUENCE_LENGTH,
    model_config: model_config_lib.ModelConfig = model_config_lib.ModelConfig(),
    cache_dir: Optional[str] = None,
    client_data=None,
) -> task_lib.Task:
  """The task: our Shakespeare ClientData, TFF preprocessing and our model.

  Args:
    train_client_spec: batch size, epochs, shuffling, max elements for training.
    eval_client_spec: the same for evaluation (default: batch 64, one epoch).
    sequence_length: characters per training window.
    model_config: cell type and sizes.
    cache_dir: where the Shakespeare database is built/read.
    client_data: (train, test) to use instead of the built database (tests).
  """
  if sequence_length < 1:
    raise ValueError(f'sequence_length must be >= 1, got {sequence_length}.')
  data_identity = {}
  if client_data is None:
    path = shakespeare.ensure_database(cache_dir)
    data_identity = data_identity_lib.of_database(path)
    client_data = shakespeare.load_client_data(cache_dir)
  train_data, test_data = client_data
  if eval_client_spec is None:
    eval_client_spec = tff.simulation.baselines.ClientSpec(
        num_epochs=1, batch_size=64, shuffle_buffer_size=1)
  datasets = tff.simulation.baselines.BaselineTaskDatasets(
      train_data=train_data,
      test_data=test_data,
      train_preprocess_fn=tff_char_preprocessing.create_preprocess_fn(
          train_client_spec, sequence_length),
      eval_preprocess_fn=tff_char_preprocessing.create_preprocess_fn(
          eval_client_spec, sequence_length))
  return task_lib.Task(
      name='shakespeare_char',
      datasets=datasets,
      keras_model_fn=lambda: create_keras_model(model_config, sequence_length),
      loss_fn=loss_fn,
      metrics_fns=metrics_fns(),
      data_identity=data_identity,
      seeded_train_preprocess_fn=seeded_shuffle.build(
          train_client_spec, tff_char_preprocessing.DEFAULT_SHUFFLE_BUFFER_SIZE,
          lambda spec: tff_char_preprocessing.create_preprocess_fn(
              spec, sequence_length)))
