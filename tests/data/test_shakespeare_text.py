"""The text tasks' offline default: Shakespeare speeches, labelled by genre."""

import json

from tff_lstm.data import shakespeare_text
from tff_lstm.data import user_import

_PLAYS = ['tragedies/macbeth.md', 'comedies/as-you-like-it.md']


def test_genre_is_the_wheel_folder():
  assert shakespeare_text.genre('romances/the-tempest.md') == 'romances'


def test_each_role_holds_one_label(tmp_path):
  path = shakespeare_text.ensure_database('labelled_text', str(tmp_path),
                                          play_names=_PLAYS)
  metadata = user_import.read_metadata(path)
  assert json.loads(metadata['label_names']) == ['comedies', 'tragedies']
  rows = [json.loads(line) for line in shakespeare_text.jsonl(
      'labelled_text', _PLAYS).decode().splitlines()]
  labels = {}
  for row in rows:
    labels.setdefault(row['client_id'], set()).add(row['label'])
  assert all(len(v) == 1 for v in labels.values())
  assert labels['MACBETH_MACBETH'] == {'tragedies'}
  assert labels['AS_YOU_LIKE_IT_ROSALIND'] == {'comedies'}
  assert int(metadata['num_clients']) == len(labels)
  text = shakespeare_text.ensure_database('text', str(tmp_path),
                                          play_names=_PLAYS)
  assert user_import.read_metadata(text)['shape'] == 'text'
