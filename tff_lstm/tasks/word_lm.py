"""Next-word prediction as in TFF's Stack Overflow baseline (Reddi et al. 2021).

Stack Overflow and word-level Shakespeare share everything but their data:
TFF's Stack Overflow preprocessing turns `tokens` sentences into ids (0 pad,
words 1..V, OOV, BOS, EOS) and (x, y) batches, and one model, loss and
metric set serves both.
"""

from collections.abc import Mapping, Sequence
from typing import Optional

import tensorflow as tf
import tensorflow_federated as tff
from tensorflow_federated.python.simulation.baselines.stackoverflow import constants as stackoverflow_constants
from tensorflow_federated.python.simulation.baselines.stackoverflow import word_prediction_preprocessing

from tff_lstm.data import word_prediction
from tff_lstm.models import language_models
from tff_lstm.models import losses
from tff_lstm.models import metrics
from tff_lstm.tasks import client_specs
from tff_lstm.tasks import model_config as model_config_lib
from tff_lstm.tasks import seeded_shuffle
from tff_lstm.tasks import task as task_lib

DEFAULT_VOCAB_SIZE = word_prediction.DEFAULT_VOCAB_SIZE
DEFAULT_SEQUENCE_LENGTH = word_prediction.DEFAULT_SEQUENCE_LENGTH
NUM_OOV_BUCKETS = 1


def check_sizes(vocab_size: int, sequence_length: int) -> None:
  """Fails on bad sizes before any data is read."""
  if vocab_size < 1:
    raise ValueError(f'vocab_size must be >= 1, got {vocab_size}.')
  if sequence_length < 1:
    raise ValueError(f'sequence_length must be >= 1, got {sequence_length}.')


def special_tokens(vocab: Sequence[str]) -> word_prediction.SpecialTokens:
  return word_prediction.get_special_tokens(len(vocab), NUM_OOV_BUCKETS)


def model_vocab_size(vocab: Sequence[str]) -> int:
  """Every id the model predicts: pad, the words, OOV, BOS and EOS."""
  return special_tokens(vocab).end_of_sentence + 1


def create_keras_model(config: model_config_lib.ModelConfig, vocab_size: int,
                       sequence_length: int) -> tf.keras.Model:
  return language_models.build_word_lm(
      vocab_size,
      embedding_dim=config.pick('embedding_dim', 96),
      units=config.pick('units', 670),
      num_layers=config.pick('num_layers', 1),
      cell_type=config.cell_type,
      sequence_length=sequence_length,
      seed=config.seed)


def metrics_fns(special: word_prediction.SpecialTokens):
  """TFF's Stack Overflow accuracies: all words, no OOV, no OOV or EOS."""
  pad, eos = special.padding, special.end_of_sentence
  oov = list(special.out_of_vocab)
  return [
      lambda: metrics.MaskedCategoricalAccuracy([pad], name='accuracy'),
      lambda: metrics.MaskedCategoricalAccuracy(
          [pad] + oov, name='accuracy_without_oov'),
      lambda: metrics.MaskedCategoricalAccuracy(
          [pad] + oov + [eos], name='accuracy_without_oov_or_eos'),
  ]


def create_task(
    name: str,
    train_client_spec: tff.simulation.baselines.ClientSpec,
    eval_client_spec: Optional[tff.simulation.baselines.ClientSpec],
    train_data: tff.simulation.datasets.ClientData,
    test_data: tff.simulation.datasets.ClientData,
    vocab: Sequence[str],
    *,
    sequence_length: int,
    model_config: model_config_lib.ModelConfig,
    validation_data: Optional[tff.simulation.datasets.ClientData] = None,
    data_identity: Optional[Mapping[str, str]] = None,
) -> task_lib.Task:
  """The word LM task over ClientData whose examples have a `tokens` sentence.

  Args:
    name: the registry name of the task.
    train_client_spec: batch size, epochs, shuffling, max elements for training
      (shuffle_buffer_size None: TFF's Stack Overflow default, 1000).
    eval_client_spec: the same for evaluation (default: batch 64, one epoch).
    train_data: training clients.
    test_data: test clients.
    vocab: the words with ids 1..len(vocab).
    sequence_length: words per example; longer sentences are cut.
    model_config: cell type and sizes (default: Reddi et al.'s 96/670/96).
    validation_data: optional held-out clients (Stack Overflow's `heldout`).
    data_identity: see `Task.data_identity`.
  """
  vocab = list(vocab)
  check_sizes(len(vocab), sequence_length)
  special = special_tokens(vocab)
  vocab_size = model_vocab_size(vocab)

  def preprocess_fn(spec):
    return word_prediction_preprocessing.create_preprocess_fn(
        spec, vocab, sequence_length=sequence_length,
        num_out_of_vocab_buckets=NUM_OOV_BUCKETS)

  datasets = client_specs.task_datasets(
      train_data, test_data, preprocess_fn, train_client_spec,
      eval_client_spec, validation_data=validation_data)
  return task_lib.Task(
      name=name,
      datasets=datasets,
      keras_model_fn=lambda: create_keras_model(model_config, vocab_size,
                                                sequence_length),
      loss_fn=lambda: losses.MaskedSparseCategoricalCrossentropy(
          pad_id=special.padding),
      metrics_fns=metrics_fns(special),
      data_identity=dict(data_identity or {}),
      seeded_train_preprocess_fn=seeded_shuffle.build(
          train_client_spec,
          stackoverflow_constants.DEFAULT_SHUFFLE_BUFFER_SIZE, preprocess_fn))
