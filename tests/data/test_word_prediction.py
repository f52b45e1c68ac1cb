"""Word-level Shakespeare with TFF's Stack Overflow token conventions."""

import collections
import re

import pytest
import tensorflow as tf
import tensorflow_federated as tff
from tensorflow_federated.python.simulation.baselines.stackoverflow import word_prediction_tasks

from tff_lstm.data import shakespeare
from tff_lstm.data import word_prediction


def _strings(tensor):
  return [s.decode('utf-8') for s in tensor.numpy().tolist()]


def _python_tokenize(text):
  """An independent re-statement of the tokenizer's rules."""
  text = re.sub(r'-{2,}', ' -- ', text.lower())
  return re.sub(r'([.,;:!?()"&\[\]])', r' \1 ', text).split()


def test_tokenize():
  tokens = word_prediction.tokenize(tf.constant(
      "Fair is foul,\n'Tis so--O! sea-walled (quoth he)"))
  assert _strings(tokens) == [
      'fair', 'is', 'foul', ',', "'tis", 'so', '--', 'o', '!', 'sea-walled',
      '(', 'quoth', 'he', ')']


def test_sentences():
  sentences = word_prediction.to_sentences(tf.constant(
      'Hark! When? Thus--and so'))
  assert _strings(sentences) == ['hark !', 'when ?', 'thus -- and so']
  assert _strings(word_prediction.to_sentences(tf.constant('Hark!'))) == [
      'hark !']
  # Never across two speeches, even when one lacks a full stop.
  assert _strings(word_prediction.to_sentences(tf.constant(
      ['Thus--and so', '', 'Ay.']))) == ['thus -- and so', 'ay .']


@pytest.fixture(scope='module')
def small_data(small_cache_dir, small_plays):
  return shakespeare.load_client_data(small_cache_dir, small_plays)


@pytest.fixture(scope='module')
def vocab(small_data):
  return word_prediction.build_vocab(small_data[0], vocab_size=500)


def test_vocab_is_most_frequent_train_words(small_data, vocab):
  train, _ = small_data
  counts = collections.Counter()
  for example in train.create_tf_dataset_from_all_clients().as_numpy_iterator():
    counts.update(_python_tokenize(example['snippets'].decode('utf-8')))
  ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
  assert vocab == [word for word, _ in ranked[:500]]
  assert vocab[:3] == [',', '.', 'the']
  # The same vocabulary comes from the word-level (tokens) data.
  words = word_prediction.to_word_client_data(train)
  assert word_prediction.build_vocab(words, vocab_size=500) == vocab


def test_vocab_ignores_test_split(small_data):
  train, test = small_data
  full = word_prediction.build_vocab(train, vocab_size=100000)
  only_in_test = set(word_prediction.build_vocab(test, 100000)) - set(full)
  assert only_in_test  # Some words only occur late in a role's speeches.


def test_preprocess_shapes_and_special_ids(small_data, vocab):
  train, _ = small_data
  special = word_prediction.get_special_tokens(len(vocab))
  assert (special.padding, special.out_of_vocab, special.beginning_of_sentence,
          special.end_of_sentence) == (0, [501], 502, 503)
  preprocess = word_prediction.create_preprocess_fn(
      vocab, sequence_length=20, batch_size=8, num_epochs=1,
      shuffle_buffer_size=1)
  batches = list(preprocess(
      train.create_tf_dataset_for_client('MACBETH_MACBETH')))
  x, y = batches[0]
  assert x.dtype == y.dtype == tf.int64
  assert x.shape == y.shape == (8, 20)
  x, y = x.numpy(), y.numpy()
  assert (x[:, 0] == special.beginning_of_sentence).all()
  assert (x[:, 1:] == y[:, :-1]).all()
  assert x.max() <= 503 and y.max() <= 503 and x.min() >= 0
  assert (y == special.end_of_sentence).any()
  assert (y == special.out_of_vocab[0]).any()
  # Sentence one of Macbeth: "So foul and fair a day I have not seen."
  ids = {w: i + 1 for i, w in enumerate(vocab)}
  expected = [ids.get(w, 501) for w in
              'so foul and fair a day i have not seen .'.split()]
  assert x[0, 1:12].tolist() == expected
  assert y[0, 11] == special.end_of_sentence and y[0, 12] == 0


def test_preprocess_repeats_and_limits(small_data, vocab):
  train, _ = small_data
  dataset = train.create_tf_dataset_for_client('MACBETH_FIRST_WITCH')
  one = word_prediction.create_preprocess_fn(vocab, batch_size=1,
                                             shuffle_buffer_size=None)
  two = word_prediction.create_preprocess_fn(vocab, batch_size=1, num_epochs=2,
                                             shuffle_buffer_size=10)
  capped = word_prediction.create_preprocess_fn(vocab, batch_size=1,
                                                max_elements=3)
  num = lambda fn: sum(1 for _ in fn(dataset))
  assert num(two) == 2 * num(one)
  assert num(capped) == 3


def test_load_word_client_data(small_cache_dir, small_plays):
  train, test = word_prediction.load_word_client_data(small_cache_dir,
                                                      small_plays)
  first = next(iter(train.create_tf_dataset_for_client('MACBETH_FIRST_WITCH')))
  assert first['tokens'].numpy() == (
      b'when shall we three meet again in thunder , lightning , or in rain ?')
  assert train.client_ids == test.client_ids


def test_tff_stack_overflow_task_accepts_word_data(small_data, vocab):
  train, test = (word_prediction.to_word_client_data(d) for d in small_data)
  task = word_prediction_tasks.create_word_prediction_task_from_datasets(
      tff.simulation.baselines.ClientSpec(num_epochs=1, batch_size=4), None,
      20, vocab, 1, train, test, None)
  x_spec, y_spec = task.datasets.element_type_structure
  assert x_spec.shape.as_list() == y_spec.shape.as_list() == [None, 20]
