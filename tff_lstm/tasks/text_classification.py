"""Classifying your own labelled texts (a user-import `labelled_text` database).

Words, not characters: a label usually depends on a few words anywhere in the
text, which a recurrent encoder finds far more easily over tens of word ids
than over hundreds of characters. Texts are tokenized as word-level
Shakespeare is (lower case, punctuation split off); ids are 0 for padding,
1..V for the `vocab_size` most frequent words of the train split and V+1 for
any other word. Each text keeps its first `sequence_length` words and is
padded to that length; the embedding masks the padding.
"""

from collections.abc import Sequence
import json
from typing import Optional

import tensorflow as tf
import tensorflow_federated as tff

from tff_lstm.data import shakespeare_text
from tff_lstm.data import user_import
from tff_lstm.data import word_prediction
from tff_lstm.models import classifier
from tff_lstm.tasks import client_specs
from tff_lstm.tasks import data_identity
from tff_lstm.tasks import model_config as model_config_lib
from tff_lstm.tasks import seeded_shuffle
from tff_lstm.tasks import task as task_lib
from tff_lstm.tasks import user_data

DEFAULT_SEQUENCE_LENGTH = 100
DEFAULT_VOCAB_SIZE = 10000
DEFAULT_SHUFFLE_BUFFER_SIZE = 100
PAD = 0


def model_vocab_size(vocab: Sequence[str]) -> int:
  """Pad, the words and one OOV id."""
  return len(vocab) + 2


def create_preprocess_fn(spec: tff.simulation.baselines.ClientSpec,
                         vocab: Sequence[str], sequence_length: int):
  """Maps {text, label} examples to batches of (ids [b, length], label [b])."""
  vocab = list(vocab)

  def preprocess(dataset: tf.data.Dataset) -> tf.data.Dataset:
    # Built here, not outside, so TFF can trace the function on its own.
    table = tf.lookup.StaticVocabularyTable(
        tf.lookup.KeyValueTensorInitializer(
            vocab, tf.range(len(vocab), dtype=tf.int64)),
        num_oov_buckets=1)

    def to_ids(example):
      words = word_prediction.tokenize(example['text'])[:sequence_length]
      return table.lookup(words) + 1, example['label']

    dataset = client_specs.shuffle_repeat_take(dataset, spec,
                                               DEFAULT_SHUFFLE_BUFFER_SIZE)
    dataset = dataset.map(to_ids, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.padded_batch(spec.batch_size,
                                padded_shapes=([sequence_length], []),
                                padding_values=(tf.constant(PAD, tf.int64),
                                                tf.constant(0, tf.int64)))

  return preprocess


def _as_snippets(dataset: tf.data.Dataset) -> tf.data.Dataset:
  return dataset.map(lambda e: {'snippets': e['text']})


def create_task(
    train_client_spec: tff.simulation.baselines.ClientSpec,
    eval_client_spec: Optional[tff.simulation.baselines.ClientSpec] = None,
    *,
    database_path: Optional[str] = None,
    sequence_length: int = DEFAULT_SEQUENCE_LENGTH,
    vocab_size: int = DEFAULT_VOCAB_SIZE,
    model_config: model_config_lib.ModelConfig = model_config_lib.ModelConfig(),
    cache_dir: Optional[str] = None,
) -> task_lib.Task:
  """The task: your labelled texts and a recurrent sequence classifier.

  Args:
    train_client_spec: batch size, epochs, shuffling, max elements for training.
    eval_client_spec: the same for evaluation (default: batch 64, one epoch).
    database_path: a database imported with shape `labelled_text`; default
      Shakespeare speeches labelled by genre (`shakespeare_text`).
    sequence_length: words kept per text (the rest is cut), padded to this.
    vocab_size: most frequent train words kept; the rest share one OOV id.
    model_config: cell type and sizes (default: embedding 64, one layer of
      128 units).
    cache_dir: where the default database is built (see `paths`); unused
      with `database_path`.
  """
  if sequence_length < 1:
    raise ValueError(f'sequence_length must be >= 1, got {sequence_length}.')
  if vocab_size < 1:
    raise ValueError(f'vocab_size must be >= 1, got {vocab_size}.')
  if database_path is None:
    database_path = shakespeare_text.ensure_database('labelled_text', cache_dir)
  path, metadata = user_data.check_database(
      database_path, 'labelled_text', 'text_classification')
  train_data, test_data = user_import.load_client_data(path)
  label_names = json.loads(metadata['label_names'])
  if len(label_names) < 2:
    raise ValueError(
        f'--database_path: {path} has only the label(s) '
        f'{label_names}; a classifier needs at least two classes.')
  vocab = word_prediction.build_vocab(train_data.preprocess(_as_snippets),
                                      vocab_size)
  datasets = client_specs.task_datasets(
      train_data, test_data,
      lambda spec: create_preprocess_fn(spec, vocab, sequence_length),
      train_client_spec, eval_client_spec)

  def keras_model_fn():
    return classifier.build_sequence_classifier(
        model_vocab_size(vocab), len(label_names),
        embedding_dim=model_config.pick('embedding_dim', 64),
        units=model_config.pick('units', 128),
        num_layers=model_config.pick('num_layers', 1),
        cell_type=model_config.cell_type,
        sequence_length=sequence_length,
        seed=model_config.seed)

  return task_lib.Task(
      name='text_classification',
      datasets=datasets,
      keras_model_fn=keras_model_fn,
      loss_fn=lambda: tf.keras.losses.SparseCategoricalCrossentropy(
          from_logits=True),
      metrics_fns=[lambda: tf.keras.metrics.SparseCategoricalAccuracy(
          name='accuracy')],
      data_identity=data_identity.of_database(path),
      seeded_train_preprocess_fn=seeded_shuffle.build(
          train_client_spec, DEFAULT_SHUFFLE_BUFFER_SIZE,
          lambda spec: create_preprocess_fn(spec, vocab, sequence_length)))
