"""Is a process (e.g. a TFF worker we started) still alive, by PID?

Our guarantee is that no `worker_binary` outlives its parent; checking it
needs a liveness test that counts a zombie awaiting its reaper as dead.
"""

import time


def is_running(pid: int) -> bool:
  """True while `pid` runs (a zombie awaiting its reaper is dead)."""
  try:
    with open(f'/proc/{pid}/stat') as f:
      state = f.read().rsplit(')', 1)[1].split()[0]
  except FileNotFoundError:
    return False
  return state != 'Z'


def wait_gone(pid: int, timeout_s: float = 15.0) -> bool:
  """Waits up to `timeout_s` for `pid` to end; True if it did."""
  deadline = time.monotonic() + timeout_s
  while time.monotonic() < deadline:
    if not is_running(pid):
      return True
    time.sleep(0.1)
  return False
