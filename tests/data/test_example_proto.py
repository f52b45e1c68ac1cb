"""The TensorFlow-free encoder must match TensorFlow byte for byte."""

import pytest
import tensorflow as tf

from tff_lstm.data import example_proto


def _reference(features):
  """What tf.train builds for the same values."""
  proto = {}
  for key, values in features.items():
    values = values if isinstance(values, list) else [values]
    if isinstance(values[0], str):
      values = [v.encode('utf-8') for v in values]
    if isinstance(values[0], bytes):
      proto[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=values))
    elif all(isinstance(v, int) for v in values):
      proto[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=values))
    else:
      proto[key] = tf.train.Feature(float_list=tf.train.FloatList(value=values))
  return tf.train.Example(features=tf.train.Features(
      feature=proto)).SerializeToString(deterministic=True)


@pytest.mark.parametrize('features', [
    {'snippets': b'Hark!'},
    {'snippets': 'When shall we three meet again\n' * 40},
    {'snippets': ''},
    {'text': 'caf\u00e9', 'label': 3},
    {'timestamp': -1704067200, 'values': [1.5, -2.25, 0.0]},
    {'b': [1, -5, 2**40, 0], 'a': [0.5], 'c': [b'', b'y' * 200]},
])
def test_matches_tensorflow(features):
  assert example_proto.encode_example(features) == _reference(features)


def test_tensorflow_parses_it():
  parsed = tf.io.parse_single_example(
      example_proto.encode_example({'text': 'hi', 'values': [1.0, 2.0]}),
      {'text': tf.io.FixedLenFeature((), tf.string),
       'values': tf.io.FixedLenFeature((2,), tf.float32)})
  assert parsed['text'].numpy() == b'hi'
  assert parsed['values'].numpy().tolist() == [1.0, 2.0]


def test_decode_round_trip():
  features = {'a': [0.5, 1.25], 'b': [1, -5, 2**40], 'c': [b'', b'xyz']}
  assert example_proto.decode_example(
      example_proto.encode_example(features)) == features
  reference = _reference({'snippets': b'Hark!'})
  assert example_proto.decode_example(reference) == {'snippets': [b'Hark!']}


@pytest.mark.parametrize('bad', [[], [1, 'a'], [True]])
def test_rejects_unencodable_values(bad):
  with pytest.raises((TypeError, ValueError)):
    example_proto.encode_example({'x': bad})
