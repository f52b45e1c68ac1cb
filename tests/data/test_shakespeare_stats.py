"""The dataset card's statistics, computed from the database file."""

from tff_lstm.data import shakespeare
from tff_lstm.data import shakespeare_stats


def test_stats_match_the_client_data(full_cache_dir, full_client_data):
  train, test = full_client_data
  stats = shakespeare_stats.database_stats(
      shakespeare.database_path(full_cache_dir))
  assert stats.clients == len(train.client_ids) == len(test.client_ids)
  clients = shakespeare.build_clients(shakespeare.parse_plays())
  assert stats.splits['train'].examples == sum(len(c.train) for c in clients)
  assert stats.splits['test'].examples == sum(len(c.test) for c in clients)
  assert stats.splits['train'].characters == sum(
      len(s) for c in clients for s in c.train)
  assert stats.splits['test'].per_client_min == 1
  assert stats.splits['train'].per_client_min >= 1


def test_table_shows_ours_beside_tff_and_leaf(full_cache_dir):
  plays = shakespeare.parse_plays()
  source = shakespeare_stats.source_stats(plays)
  assert source.plays == 37
  assert source.roles - source.roles_dropped == len(
      shakespeare.build_clients(plays))
  table = shakespeare_stats.format_table(
      shakespeare_stats.database_stats(
          shakespeare.database_path(full_cache_dir)), source)
  for number in ('715', '16,068', '2,356', '1,129'):
    assert number in table
  assert table.splitlines()[0].startswith('| | tff-lstm')


def test_repairs_table_lists_every_kind():
  plays = shakespeare.parse_plays()
  table = shakespeare_stats.format_repairs(plays)
  for kind in ('split_speaker_name', 'bold_verse_line', 'erratum',
               'role_alias', 'bracketed_direction'):
    assert f'| `{kind}` |' in table
