"""Fails set-up early, with advice, on a Python that TFF 0.87 cannot run on."""

import sys

SUPPORTED = ((3, 9), (3, 11))

if not SUPPORTED[0] <= sys.version_info[:2] <= SUPPORTED[1]:
  found = '.'.join(map(str, sys.version_info[:3]))
  sys.exit(
      f'tff-lstm needs Python 3.9 to 3.11 (TensorFlow Federated 0.87 supports no '
      f'other), but {sys.executable} is Python {found}.\n'
      'Install Python 3.11 and run: make setup PYTHON=python3.11'
  )
