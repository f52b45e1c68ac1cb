"""Word-level Shakespeare: an offline stand-in for Stack Overflow next-word.

Same clients as the character data set. Each speech is lower-cased, split
into word and punctuation tokens, and cut into sentences, because a Stack
Overflow example is one sentence and TFF's preprocessing keeps only its first
`sequence_length` words (whole speeches would mostly be cut off). A sentence
ends at '.', '!' or '?'; what follows the last one in a speech is a sentence
too. The result has Stack Overflow's `tokens` feature (space-separated), so
TFF's own Stack Overflow preprocessing and task builders accept it.

Token ids follow TFF's Stack Overflow word task exactly, because batching is
delegated to its `word_prediction_preprocessing`: 0 pads, vocabulary words
are 1..V, then `num_oov_buckets` out-of-vocabulary ids, then beginning- and
end-of-sentence; x = ids[:-1], y = ids[1:].
"""

import collections
from collections.abc import Callable
from typing import Optional

import tensorflow as tf
import tensorflow_federated as tff
from tensorflow_federated.python.simulation.baselines.stackoverflow import word_prediction_preprocessing

from tff_lstm.data import shakespeare

DEFAULT_VOCAB_SIZE = 10000
DEFAULT_SEQUENCE_LENGTH = 20
DEFAULT_SHUFFLE_BUFFER_SIZE = 1000  # TFF's Stack Overflow default.
SENTENCE_ENDS = ('.', '!', '?')

SpecialTokens = word_prediction_preprocessing.SpecialTokens


def get_special_tokens(vocab_size: int,
                       num_oov_buckets: int = 1) -> SpecialTokens:
  """Ids of pad, out-of-vocabulary, beginning and end of sentence."""
  return word_prediction_preprocessing.get_special_tokens(
      vocab_size, num_oov_buckets)


def tokenize(snippets: tf.Tensor) -> tf.Tensor:
  """Speeches -> their lower-case tokens (for a batch: a `RaggedTensor`).

  Punctuation becomes tokens of its own (a run of dashes is one token '--');
  apostrophes and single hyphens stay inside words ('tis, o'er, sea-walled),
  as in Stack Overflow's preprocessing.
  """
  text = tf.strings.lower(snippets)
  text = tf.strings.regex_replace(text, r'-{2,}', ' -- ')
  text = tf.strings.regex_replace(text, r'([.,;:!?()"&\[\]])', r' \1 ')
  return tf.strings.split(text)


def to_sentences(snippets: tf.Tensor) -> tf.Tensor:
  """Speeches (a scalar or 1-D string tensor) -> 1-D tensor of sentences.

  Sentences are joined by spaces; they never span two speeches.
  """
  words = tokenize(tf.reshape(snippets, [-1]))
  flat = words.flat_values
  num_words = tf.size(flat, out_type=tf.int64)
  is_end = tf.reduce_any(
      tf.equal(tf.expand_dims(flat, 1), tf.constant(SENTENCE_ENDS)), axis=1)
  follows_end = tf.concat([[True], is_end[:-1]], 0)[:num_words]
  row_starts = words.row_starts()
  row_starts = tf.boolean_mask(row_starts, row_starts < num_words)
  starts_row = tf.scatter_nd(
      tf.expand_dims(row_starts, 1), tf.ones_like(row_starts),
      tf.expand_dims(num_words, 0)) > 0
  sentence_ids = tf.cumsum(
      tf.cast(tf.logical_or(follows_end, starts_row), tf.int64)) - 1
  sentences = tf.RaggedTensor.from_value_rowids(flat, sentence_ids)
  return tf.strings.reduce_join(sentences, axis=1, separator=' ')


def snippets_to_tokens(dataset: tf.data.Dataset) -> tf.data.Dataset:
  """Dataset of {'snippets'} -> dataset of {'tokens'}, one per sentence."""

  def sentences(batch):
    return tf.data.Dataset.from_tensor_slices(
        collections.OrderedDict(tokens=to_sentences(batch['snippets'])))

  # Batching first lets `to_sentences` work on many speeches at once.
  return dataset.batch(64).flat_map(sentences)


def to_word_client_data(
    client_data: tff.simulation.datasets.ClientData
) -> tff.simulation.datasets.ClientData:
  """The same clients with Stack Overflow's `tokens` feature, one per sentence.

  The result is what TFF's Stack Overflow word preprocessing and
  `create_word_prediction_task_from_datasets` take.
  """
  return client_data.preprocess(snippets_to_tokens)


def load_word_client_data(cache_dir: Optional[str] = None,
                          play_names: Optional[list[str]] = None):
  """(train, test) word-level `ClientData` (building the database if needed)."""
  train, test = shakespeare.load_client_data(cache_dir, play_names)
  return to_word_client_data(train), to_word_client_data(test)


def build_vocab(train_client_data: tff.simulation.datasets.ClientData,
                vocab_size: int = DEFAULT_VOCAB_SIZE) -> list[str]:
  """The `vocab_size` most frequent tokens of the train split.

  Accepts `ClientData` of `snippets` or of `tokens`. Ties are broken
  alphabetically so the vocabulary is deterministic.
  """
  if vocab_size < 1:
    raise ValueError(f'vocab_size must be positive, got {vocab_size}.')
  dataset = train_client_data.create_tf_dataset_from_all_clients()
  if 'tokens' in dataset.element_spec:
    split = lambda x: tf.strings.split(x['tokens'], sep=' ').flat_values
  else:
    split = lambda x: tokenize(x['snippets']).flat_values
  dataset = dataset.batch(1024).map(split, num_parallel_calls=tf.data.AUTOTUNE)
  counts = collections.Counter()
  for words in dataset.as_numpy_iterator():
    counts.update(words.tolist())
  ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
  return [word.decode('utf-8') for word, _ in ranked[:vocab_size]]


def create_preprocess_fn(
    vocab: list[str],
    sequence_length: int = DEFAULT_SEQUENCE_LENGTH,
    batch_size: int = 16,
    num_epochs: int = 1,
    shuffle_buffer_size: Optional[int] = DEFAULT_SHUFFLE_BUFFER_SIZE,
    max_elements: Optional[int] = None,
    num_oov_buckets: int = 1,
) -> Callable[[tf.data.Dataset], tf.data.Dataset]:
  """Maps a client dataset of `snippets` to batches of int64 (x, y).

  Sentences are shuffled (`shuffle_buffer_size` 1 or None: no shuffling),
  repeated `num_epochs` times, cut to `max_elements` sentences, turned into
  ids and batched, all by TFF's Stack Overflow preprocessing; x and y have
  shape [batch, sequence_length].
  """
  spec = tff.simulation.baselines.ClientSpec(
      num_epochs=num_epochs,
      batch_size=batch_size,
      max_elements=max_elements,
      shuffle_buffer_size=shuffle_buffer_size or 1)
  word_preprocess = word_prediction_preprocessing.create_preprocess_fn(
      spec, vocab, sequence_length=sequence_length,
      num_out_of_vocab_buckets=num_oov_buckets)

  def preprocess(dataset: tf.data.Dataset) -> tf.data.Dataset:
    return word_preprocess(snippets_to_tokens(dataset))

  return preprocess
