"""One writer per experiment directory, released however the writer ends."""

import os
import signal
import subprocess
import sys

import pytest

from tff_lstm.training import experiment_lock

_HOLD = """
import sys, time
from tff_lstm.training import experiment_lock
with experiment_lock.exclusive(sys.argv[1]):
  print('held', flush=True)
  time.sleep(600)
"""


def test_a_second_writer_is_refused_naming_the_holder(tmp_path):
  exp_dir = str(tmp_path / 'e')
  with experiment_lock.exclusive(exp_dir):
    with pytest.raises(experiment_lock.ExperimentInUseError,
                       match=f'in use by another run \\(PID {os.getpid()}\\)'):
      with experiment_lock.exclusive(exp_dir):
        pass
  with experiment_lock.exclusive(exp_dir):  # free again once released
    pass


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
  exp_dir = str(tmp_path / 'e')
  holder = subprocess.Popen([sys.executable, '-c', _HOLD, exp_dir],
                            stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline().strip() == 'held'
    with pytest.raises(experiment_lock.ExperimentInUseError,
                       match=f'PID {holder.pid}'):
      with experiment_lock.exclusive(exp_dir):
        pass
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=60)
  finally:
    holder.kill()
    holder.wait()
  with experiment_lock.exclusive(exp_dir):
    pass


def test_a_directory_that_cannot_be_made_is_one_clear_error(tmp_path):
  blocker = tmp_path / 'a_file'
  blocker.write_text('')
  with pytest.raises(experiment_lock.ExperimentDirError,
                     match='cannot write the experiment directory'):
    with experiment_lock.exclusive(str(blocker / 'e')):
      pass
