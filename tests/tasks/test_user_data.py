"""A missing, absent or wrong-shape database flag is reported clearly."""

import pytest

from tff_lstm.data import user_import
from tff_lstm.tasks import user_data


@pytest.fixture
def text_db(tmp_path):
  source = tmp_path / 'notes.csv'
  source.write_text('client_id,text\na,one\na,two\na,three\nb,four\nb,five\n')
  path = str(tmp_path / 'notes.sqlite')
  user_import.import_file(str(source), path, 'text')
  return path


def test_missing_flag_names_it():
  with pytest.raises(ValueError, match='--database_path') as error:
    user_data.check_database(None, 'text', 'text_lm')
  assert "'text_lm'" in str(error.value)
  assert '--shape=text' in str(error.value)


def test_absent_file(tmp_path):
  with pytest.raises(FileNotFoundError, match='no file at .*nothing.sqlite'):
    user_data.check_database(str(tmp_path / 'nothing.sqlite'), 'text', 'x')


def test_wrong_shape(text_db):
  with pytest.raises(ValueError, match="holds 'text' data.*'timeseries'"):
    user_data.check_database(text_db, 'timeseries', 'timeseries_forecast')


def test_not_an_import(tmp_path):
  other = tmp_path / 'other.sqlite'
  other.write_bytes(b'not sqlite')
  with pytest.raises(user_import.UserImportError, match='not a database'):
    user_data.check_database(str(other), 'text', 'text_lm')


def test_metadata_and_client_sizes(text_db):
  path, metadata = user_data.check_database(text_db, 'text', 'text_lm')
  assert path == text_db
  assert metadata['shape'] == 'text'
  assert user_data.client_sizes(path) == {'train': {'a': 2, 'b': 1},
                                          'test': {'a': 1, 'b': 1}}
