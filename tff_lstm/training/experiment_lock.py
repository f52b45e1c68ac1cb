"""One writer per experiment directory.

Two runs writing one experiment would interleave their checkpoints and
metrics rows. The lock is an `flock` on a file in the directory: the kernel
releases it when the holding process ends, however it ends (SIGKILL
included), so a crashed run never leaves a stale lock behind. Child processes
(the TFF worker) do not inherit it: Python opens files close-on-exec.
"""

import contextlib
import fcntl
import os

from tff_lstm.training import layout


class ExperimentDirError(RuntimeError):
  """The experiment directory cannot be taken for this run."""


class ExperimentInUseError(ExperimentDirError):
  """Another live process holds the experiment directory."""


@contextlib.contextmanager
def exclusive(exp_dir: str):
  """Holds `exp_dir` for this process; raises if another process holds it.

  Creates `exp_dir` if needed, and records this PID in the lock file so a
  refused run can name the one that holds it.

  Raises:
    ExperimentInUseError: naming the holder's PID.
    ExperimentDirError: the directory cannot be created or written.
  """
  path = os.path.join(exp_dir, layout.LOCK_FILE)
  try:
    os.makedirs(exp_dir, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
  except OSError as e:
    raise ExperimentDirError(
        f'cannot write the experiment directory {exp_dir}: {e.strerror} '
        f'({e.filename}); choose another --root_output_dir.') from None
  try:
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      holder = os.pread(fd, 64, 0).decode(errors='replace').strip() or '?'
      raise ExperimentInUseError(
          f'{exp_dir} is in use by another run (PID {holder}); wait for it '
          'to end, or pick a new --experiment_name.') from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f'{os.getpid()}\n'.encode(), 0)
    yield
  finally:
    os.close(fd)  # releases the lock
