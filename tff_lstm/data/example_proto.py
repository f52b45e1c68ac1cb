"""Encodes `tf.train.Example` protos without importing TensorFlow.

Building or checking a database then takes a fraction of a second instead of
TensorFlow's multi-second import, which keeps `make data` cheap. The output is
byte-identical to `tf.train.Example.SerializeToString(deterministic=True)`
(tests/data/test_example_proto.py holds it to that).
"""

from collections.abc import Mapping, Sequence
import struct
from typing import Union

FeatureValue = Union[bytes, str, int, float, Sequence[Union[bytes, str]],
                     Sequence[int], Sequence[float]]

# Field numbers from tensorflow/core/example/{example,feature}.proto.
_LEN = 2  # Wire type of length-delimited fields.
_BYTES_LIST, _FLOAT_LIST, _INT64_LIST = 1, 2, 3


def _varint(value: int) -> bytes:
  if value < 0:
    value += 1 << 64  # int64 fields encode negatives as 10-byte varints.
  out = bytearray()
  while True:
    low = value & 0x7F
    value >>= 7
    if value:
      out.append(low | 0x80)
    else:
      out.append(low)
      return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
  return _varint(number << 3 | _LEN) + _varint(len(payload)) + payload


def _as_list(value: FeatureValue) -> list:
  if isinstance(value, (bytes, str, int, float)):
    return [value]
  return list(value)


def _kind_of(values: list) -> int:
  """Picks the Feature kind from the Python types, as `tf.train` would."""
  if all(isinstance(v, (bytes, str)) for v in values):
    return _BYTES_LIST
  if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
    return _INT64_LIST
  if all(isinstance(v, (int, float)) and not isinstance(v, bool)
         for v in values):
    return _FLOAT_LIST
  raise TypeError(f'Mixed or unsupported feature values: {values!r}')


def _encode_feature(value: FeatureValue) -> bytes:
  values = _as_list(value)
  if not values:
    raise ValueError('Empty features cannot be parsed as FixedLenFeature.')
  kind = _kind_of(values)
  if kind == _BYTES_LIST:
    payload = b''.join(
        _field(1, v.encode('utf-8') if isinstance(v, str) else v)
        for v in values)
  elif kind == _INT64_LIST:
    payload = _field(1, b''.join(_varint(v) for v in values))
  else:
    payload = _field(1, struct.pack(f'<{len(values)}f', *values))
  return _field(kind, payload)


def encode_example(features: Mapping[str, FeatureValue]) -> bytes:
  """Serializes `features` as a `tf.train.Example`.

  Args:
    features: feature name to a value or a list of values, all `bytes`/`str`
      (bytes_list), all `int` (int64_list) or `float` (float_list).

  Returns:
    The serialized proto; keys are written sorted so output is deterministic.
  """
  entries = b''.join(
      _field(1, _field(1, key.encode('utf-8')) +
             _field(2, _encode_feature(features[key])))
      for key in sorted(features))
  return _field(1, entries)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
  result = shift = 0
  while True:
    byte = data[pos]
    pos += 1
    result |= (byte & 0x7F) << shift
    shift += 7
    if not byte & 0x80:
      return result, pos


def _fields(data: bytes):
  """Yields `(field number, wire type, value)`; bytes for length-delimited."""
  pos = 0
  while pos < len(data):
    key, pos = _read_varint(data, pos)
    number, wire_type = key >> 3, key & 7
    if wire_type == 0:
      value, pos = _read_varint(data, pos)
    elif wire_type == _LEN:
      length, pos = _read_varint(data, pos)
      value, pos = data[pos:pos + length], pos + length
    elif wire_type == 5:
      value, pos = data[pos:pos + 4], pos + 4
    elif wire_type == 1:
      value, pos = data[pos:pos + 8], pos + 8
    else:
      raise ValueError(f'Unsupported wire type {wire_type}.')
    yield number, wire_type, value


def _decode_feature(data: bytes) -> list:
  values = []
  for kind, _, payload in _fields(data):
    for _, wire_type, value in _fields(payload):
      if kind == _BYTES_LIST:
        values.append(value)
      elif kind == _INT64_LIST:
        packed = value if wire_type == _LEN else _varint(value)
        pos = 0
        while pos < len(packed):
          number, pos = _read_varint(packed, pos)
          values.append(number - (1 << 64) if number >= 1 << 63 else number)
      else:
        values.extend(struct.unpack(f'<{len(value) // 4}f', value))
  return values


def decode_example(data: bytes) -> dict[str, list]:
  """Reads a serialized `tf.train.Example` back into lists of values.

  For inspecting databases (statistics, tests) without TensorFlow.
  """
  features = {}
  for _, _, features_message in _fields(data):
    for _, _, entry in _fields(features_message):
      key, value = '', b''
      for number, _, part in _fields(entry):
        if number == 1:
          key = part.decode('utf-8')
        else:
          value = part
      features[key] = _decode_feature(value)
  return features
