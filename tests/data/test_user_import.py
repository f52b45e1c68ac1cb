"""Importing a user's own CSV/JSONL sequences, and every kind of bad input."""

import csv
import json
import os

import numpy as np
import pytest

from tff_lstm.data import sql_writer
from tff_lstm.data import user_import


def _write(tmp_path, name, content):
  path = tmp_path / name
  if isinstance(content, str):
    content = content.encode('utf-8')
  path.write_bytes(content)
  return str(path)


def _jsonl(*objects):
  return '\n'.join(json.dumps(o) for o in objects) + '\n'


def _examples(client_data, client_id):
  return list(client_data.create_tf_dataset_for_client(client_id)
              .as_numpy_iterator())


def test_text_csv(tmp_path):
  source = _write(tmp_path, 'notes.csv', (
      'client_id,text\n'
      'bob,first\n'
      'alice,"a, quoted\nmulti-line note"\n'
      'bob,second\n'
      '\n'
      'alice,later\n'
      'bob,third\n'
      'bob,fourth\n'
      'bob,fifth\n'))
  output = str(tmp_path / 'out' / 'notes.sqlite')
  summary = user_import.import_file(source, output, 'text')
  assert (summary.clients, summary.train_examples, summary.test_examples) == (
      2, 5, 2)
  train, test = user_import.load_client_data(output)
  assert train.client_ids == test.client_ids == ['alice', 'bob']
  assert [e['text'] for e in _examples(train, 'alice')] == [
      b'a, quoted\nmulti-line note']
  assert [e['text'] for e in _examples(test, 'alice')] == [b'later']
  assert [e['text'] for e in _examples(train, 'bob')] == [
      b'first', b'second', b'third', b'fourth']
  assert [e['text'] for e in _examples(test, 'bob')] == [b'fifth']
  assert user_import.read_metadata(output)['shape'] == 'text'


def test_labelled_text_jsonl(tmp_path):
  source = _write(tmp_path, 'reviews.jsonl', _jsonl(
      {'client_id': 'u1', 'text': 'great', 'label': 'pos'},
      {'client_id': 'u1', 'text': 'awful', 'label': 'neg'},
      {'client_id': 'u2', 'text': 'fine', 'label': 'neutral'},
      {'client_id': 'u2', 'text': 'bad', 'label': 'neg'}))
  output = str(tmp_path / 'reviews.sqlite')
  user_import.import_file(source, output, 'labelled_text')
  assert json.loads(user_import.read_metadata(output)['label_names']) == [
      'neg', 'neutral', 'pos']
  train, test = user_import.load_client_data(output)
  (first,) = _examples(train, 'u1')
  assert (first['text'], first['label']) == (b'great', 2)
  assert _examples(test, 'u2')[0]['label'] == 0


def test_integer_labels_sort_numerically(tmp_path):
  source = _write(tmp_path, 'stars.csv', 'client_id,text,label\n'
                  'a,x,10\na,y,2\nb,z,1\nb,w,2\n')
  output = str(tmp_path / 'stars.sqlite')
  user_import.import_file(source, output, 'labelled_text')
  assert json.loads(user_import.read_metadata(output)['label_names']) == [
      '1', '2', '10']


def test_timeseries_csv_sorted_by_time(tmp_path):
  source = _write(tmp_path, 'meters.csv', (
      'client_id,timestamp,kwh,volts\n'
      'm1,2024-01-01T00:10:00,1.0,230\n'
      'm1,2024-01-01T00:00:00,0.5,229.5\n'
      'm1,2024-01-01T00:05:00Z,0.75,231\n'
      'm2,2024-01-02,2,240\n'
      'm2,2024-01-03,3,241\n'))
  output = str(tmp_path / 'meters.sqlite')
  user_import.import_file(source, output, 'timeseries')
  info = user_import.read_metadata(output)
  assert json.loads(info['value_names']) == ['kwh', 'volts']
  assert info['timestamp_kind'] == 'datetime'
  train, test = user_import.load_client_data(output)
  m1 = _examples(train, 'm1')
  assert [e['timestamp'] for e in m1] == [1704067200, 1704067500]
  np.testing.assert_allclose(m1[0]['values'], [0.5, 229.5])
  assert m1[0]['values'].dtype == np.float32
  assert [e['timestamp'] for e in _examples(test, 'm1')] == [1704067800]
  assert train.element_type_structure['values'].shape == (2,)


def test_timeseries_jsonl_integer_steps(tmp_path):
  source = _write(tmp_path, 'steps.jsonl', _jsonl(
      {'client_id': 'd', 'timestamp': 2, 'x': 0.2},
      {'client_id': 'd', 'timestamp': 1, 'x': '0.1'},
      {'client_id': 'd', 'timestamp': '3', 'x': 0.3}))
  output = str(tmp_path / 'steps.sqlite')
  user_import.import_file(source, output, 'timeseries')
  train, test = user_import.load_client_data(output)
  assert [e['timestamp'] for e in _examples(train, 'd')] == [1, 2]
  assert [e['timestamp'] for e in _examples(test, 'd')] == [3]


_TS = 'client_id,timestamp,v\n'
_BAD_INPUTS = [
    # (shape, file name, content, line, message fragment)
    ('text', 'a.csv', 'client_id\nx\n', 1, "missing column 'text'"),
    ('text', 'a.csv', 'client_id,text,label\nx,y,z\n', 1,
     "unexpected column 'label'"),
    ('labelled_text', 'a.jsonl', _jsonl(
        {'client_id': 'a', 'text': 't', 'label': 1},
        {'client_id': 'a', 'text': 't'}), 2, "missing column 'label'"),
    ('timeseries', 'a.csv', 'client_id,timestamp\na,1\n', 1,
     'at least one value column'),
    ('text', 'a.csv', 'client_id,text\na,x\n ,y\na,z\n', 3, 'empty client_id'),
    ('text', 'a.jsonl', _jsonl({'client_id': None, 'text': 'x'}), 1,
     'empty client_id'),
    ('text', 'a.csv', "client_id,text\no'brien,x\no'brien,y\n", 2, 'quote'),
    ('text', 'a.csv', 'client_id,text\na,x\nb,y\na,z\n', 3,
     "client 'b' has only 1 row"),
    ('text', 'a.csv', 'client_id,text\na,x\na,   \n', 3, 'empty text'),
    ('labelled_text', 'a.csv', 'client_id,text,label\na,x,\na,y,1\n', 2,
     'empty label'),
    ('timeseries', 'a.csv', _TS + 'a,1,0.5\na,2,high\n', 3,
     "non-numeric value 'high' in column 'v'"),
    ('timeseries', 'a.csv', _TS + 'a,1,0.5\na,2,\n', 3, 'missing value'),
    ('timeseries', 'a.csv', _TS + 'a,1,0.5\na,2,nan\n', 3,
     "client 'a': non-finite"),
    ('timeseries', 'a.csv', _TS + 'a,1,0.5\nb,2,-inf\n', 3,
     "client 'b': non-finite value '-inf'"),
    ('timeseries', 'a.jsonl', _jsonl({'client_id': 'a', 'timestamp': 1,
                                      'v': True}), 1, 'non-numeric'),
    ('timeseries', 'a.csv', _TS + 'a,1,0.5\nb,1,1\na,01,2\n', 4,
     "duplicate timestamp '01' for client 'a' (first on line 2)"),
    ('timeseries', 'a.csv', _TS + 'a,yesterday,1\n', 2,
     'neither an integer nor an ISO 8601'),
    ('timeseries', 'a.csv', _TS + 'a,2024-01-01T00:00:00.5,1\n', 2,
     'fractions of a second'),
    ('timeseries', 'a.csv', _TS + 'a,1,1\na,2024-01-01,2\n', 3,
     'mix integers and dates'),
    ('text', 'a.csv', 'client_id,text\na,ok\na,caf\xe9\n'.encode('latin-1'),
     3, 'not valid UTF-8'),
    ('text', 'a.csv', 'client_id,text\na,x,extra\n', 2, 'expected 2 fields'),
    ('text', 'a.csv', 'client_id,text\na,"unclosed\n', 2, 'bad CSV'),
    ('text', 'a.jsonl', '{"client_id": "a", "text": "x"}\n{oops\n', 2,
     'invalid JSON'),
    ('text', 'a.jsonl', '["a", "x"]\n', 1, 'JSON object'),
    ('text', 'a.csv', '', None, 'empty file'),
    ('text', 'a.csv', 'client_id,text\n', None, 'no data rows'),
    ('text', 'a.txt', 'client_id,text\n', None, 'cannot tell the format'),
]


@pytest.mark.parametrize('shape,name,content,line,fragment', _BAD_INPUTS)
def test_bad_input_names_file_line_and_problem(tmp_path, shape, name, content,
                                               line, fragment):
  source = _write(tmp_path, name, content)
  output = str(tmp_path / 'out.sqlite')
  with pytest.raises(user_import.UserImportError) as error:
    user_import.import_file(source, output, shape)
  message = str(error.value)
  assert fragment in message
  assert error.value.line == line
  expected_start = f'{source}, line {line}: ' if line else f'{source}: '
  assert message.startswith(expected_start)
  assert os.listdir(tmp_path) == [name]  # Nothing written, no temp file.


def test_small_clients_can_be_dropped(tmp_path):
  source = _write(tmp_path, 'a.csv', 'client_id,text\na,x\nb,y\na,z\n')
  summary = user_import.import_file(source, str(tmp_path / 'o.sqlite'), 'text',
                                    drop_small_clients=True)
  assert summary.dropped_clients == ('b',)
  assert summary.clients == 1


def test_failed_reimport_keeps_previous_database(tmp_path):
  output = str(tmp_path / 'o.sqlite')
  good = _write(tmp_path, 'good.csv', 'client_id,text\na,x\na,y\n')
  user_import.import_file(good, output, 'text')
  with open(output, 'rb') as f:
    before = f.read()
  bad = _write(tmp_path, 'bad.csv', 'client_id,text\na,x\na,\n')
  with pytest.raises(user_import.UserImportError):
    user_import.import_file(bad, output, 'text')
  with open(output, 'rb') as f:
    assert f.read() == before
  assert sorted(os.listdir(tmp_path)) == ['bad.csv', 'good.csv', 'o.sqlite']


def test_never_overwrites_a_foreign_file(tmp_path):
  output = tmp_path / 'o.sqlite'
  output.write_bytes(b'my precious data')
  good = _write(tmp_path, 'good.csv', 'client_id,text\na,x\na,y\n')
  with pytest.raises(sql_writer.ForeignDatabaseError, match=str(output)):
    user_import.import_file(good, str(output), 'text')
  assert output.read_bytes() == b'my precious data'


def test_unknown_shape(tmp_path):
  source = _write(tmp_path, 'a.csv', 'client_id,text\na,x\na,y\n')
  with pytest.raises(user_import.UserImportError, match='unknown shape'):
    user_import.import_file(source, str(tmp_path / 'o.sqlite'), 'audio')


def test_long_csv_field_imports_as_from_jsonl(tmp_path):
  # Past Python's csv default limit (131,072 characters), like a long document.
  long_text = ''.join(chr(ord('a') + i % 26) for i in range(200_000))
  limit_before = csv.field_size_limit()
  csv_source = _write(tmp_path, 'long.csv',
                      f'client_id,text\na,"{long_text}"\na,short\n')
  jsonl_source = _write(tmp_path, 'long.jsonl', _jsonl(
      {'client_id': 'a', 'text': long_text},
      {'client_id': 'a', 'text': 'short'}))
  from_csv, from_jsonl = str(tmp_path / 'c.sqlite'), str(tmp_path / 'j.sqlite')
  user_import.import_file(csv_source, from_csv, 'text')
  user_import.import_file(jsonl_source, from_jsonl, 'text')
  assert sql_writer.content_hash(from_csv) == sql_writer.content_hash(
      from_jsonl)
  train, _ = user_import.load_client_data(from_csv)
  (example,) = _examples(train, 'a')
  assert example['text'].decode() == long_text
  assert csv.field_size_limit() == limit_before  # Only our reader's limit.


def test_csv_field_over_the_limit_is_named():
  text = 'client_id,text\na,short\na,' + 'x' * 11 + '\n'
  # 256 Mi characters would take gigabytes here; the same reader, lower limit.
  with pytest.raises(user_import.UserImportError) as error:
    # pylint: disable-next=protected-access
    user_import._csv_rows('a.csv', text, field_size_limit=10)
  assert str(error.value) == (
      'a.csv, line 3: bad CSV: a field is longer than 10 characters, the most '
      'one CSV field may hold here; split the text into several rows')
  assert user_import.CSV_FIELD_SIZE_LIMIT == 256 * 1024 * 1024


@pytest.mark.parametrize('test_fraction', [0, 1, 1.5, -0.2])
def test_test_fraction_out_of_range_is_refused_first(tmp_path, test_fraction):
  source = _write(tmp_path, 'a.csv', 'client_id,text\na,x\na,y\n')
  with pytest.raises(ValueError, match=r'test_fraction must be in \(0, 1\)'):
    user_import.import_file(source, str(tmp_path / 'o.sqlite'), 'text',
                            test_fraction=test_fraction)
  assert os.listdir(tmp_path) == ['a.csv']


def test_unwritable_output_is_refused_before_reading_the_input(tmp_path):
  (tmp_path / 'afile').write_text('a regular file')
  output = str(tmp_path / 'afile' / 'o.sqlite')
  never_read = str(tmp_path / 'huge.csv')  # Absent: reading it would fail.
  with pytest.raises(sql_writer.UnwritableOutputError) as error:
    user_import.import_file(never_read, output, 'text')
  assert str(error.value) == (
      f'cannot write {output}: {tmp_path / "afile"} is a file, not a '
      'directory.')
  assert os.listdir(tmp_path) == ['afile']


def test_damaged_earlier_import_is_named_not_replaced(tmp_path):
  source = _write(tmp_path, 'a.csv', 'client_id,text\n' + ''.join(
      f'c{i % 20},row {i} {"x" * (i % 300)}\n' for i in range(3000)))
  output = tmp_path / 'o.sqlite'
  user_import.import_file(source, str(output), 'text')
  data = output.read_bytes()
  output.write_bytes(data[:len(data) // 2])
  with pytest.raises(sql_writer.DamagedDatabaseError) as error:
    user_import.import_file(source, str(output), 'text')
  assert str(error.value).startswith(
      f'{output} is a damaged SQLite database (truncated to ')
  assert output.read_bytes() == data[:len(data) // 2]
  assert sorted(os.listdir(tmp_path)) == ['a.csv', 'o.sqlite']
