"""benchmarks/round_speed.py's memory sampling: where a configuration's peak is.

A TFF configuration is a Python process plus the worker it starts, so the
bench records, beside the peak of their sum, each side's own peak. A stand-in
configuration holds a known amount in itself and more in a child it starts.
"""

import os
import sys
import textwrap

_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
sys.path.insert(0, os.path.join(_ROOT, 'benchmarks'))

import round_speed  # pylint: disable=g-import-not-at-top,wrong-import-position

# Holds 60 MB itself and starts a child holding 150 MB (bytes written, so
# resident), then answers rounds.
_STAND_IN = textwrap.dedent("""
    import json, subprocess, sys, time
    own = bytearray(b'x') * (60 * 2**20)
    child = subprocess.Popen([sys.executable, '-c',
        'import sys; b = bytearray(b"x") * (150 * 2**20); sys.stdin.read()'],
        stdin=subprocess.PIPE)
    time.sleep(1.0)
    print(json.dumps({'ready': True}), flush=True)
    for line in sys.stdin:
        time.sleep(0.5)
        print(json.dumps({'seconds': 0.5}), flush=True)
    child.stdin.close()
    child.wait()
""")


def test_peaks_are_split_between_the_process_and_what_it_started():
  config = round_speed.Config('stand_in', [sys.executable, '-c', _STAND_IN])
  for round_num in range(2):
    config.run_round(round_num)
  config.close()
  result = config.result()
  own, started = result['peak_own_rss_mb'], result['peak_started_rss_mb']
  assert 60 < own < 60 + 80           # its bytes plus an interpreter
  assert 150 < started < 150 + 80
  assert abs(result['peak_rss_mb'] - (own + started)) < 20
  assert result['peak_anon_mb'] > 210
