"""Looks for parsing mistakes in parsed plays, which no parser rule explains.

The parser reports what it could not explain (`ParsedPlay.issues`); these
checks read its output instead, because the worst mistakes are silent: a
speaker label left inside someone else's speech
(`Lord Chief-Justice What's he that goes there?` in FALSTAFF's), a heading
read as verse, a stage direction kept as speech. Anything found is a rule or
an erratum that `play_parser` or `play_errata` still lacks.

The checks for those three are heuristics, tuned on all 37 plays: on the
output of the parser before its fixes they flag every line that was fixed,
and on ordinary verse nothing ("Edward Plantagenet, arise", "such a /
Pyramus: I hope she will be brief."). What they flag is recorded in the
build info and listed in the dataset card.
"""

import dataclasses
import re

from tff_lstm.data import play_parser

# Stage directions and headings that must never come out as roles.
_DIRECTION_WORDS = frozenset({
    'ALARUM', 'ALARUMS', 'ASIDE', 'DIES', 'DUMB', 'ENTER', 'EXCURSIONS',
    'EXEUNT', 'EXIT', 'FLOURISH', 'HAUTBOYS', 'KNOCKING', 'MANET', 'MUSIC',
    'READS', 'RE-ENTER', 'RETREAT', 'SENNET', 'SINGS', 'SONG', 'SOUND',
    'THUNDER', 'TRUMPETS', 'TUCKET', 'WITHIN',
})
_HEADING_ROLE = re.compile(r'(ACT|SCENE|INDUCTION|INTERMISSION)\b|[IVXLC]+$')
_ROLE_SHAPE = re.compile(r"[A-Z][A-Z0-9' -]*")
_MARKUP = re.compile(r'[_*#\\\[\]]')
_CAPS_LINE = re.compile(r"[A-Z][A-Z' -]*[A-Z]")

# A speaker label at the start of a line: up to four words, then `: ` or a
# space and the first spoken word, capitalised (or a quote). Before a colon,
# any role of the play (`CASSIO: Good night, honest Iago.`); before a space,
# only a label shaped like one, since a name followed by a capital is mostly
# verse ("Edward Plantagenet, arise", "Julia I lose"): an ordinal or `All`
# before a noun of office or trade (`First 'Prentice`, `Second murderer`),
# a master's servant (`Varro's Servant`), `Serving-Men`, or `Lord` before a
# name (`Lord Chief-Justice`), whether or not the play heads a speech with it.
_LABEL_WORDS = re.compile(r"[A-Za-z'][\w' -]*")
_LABEL_SHAPE = re.compile(
    r"(?:First|Second|Third|Fourth|Fifth|All|Both) (?:[A-Z][\w'-]* )?"
    r"'?[A-Za-z-]*(?:[Ss]ervants?|[Ss]erving-?[Mm][ae]n|[Pp]rentices?|"
    r"[Mm]urderers?|[Cc]itizens?|[Ww]atchm[ae]n|[Gg]entlem[ae]n|"
    r"[Ss]oldiers?|[Ss]enators?|[Mm]essengers?|[Oo]fficers?|[Ll]ords?|"
    r"[Ll]adies|[Ll]ady|[Mm]usicians?|[Oo]utlaws?|[Ww]itch(?:es)?|"
    r"[Pp]layers?|[Gg]uards?|[Aa]ttendants?|[Cc]onspirators?|"
    r"[Ff]isherm[ae]n|[Cc]arriers?|[Kk]eepers?|[Ss]ailors?|[Pp]irates?|"
    r"[Nn]eighbours?|[Gg]aolers?|[Ww]arders?|[Ss]trangers?)"
    r"|[A-Z][a-z]+(?:'s|') Servants?|Serving-?[Mm]en"
    r"|Lord [A-Z][\w'-]+")
_SENTENCE_END = ('.', '?', '!', '--')  # '--': broken off.
# A heading inside a speech: an act or scene, or a song heading.
_HEADING_LINE = re.compile(
    r"(?:ACT|SCENE|Act|Scene) [IVXLC]+\b.*"
    r"|(?:THE )?SONG\.?|(?:The )?Song\.|[A-Z][A-Za-z]+'[Ss] song\.")
# A stage direction inside a speech: an entrance or exit with a name or
# nothing after it ("Enter FLAMINIUS."; "Enter the city" is verse), a
# numbered procession item, or a bare direction word.
_DIRECTION_LINE = re.compile(
    r"(?:Enter|Re-enter|Exit|Exeunt|Manet|Manent)(?: [A-Z].*|\.?)"
    r"|\d+\. .*"
    r"|(?:Flourish|Alarums?|Sennet|Hautboys|Cornets|Tucket|Excursions|"
    r"Retreat|Thunder|Knocking|Music|Dies|Aside|Within|Sings|Reads)"
    r"(?: within)?\.?")


@dataclasses.dataclass(frozen=True)
class Anomaly:
  play: str
  kind: str
  line_number: int  # Of the speech's heading, for checks of a speech.
  detail: str


def speaker_prefix(line: str, roles: frozenset[str], own_role: str) -> str:
  """The speaker label that `line` starts with, or '' (see `_LABEL_SHAPE`).

  The longest one, from the line's first four words; never the speech's own
  role (a speaker naming himself).
  """
  words = line.split(' ')
  for n in range(min(4, len(words) - 1), 0, -1):
    label = ' '.join(words[:n])
    colon = label.endswith(':')
    label = label.rstrip(':')
    first_spoken = words[n][:1]
    if not (_LABEL_WORDS.fullmatch(label) and
            (colon or first_spoken.isupper() or first_spoken in '\'"')):
      continue
    role = play_parser.normalize_role(label)
    if role == own_role:
      return ''
    shaped = (_LABEL_SHAPE.fullmatch(label) or
              _LABEL_SHAPE.fullmatch(label.title()))
    if shaped or (colon and role in roles):
      return label
  return ''


def _speech_anomalies(speech: play_parser.Speech,
                      roles: frozenset[str]) -> list[tuple[str, str]]:
  """(kind, detail) for one speech."""
  found = []
  role = speech.role
  if _HEADING_ROLE.match(role):
    found.append(('heading_as_role', role))
  if role.split()[0] in _DIRECTION_WORDS:
    found.append(('direction_as_role', role))
  if (not _ROLE_SHAPE.fullmatch(role) or role.startswith('OF ') or
      len(role.split()) > 5):
    found.append(('malformed_role', role))
  if not speech.text.strip():
    found.append(('empty_speech', role))
  if _MARKUP.search(speech.text):
    found.append(('markup_in_speech', speech.text))
  lines = speech.text.split('\n')
  for i, line in enumerate(lines):
    if _CAPS_LINE.fullmatch(line):
      found.append(('name_or_heading_in_speech', line))
    if not line.strip():
      found.append(('blank_line_in_speech', speech.text))
    if _HEADING_LINE.fullmatch(line):
      found.append(('heading_in_speech', f'{role}: {line}'))
    if _DIRECTION_LINE.fullmatch(line):
      found.append(('direction_in_speech', f'{role}: {line}'))
    after_sentence = i == 0 or lines[i - 1].endswith(_SENTENCE_END)
    if after_sentence and speaker_prefix(line, roles, role):
      context = '\n'.join(lines[max(0, i - 1):i + 1])
      found.append(('speaker_prefix_in_speech', f'{role}: {context}'))
  return found


def find_anomalies(
    plays: list[play_parser.ParsedPlay]) -> list[Anomaly]:
  """Parsing mistakes: anything here means a rule in play_parser is missing.

  Covers what the parser could not explain (lines with no speaker, stale
  errata, ...) and checks its output: roles that are headings or stage
  directions or verse, empty speeches, markup left in text, and inside a
  speech a line that starts with a speaker label, or is a heading or a stage
  direction.
  """
  found = []
  for play in plays:
    for issue in play.issues:
      found.append(Anomaly(play.name, issue.kind, issue.line_number,
                           issue.detail))
    roles = frozenset(s.role for s in play.speeches)
    for speech in play.speeches:
      for kind, detail in _speech_anomalies(speech, roles):
        found.append(Anomaly(play.name, kind, speech.line_number, detail))
    if not play.title:
      found.append(Anomaly(play.name, 'untitled_play', 0, ''))
  return found
