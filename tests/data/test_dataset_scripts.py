"""The datasets/ scripts: output, and errors without tracebacks."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

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
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1] == (
      f"error: {source}, line 3: client 'a': non-numeric value 'high' in "
      "column 'v'")
  assert 'Traceback' not in result.stderr
  assert not (tmp_path / 'o.sqlite').exists()


def _assert_one_line_error(result, expected_start):
  assert result.returncode == 2, result.stderr
  assert 'Traceback' not in result.stderr
  (line,) = result.stderr.strip().splitlines()
  assert line.startswith(f'error: {expected_start}'), line


def _small_csv(tmp_path):
  source = tmp_path / 'notes.csv'
  source.write_text('client_id,text\na,x\na,y\n')
  return source


@pytest.mark.parametrize('output,problem', [
    ('afile/out.sqlite', 'afile is a file, not a directory.'),
    ('afile/deeper/out.sqlite', 'afile is a file, not a directory.'),
    ('.', 'it is a directory'),
])
def test_import_to_unwritable_output_is_one_line(tmp_path, output, problem):
  source = _small_csv(tmp_path)
  (tmp_path / 'afile').write_text('a regular file')
  path = os.path.normpath(str(tmp_path / output))
  result = _run('import_sequences.py', f'--input={source}', '--shape=text',
                f'--output={path}')
  _assert_one_line_error(result, f'cannot write {path}: ')
  assert problem in result.stderr
  assert sorted(os.listdir(tmp_path)) == ['afile', 'notes.csv']


def _import_in_private_mount(tmp_path, mount_options, *import_args):
  """Runs an import onto a fresh tmpfs at `tmp_path/mnt`, seen only by it.

  Root ignores permissions, so a read-only or a full file system is what
  really refuses a write here; `unshare -m` keeps the mount private. The
  command then prints `left: ` and what the mount holds.
  """
  mount_point = tmp_path / 'mnt'
  mount_point.mkdir()
  if not shutil.which('unshare') or subprocess.run(
      ['unshare', '-m', 'mount', '-t', 'tmpfs', 'tmpfs', str(mount_point)],
      capture_output=True, check=False).returncode != 0:
    pytest.skip('needs unshare -m and mount (a private mount namespace)')
  script = ' '.join([
      f'mount -t tmpfs -o {mount_options} tmpfs {mount_point} &&',
      sys.executable, os.path.join(_REPO, 'datasets', 'import_sequences.py'),
      *import_args, f'; rc=$?; echo "left: $(ls -A {mount_point})"; exit $rc'])
  return mount_point, subprocess.run(
      ['unshare', '-m', 'sh', '-c', script], capture_output=True, text=True,
      timeout=120, check=False)


def test_import_to_read_only_file_system_is_one_line(tmp_path):
  source = _small_csv(tmp_path)
  mount_point, result = _import_in_private_mount(
      tmp_path, 'ro,size=1m', f'--input={source}', '--shape=text',
      f'--output={tmp_path / "mnt" / "sub" / "out.sqlite"}')
  _assert_one_line_error(
      result, f'cannot write {mount_point / "sub" / "out.sqlite"}: '
      f'{mount_point} is on a read-only file system.')
  assert result.stdout.strip() == 'left:'


def test_import_onto_a_full_disk_is_one_line_and_leaves_nothing(tmp_path):
  source = tmp_path / 'big.csv'
  source.write_text('client_id,text\n' + ''.join(
      f'c{i % 50},row {i} of some text\n' for i in range(20_000)))
  mount_point, result = _import_in_private_mount(
      tmp_path, 'size=64k', f'--input={source}', '--shape=text',
      f'--output={tmp_path / "mnt" / "out.sqlite"}')
  _assert_one_line_error(result, f'cannot write {mount_point / "out.sqlite"}: '
                         'database or disk is full.')
  assert result.stdout.strip() == 'left:'  # No temporary file or journal.


def _big_csv(tmp_path, rows=60_000):
  source = tmp_path / 'big.csv'
  source.write_text('client_id,text\n' + ''.join(
      f'c{i % 300},some words of text number {i}\n' for i in range(rows)))
  return source


def _start_import_and_signal_mid_write(spawn, source, output, signum):
  """Sends `signum` once the import is inserting rows into its temp file."""
  # As from a terminal: a background job of a non-interactive shell (as CI
  # may run us) inherits SIGINT ignored, and Python then never sees it.
  child = spawn([sys.executable, os.path.join(_REPO, 'datasets',
                                              'import_sequences.py'),
                 f'--input={source}', '--shape=text', f'--output={output}'],
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
  directory, polls_with_journal = os.path.dirname(output), 0
  deadline = time.monotonic() + 60
  # A journal seen twice, 5 ms apart, is the inserts' transaction (those of
  # the CREATE TABLE statements last microseconds).
  while polls_with_journal < 2:
    assert child.poll() is None, child.communicate()
    assert time.monotonic() < deadline
    journals = [n for n in os.listdir(directory) if n.endswith('-journal')]
    polls_with_journal = polls_with_journal + 1 if journals else 0
    time.sleep(0.005)
  child.send_signal(signum)
  _, stderr = child.communicate(timeout=60)
  return child, stderr


def test_import_killed_mid_write_is_cleaned_up_by_the_next(tmp_path, spawn):
  source = _big_csv(tmp_path)
  output = str(tmp_path / 'out' / 'big.sqlite')
  os.makedirs(os.path.dirname(output))
  child, _ = _start_import_and_signal_mid_write(spawn, source, output,
                                                signal.SIGKILL)
  assert child.returncode == -signal.SIGKILL
  # The kill lands inside an insert transaction (journal and all) unless a
  # loaded machine let that transaction commit between the last poll and the
  # signal; either way only the temp file's debris is left.
  temp, *journal = sorted(os.listdir(tmp_path / 'out'))
  assert re.fullmatch(rf'big\.sqlite\.tmp-{child.pid}-[a-z0-9_]+', temp)
  assert journal in ([], [temp + '-journal'])
  result = _run('import_sequences.py', f'--input={source}', '--shape=text',
                f'--output={output}')
  assert result.returncode == 0, result.stderr
  assert os.listdir(tmp_path / 'out') == ['big.sqlite']


@pytest.mark.parametrize('signum', [signal.SIGTERM, signal.SIGINT])
def test_import_stopped_by_a_signal_leaves_nothing(tmp_path, spawn, signum):
  source = _big_csv(tmp_path)
  output = str(tmp_path / 'out' / 'big.sqlite')
  os.makedirs(os.path.dirname(output))
  child, stderr = _start_import_and_signal_mid_write(spawn, source, output,
                                                     signum)
  assert child.returncode == 128 + signum
  assert stderr.strip() == (f'error: import stopped by {signum.name}; '
                            f'{output} was not written')
  assert os.listdir(tmp_path / 'out') == []


def test_import_over_a_damaged_database_is_one_line(tmp_path):
  source = _big_csv(tmp_path, rows=2_000)
  output = tmp_path / 'big.sqlite'
  assert _run('import_sequences.py', f'--input={source}', '--shape=text',
              f'--output={output}').returncode == 0
  data = output.read_bytes()
  output.write_bytes(data[:len(data) // 2])
  result = _run('import_sequences.py', f'--input={source}', '--shape=text',
                f'--output={output}')
  _assert_one_line_error(result, f'{output} is a damaged SQLite database '
                         '(truncated to ')
  assert 'delete it and rerun' in result.stderr
  assert output.read_bytes() == data[:len(data) // 2]


@pytest.mark.parametrize('args,message', [
    (['--test_fraction=1.5'], 'test_fraction must be in (0, 1), got 1.5.'),
    (['--input=/nonexistent/notes.csv'],
     '/nonexistent/notes.csv: No such file or directory'),
    (['--format=csv', '--input={tmp}'], '{tmp}: Is a directory'),
])
def test_import_refusals_are_one_line(tmp_path, args, message):
  source = _small_csv(tmp_path)
  result = _run('import_sequences.py', f'--input={source}', '--shape=text',
                f'--output={tmp_path / "o.sqlite"}',
                *(arg.format(tmp=tmp_path) for arg in args))
  _assert_one_line_error(result, message.format(tmp=tmp_path))
  assert os.listdir(tmp_path) == ['notes.csv']
