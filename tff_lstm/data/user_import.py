"""Imports a user's own sequences (CSV or JSONL) as federated `ClientData`.

Three shapes, one example per input row:

  text            client_id,text             -> {'text': string}
  labelled_text   client_id,text,label       -> {'text': string, 'label': int64}
  timeseries      client_id,timestamp,v1[,v2...]
                                             -> {'timestamp': int64,
                                                 'values': float32[k]}

CSV files need a header naming the columns (for timeseries, every column
after `timestamp` is a value column, whatever its name); JSONL files hold one
object per line with the same keys. Labels are class names, numbered in
sorted order (numerically when all are integers); the names are kept in the
database. Timestamps are integers (a step or Unix seconds) or ISO 8601
dates/times in whole seconds (stored as Unix seconds, UTC unless a zone is
given). A time series example is one reading, not a window: forecasting
windows are cut at preprocessing time from a client's consecutive examples,
as character windows are cut from Shakespeare speeches.

Each client's rows, in file order (by time for timeseries), are split by
`splits.split_later`: the later 20% (at least one) are test, so each client
needs at least two rows. Every problem is reported as a `UserImportError`
naming file, line and cause, before anything is written, and so is an output
path that cannot be written or holds a file that is not ours to replace; the
database is then written atomically, so a failed import leaves no file behind.

A CSV field may hold up to `CSV_FIELD_SIZE_LIMIT` characters, well beyond
Python's default of 131,072, so that a long document imports from CSV as it
does from JSONL (whose lines have no limit); the bound stays, as a limit on
what one field can make the reader hold.
"""

import collections
import csv
import dataclasses
import datetime
import hashlib
import io
import json
import math
import os
import re
from typing import Optional

from tff_lstm.data import example_proto
from tff_lstm.data import splits
from tff_lstm.data import sql_writer

BUILDER = 'tff_lstm.data.user_import'
BUILDER_VERSION = '1'
SHAPES = ('text', 'labelled_text', 'timeseries')
FORMATS = ('csv', 'jsonl')
_EXTENSIONS = {'.csv': 'csv', '.jsonl': 'jsonl', '.ndjson': 'jsonl'}
_REQUIRED = {
    'text': ('client_id', 'text'),
    'labelled_text': ('client_id', 'text', 'label'),
    'timeseries': ('client_id', 'timestamp'),
}
_INTEGER = re.compile(r'[+-]?\d+')
CSV_FIELD_SIZE_LIMIT = 256 * 1024 * 1024  # Characters, i.e. 256 Mi.


class UserImportError(ValueError):
  """Bad input: the message names the file, the line and the problem."""

  def __init__(self, path: str, line: Optional[int], problem: str):
    self.path, self.line, self.problem = path, line, problem
    where = f'{path}, line {line}' if line else path
    super().__init__(f'{where}: {problem}')


@dataclasses.dataclass(frozen=True)
class ImportSummary:
  path: str
  shape: str
  clients: int
  train_examples: int
  test_examples: int
  dropped_clients: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class _Row:
  line: int
  values: dict  # Column name -> raw value (str for CSV; any JSON value).


def _decode(path: str, data: bytes) -> str:
  try:
    return data.decode('utf-8-sig')
  except UnicodeDecodeError as e:
    line = data.count(b'\n', 0, e.start) + 1
    raise UserImportError(
        path, line, f'not valid UTF-8 (byte 0x{data[e.start]:02x}); save the '
        'file as UTF-8') from None


def _csv_rows(path: str, text: str,
              field_size_limit: int = CSV_FIELD_SIZE_LIMIT
              ) -> tuple[list[str], int, list[_Row]]:
  """The header, its line, and the rows, each with the line it starts on."""
  # The csv module has one process-wide limit; ours holds while we read.
  previous_limit = csv.field_size_limit(field_size_limit)
  try:
    return _read_csv(path, text, field_size_limit)
  finally:
    csv.field_size_limit(previous_limit)


def _read_csv(path: str, text: str, field_size_limit: int):
  reader = csv.reader(io.StringIO(text, newline=''), strict=True)
  rows, header, header_line, start = [], None, 0, 1
  try:
    for record in reader:
      line, start = start, reader.line_num + 1
      if not record or all(not field.strip() for field in record):
        continue  # Blank line.
      if header is None:
        header, header_line = [name.strip() for name in record], line
        for name in header:
          if not name:
            raise UserImportError(path, line, 'empty column name in header')
          if header.count(name) > 1:
            raise UserImportError(path, line, f'duplicate column {name!r}')
        continue
      if len(record) != len(header):
        raise UserImportError(
            path, line, f'expected {len(header)} fields '
            f'({", ".join(header)}), found {len(record)}')
      rows.append(_Row(line, dict(zip(header, record))))
  except csv.Error as e:
    if 'field larger than field limit' in str(e):
      raise UserImportError(
          path, reader.line_num, f'bad CSV: a field is longer than '
          f'{field_size_limit:,} characters, the most one CSV field may hold '
          'here; split the text into several rows') from None
    raise UserImportError(path, reader.line_num, f'bad CSV: {e}') from None
  if header is None:
    raise UserImportError(path, None, 'empty file: no header row')
  return header, header_line, rows


def _jsonl_rows(path: str, text: str) -> tuple[list[str], int, list[_Row]]:
  rows, header = [], None
  for line, content in enumerate(text.splitlines(), start=1):
    if not content.strip():
      continue
    try:
      value = json.loads(content)
    except json.JSONDecodeError as e:
      raise UserImportError(path, line, f'invalid JSON: {e.msg}') from None
    if not isinstance(value, dict):
      raise UserImportError(path, line, 'expected a JSON object per line')
    if header is None:
      header = list(value)
    rows.append(_Row(line, value))
  return header or [], 0, rows


def _check_columns(path: str, shape: str, header: list[str],
                   header_line: int, rows: list[_Row]) -> list[str]:
  """Validates the columns; returns the value columns of a time series."""
  required = _REQUIRED[shape]
  value_columns = [c for c in header if c not in required]
  expected = list(required) + (value_columns if shape == 'timeseries' else [])
  # A CSV header names the columns once; each JSONL object names its own.
  checks = [(header_line, header)] if header_line else [
      (row.line, list(row.values)) for row in rows]
  for line, columns in checks:
    for name in expected:
      if name not in columns:
        raise UserImportError(
            path, line, f'missing column {name!r} (found: '
            f'{", ".join(columns) or "none"})')
    for name in columns:
      if name not in expected:
        raise UserImportError(
            path, line, f'unexpected column {name!r} for shape {shape!r} '
            f'(expected: {", ".join(required)}'
            f'{", value..." if shape == "timeseries" else ""})')
  if shape == 'timeseries' and not value_columns:
    raise UserImportError(
        path, header_line or rows[0].line,
        'missing column: a time series needs at least one value column after '
        'client_id and timestamp')
  return value_columns


def _string(path: str, row: _Row, column: str) -> str:
  value = row.values[column]
  if value is None:
    value = ''
  if isinstance(value, (dict, list, bool)):
    raise UserImportError(path, row.line, f'{column} must be a string')
  return str(value)


def _client_id(path: str, row: _Row) -> str:
  client_id = _string(path, row, 'client_id').strip()
  if not client_id:
    raise UserImportError(path, row.line, 'empty client_id')
  if sql_writer.FORBIDDEN_CLIENT_ID_CHARS.intersection(client_id):
    raise UserImportError(
        path, row.line, f'client_id {client_id!r} contains a quote or '
        'backslash, which TFF\'s SqlClientData cannot query')
  return client_id


def _text(path: str, row: _Row) -> str:
  text = _string(path, row, 'text')
  if not text.strip():
    raise UserImportError(path, row.line, 'empty text')
  return text


def _label(path: str, row: _Row) -> str:
  value = row.values['label']
  if isinstance(value, bool) or isinstance(value, (dict, list)):
    raise UserImportError(path, row.line, 'label must be a string or integer')
  label = '' if value is None else str(value).strip()
  if not label:
    raise UserImportError(path, row.line, 'empty label')
  return label


def _timestamp(path: str, row: _Row) -> tuple[str, int]:
  """('integer' or 'datetime', seconds or steps)."""
  value = row.values['timestamp']
  if isinstance(value, int) and not isinstance(value, bool):
    return 'integer', value
  text = '' if value is None else str(value).strip()
  if not text:
    raise UserImportError(path, row.line, 'empty timestamp')
  if _INTEGER.fullmatch(text):
    return 'integer', int(text)
  try:
    moment = datetime.datetime.fromisoformat(
        text[:-1] + '+00:00' if text.endswith('Z') else text)
  except ValueError:
    raise UserImportError(
        path, row.line, f'timestamp {text!r} is neither an integer nor an '
        'ISO 8601 date/time') from None
  if moment.microsecond:
    raise UserImportError(path, row.line,
                          f'timestamp {text!r} has fractions of a second')
  if moment.tzinfo is None:
    moment = moment.replace(tzinfo=datetime.timezone.utc)
  return 'datetime', int(moment.timestamp())


def _number(path: str, row: _Row, column: str) -> float:
  value = row.values[column]
  if isinstance(value, bool) or isinstance(value, (dict, list)):
    raise UserImportError(path, row.line,
                          f'non-numeric value {value!r} in column {column!r}')
  if isinstance(value, (int, float)):
    number = float(value)
  else:
    text = '' if value is None else str(value).strip()
    if not text:
      raise UserImportError(path, row.line, f'missing value in column '
                            f'{column!r}')
    try:
      number = float(text)
    except ValueError:
      raise UserImportError(
          path, row.line,
          f'non-numeric value {text!r} in column {column!r}') from None
  if not math.isfinite(number):
    raise UserImportError(path, row.line,
                          f'non-finite value {value!r} in column {column!r}')
  return number


def _label_names(labels: set[str]) -> list[str]:
  if all(_INTEGER.fullmatch(label) for label in labels):
    return sorted(labels, key=int)
  return sorted(labels)


def _parse(path: str, shape: str, file_format: str, data: bytes):
  """Validates every row; returns clients' examples in order, and metadata."""
  text = _decode(path, data)
  reader = _csv_rows if file_format == 'csv' else _jsonl_rows
  header, header_line, rows = reader(path, text)
  if not rows:
    raise UserImportError(path, None, 'no data rows')
  value_columns = _check_columns(path, shape, header, header_line, rows)
  clients = collections.defaultdict(list)  # client -> [(sort key, line, ex)]
  metadata = {}
  if shape == 'timeseries':
    first_kind = None
    seen = {}
    for row in rows:
      client = _client_id(path, row)
      kind, timestamp = _timestamp(path, row)
      if first_kind is None:
        first_kind = kind
      elif kind != first_kind:
        raise UserImportError(
            path, row.line, 'timestamps mix integers and dates/times')
      if (client, timestamp) in seen:
        raise UserImportError(
            path, row.line, f'duplicate timestamp {row.values["timestamp"]!r} '
            f'for client {client!r} (first on line '
            f'{seen[(client, timestamp)]})')
      seen[(client, timestamp)] = row.line
      try:
        values = [_number(path, row, c) for c in value_columns]
      except UserImportError as e:
        # A missing or NaN reading is usually one sensor's fault: name it.
        raise UserImportError(path, row.line,
                              f'client {client!r}: {e.problem}') from None
      clients[client].append(
          (timestamp, row.line, {'timestamp': timestamp, 'values': values}))
    metadata['value_names'] = json.dumps(value_columns)
    metadata['timestamp_kind'] = first_kind
  else:
    labels = {}
    for row in rows:
      client = _client_id(path, row)
      example = {'text': _text(path, row)}
      if shape == 'labelled_text':
        labels[row.line] = _label(path, row)
      clients[client].append((row.line, row.line, example))
    if shape == 'labelled_text':
      names = _label_names(set(labels.values()))
      ids = {name: i for i, name in enumerate(names)}
      for examples in clients.values():
        for _, line, example in examples:
          example['label'] = ids[labels[line]]
      metadata['label_names'] = json.dumps(names)
  ordered = {client: [ex for _, _, ex in sorted(examples, key=lambda e: e[:2])]
             for client, examples in clients.items()}
  first_line = {client: min(line for _, line, _ in examples)
                for client, examples in clients.items()}
  return ordered, first_line, metadata


def detect_format(path: str, file_format: Optional[str] = None) -> str:
  if file_format:
    if file_format not in FORMATS:
      raise UserImportError(path, None, f'unknown format {file_format!r}; '
                            f'use one of {", ".join(FORMATS)}')
    return file_format
  extension = os.path.splitext(path)[1].lower()
  if extension not in _EXTENSIONS:
    raise UserImportError(
        path, None, f'cannot tell the format from {extension or "no"} '
        'extension; name the file .csv or .jsonl, or pass the format')
  return _EXTENSIONS[extension]


def import_file(input_path: str,
                output_path: str,
                shape: str,
                file_format: Optional[str] = None,
                test_fraction: float = splits.DEFAULT_TEST_FRACTION,
                drop_small_clients: bool = False) -> ImportSummary:
  """Validates `input_path` and writes it as a `SqlClientData` database.

  Args:
    input_path: a CSV or JSONL file (see the module docstring).
    output_path: the database to write; an existing file is replaced only if
      an earlier import wrote it.
    shape: 'text', 'labelled_text' or 'timeseries'.
    file_format: 'csv' or 'jsonl'; default from the file extension.
    test_fraction: the later part of each client's rows held out for test.
    drop_small_clients: leave out clients with fewer than two rows instead of
      failing.

  Raises:
    UserImportError: the input is malformed; nothing is written.
    ValueError: `test_fraction` is not in (0, 1).
    sql_writer.UnwritableOutputError: `output_path` cannot be written.
    sql_writer.ForeignDatabaseError: `output_path` is a file we did not write
      (`sql_writer.DamagedDatabaseError`: a damaged one).
  """
  if shape not in SHAPES:
    raise UserImportError(input_path, None, f'unknown shape {shape!r}; use '
                          f'one of {", ".join(SHAPES)}')
  if not 0 < test_fraction < 1:
    raise ValueError(f'test_fraction must be in (0, 1), got {test_fraction}.')
  file_format = detect_format(input_path, file_format)
  # The output is checked before the input is read, so a wrong path costs
  # nothing, and is checked again by the writer itself.
  sql_writer.check_writable(output_path)
  sql_writer.check_replaceable(output_path, BUILDER)
  try:
    with open(input_path, 'rb') as f:
      data = f.read()
  except OSError as e:
    raise UserImportError(input_path, None, e.strerror or str(e)) from None
  clients, first_line, metadata = _parse(input_path, shape, file_format, data)
  dropped = []
  for client in sorted(clients):
    if len(clients[client]) < splits.MIN_EXAMPLES:
      if not drop_small_clients:
        raise UserImportError(
            input_path, first_line[client],
            f'client {client!r} has only {len(clients[client])} row; each '
            f'client needs at least {splits.MIN_EXAMPLES} (the later part is '
            'held out for test), or pass drop_small_clients')
      dropped.append(client)
      del clients[client]
  if not clients:
    raise UserImportError(input_path, None,
                          f'no client has {splits.MIN_EXAMPLES} or more rows')
  rows, train_total, test_total = [], 0, 0
  for client in sorted(clients):
    train, test = splits.split_later(clients[client], test_fraction)
    train_total += len(train)
    test_total += len(test)
    for split_name, examples in (('train', train), ('test', test)):
      rows.extend((split_name, client, example_proto.encode_example(e))
                  for e in examples)
  info = {
      'builder': BUILDER,
      'builder_version': BUILDER_VERSION,
      'shape': shape,
      'source_name': os.path.basename(input_path),
      'source_sha256': hashlib.sha256(data).hexdigest(),
      'test_fraction': str(test_fraction),
      'num_clients': str(len(clients)),
      **metadata,
  }
  sql_writer.write_database(output_path, rows, info)
  return ImportSummary(output_path, shape, len(clients), train_total,
                       test_total, tuple(dropped))


def read_metadata(path: str) -> dict[str, str]:
  """The import's build info: shape, label_names, value_names, ..."""
  info = sql_writer.read_build_info(path)
  if info is None or info.get('builder') != BUILDER:
    raise UserImportError(path, None,
                          'not a database written by tff-lstm\'s user import')
  return info


def element_spec(path: str):
  """The parsed element structure of an imported database."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  info = read_metadata(path)
  shape = info['shape']
  if shape == 'timeseries':
    num_values = len(json.loads(info['value_names']))
    return collections.OrderedDict(
        timestamp=tf.TensorSpec((), tf.int64),
        values=tf.TensorSpec((num_values,), tf.float32))
  spec = collections.OrderedDict(text=tf.TensorSpec((), tf.string))
  if shape == 'labelled_text':
    spec['label'] = tf.TensorSpec((), tf.int64)
  return spec


def load_client_data(path: str):
  """(train, test) `ClientData` of parsed examples, via TFF's SQL loader."""
  import tensorflow_federated as tff  # pylint: disable=g-import-not-at-top
  spec = element_spec(path)
  return tuple(
      tff.simulation.datasets.load_and_parse_sql_client_data(
          path, spec, split_name=split_name)
      for split_name in ('train', 'test'))
