"""ItalyPowerDemand from the aeon wheel: parsed, partitioned by seed, built."""

import collections
import sqlite3

import pytest

from tff_lstm.data import example_proto
from tff_lstm.data import signal_sets


def test_parse_ts_reads_series_and_labels():
  data = b'# comment\n@problemName X\n@data\n1.5,2,-3:2\n0,0,0:1\n'
  assert signal_sets.parse_ts(data, 'x.ts') == [([1.5, 2.0, -3.0], '2'),
                                                ([0.0, 0.0, 0.0], '1')]
  with pytest.raises(ValueError, match='x.ts, line 3: a reading is not'):
    signal_sets.parse_ts(b'@data\n1,2:1\nnan,1:2\n', 'x.ts')


def test_partition_is_seeded_and_covers_every_day_once():
  parts = signal_sets.partition(1096)
  assert parts == signal_sets.partition(1096)
  assert parts != signal_sets.partition(1096, seed=1)
  assert sorted(i for p in parts for i in p) == list(range(1096))
  assert {len(p) for p in parts} == {54, 55}


def test_database_has_every_day_in_twenty_clients(tmp_path):
  path = signal_sets.ensure_italy_power_database(str(tmp_path))
  con = sqlite3.connect(path)
  rows = con.execute('SELECT split_name, client_id, serialized_example_proto '
                     'FROM examples').fetchall()
  assert len(rows) == 1096
  assert len({c for _, c, _ in rows}) == 20
  labels = collections.Counter(
      example_proto.decode_example(p)['label'][0] for _, _, p in rows)
  assert sorted(labels) == [0, 1] and min(labels.values()) > 500
  splits = collections.Counter(s for s, _, _ in rows)
  assert splits == {'train': 880, 'test': 216}
  assert len(example_proto.decode_example(rows[0][2])['values']) == 24
