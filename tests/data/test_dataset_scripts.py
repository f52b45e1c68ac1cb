"""The datasets/ scripts: output, and errors without tracebacks."""

import os
import subprocess
import sys

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def _run(script, *args, env=None):
  return subprocess.run(
      [sys.executable, os.path.join(_REPO, 'datasets', script), *args],
      capture_output=True, text=True, timeout=120, check=False,
      env={**os.environ, **(env or {})})


def test_build_shakespeare_builds_then_noops(tmp_path):
  first = _run('build_shakespeare.py', f'--cache_dir={tmp_path}')
  assert first.returncode == 0, first.stderr
  path = str(tmp_path / 'shakespeare.sqlite')
  assert first.stdout.strip() == path
  mtime = os.stat(path).st_mtime_ns
  second = _run('build_shakespeare.py', env={'TFF_LSTM_CACHE_DIR':
                                             str(tmp_path)})
  assert second.returncode == 0, second.stderr
  assert second.stdout.strip() == path
  assert os.stat(path).st_mtime_ns == mtime


def test_build_shakespeare_prints_stats(full_cache_dir):
  result = _run('build_shakespeare.py', f'--cache_dir={full_cache_dir}',
                '--stats')
  assert result.returncode == 0, result.stderr
  assert '| Clients |' in result.stdout
  assert '16,068' in result.stdout


def test_build_shakespeare_refuses_foreign_file(tmp_path):
  (tmp_path / 'shakespeare.sqlite').write_bytes(b'TFF download')
  result = _run('build_shakespeare.py', f'--cache_dir={tmp_path}', '--force')
  assert result.returncode == 1
  assert 'Traceback' not in result.stderr
  assert f'error: {tmp_path / "shakespeare.sqlite"} exists' in result.stderr
  assert (tmp_path / 'shakespeare.sqlite').read_bytes() == b'TFF download'


def test_import_sequences(tmp_path):
  source = tmp_path / 'notes.csv'
  source.write_text('client_id,text\na,x\na,y\n')
  result = _run('import_sequences.py', f'--input={source}', '--shape=text',
                env={'TFF_LSTM_CACHE_DIR': str(tmp_path / 'cache')})
  assert result.returncode == 0, result.stderr
  assert result.stdout.startswith(str(tmp_path / 'cache' / 'notes.sqlite'))
  assert '1 clients, 1 train and 1 test examples' in result.stdout


def test_import_sequences_error_is_one_line(tmp_path):
  source = tmp_path / 'series.csv'
  source.write_text('client_id,timestamp,v\na,1,0.5\na,2,high\n')
  result = _run('import_sequences.py', f'--input={source}',
                '--shape=timeseries', f'--output={tmp_path / "o.sqlite"}')
  assert result.returncode == 1
  assert result.stderr.strip().splitlines()[-1] == (
      f"error: {source}, line 3: non-numeric value 'high' in column 'v'")
  assert 'Traceback' not in result.stderr
  assert not (tmp_path / 'o.sqlite').exists()
