"""The results/ presets: valid flags of run_federated.py, read as if inline.

Each results folder keeps its methods as flag files (`flags/common.flags` and
`flags/<method>.flags`) that run.sh passes with absl's `--flagfile`. One
subprocess defines the binary's flags, reads every preset pair as absl's
parser does and parses the result: absl must read exactly the files' lines
(comments dropped), as if given inline, so a run started from a preset records
the same hparams as the same flags typed out, and the binary must accept
them.
"""

import glob
import json
import os
import subprocess
import sys

_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))

_PARSE = r'''
import copy, json, runpy, sys
from absl import flags
runpy.run_path('experiments/run_federated.py', run_name='presets')
pairs = json.loads(sys.argv[1])
results = {}
for common, method in pairs:
  inline = []
  for path in (common, method):
    with open(path) as f:
      inline += [l.strip() for l in f if l.strip() and not l.startswith('#')]
  # What absl's parser reads from the files, then whether the binary takes it.
  read = flags.FLAGS.read_flags_from_files(
      [f'--flagfile={common}', f'--flagfile={method}'], force_gnu=False)
  copy.deepcopy(flags.FLAGS)(['run_federated.py', *read, '--experiment_name=x'])
  results[method] = {'same': read == inline, 'lines': len(inline)}
print(json.dumps(results))
'''


def _federated_pairs():
  pairs = []
  for flags_dir in sorted(glob.glob(
      os.path.join(_ROOT, 'results', '**', 'flags'), recursive=True)):
    common = os.path.join(flags_dir, 'common.flags')
    for method in sorted(glob.glob(os.path.join(flags_dir, '*.flags'))):
      if method != common and not method.endswith('centralized.flags'):
        pairs.append((common, method))
  return pairs


def test_every_preset_starts_with_a_comment_saying_what_it_is():
  presets = glob.glob(os.path.join(_ROOT, 'results', '**', 'flags', '*.flags'),
                      recursive=True)
  assert len(presets) >= 20
  for path in presets:
    with open(path) as f:
      first = f.readline()
    assert first.startswith('# ') and len(first) > 12, path


def test_presets_parse_as_their_flags_given_inline():
  pairs = _federated_pairs()
  done = subprocess.run(
      [sys.executable, '-c', _PARSE, json.dumps(pairs)], cwd=_ROOT,
      capture_output=True, text=True, timeout=300, check=False,
      env=dict(os.environ, PYTHONPATH=_ROOT, TF_CPP_MIN_LOG_LEVEL='3'))
  assert done.returncode == 0, done.stderr[-3000:]
  results = json.loads(done.stdout.strip().splitlines()[-1])
  assert set(results) == {method for _, method in pairs}
  for method, result in results.items():
    assert result == {'same': True, 'lines': result['lines']}, method
    assert result['lines'] > 0
