"""Is a process (e.g. a TFF worker we started) alive, and where does it listen?

Our guarantees are that no `worker_binary` outlives its parent and that none
accepts connections from other hosts; checking them needs a liveness test
that counts a zombie awaiting its reaper as dead, and the listening sockets
of a process tree with the network namespace each one lives in.
"""

import os
import socket
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


def descendants(pid: int) -> list[int]:
  """`pid`'s children, grandchildren, ... (e.g. a sandbox and its worker)."""
  import psutil  # pylint: disable=g-import-not-at-top
  try:
    return [p.pid for p in psutil.Process(pid).children(recursive=True)]
  except psutil.NoSuchProcess:
    return []


def _listening_inodes(pid: int) -> set[str]:
  inodes = set()
  fd_dir = f'/proc/{pid}/fd'
  for fd in os.listdir(fd_dir):
    try:
      target = os.readlink(os.path.join(fd_dir, fd))
    except OSError:
      continue
    if target.startswith('socket:['):
      inodes.add(target[len('socket:['):-1])
  return inodes


def listening_sockets(pid: int) -> list[tuple[str, int, bool]]:
  """(local address, port, in our own network namespace) of `pid`'s TCP
  listening sockets, read from /proc as `ss -tlnp` would."""
  own = os.readlink(f'/proc/{pid}/ns/net') == os.readlink('/proc/self/ns/net')
  inodes = _listening_inodes(pid)
  found = []
  for table, family in (('tcp', socket.AF_INET), ('tcp6', socket.AF_INET6)):
    with open(f'/proc/{pid}/net/{table}') as f:
      next(f)
      for line in f:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if state != '0A' or inode not in inodes:  # 0A: LISTEN
          continue
        address, port = local.split(':')
        raw = bytes.fromhex(address)
        # /proc prints each 32-bit word in host (little-endian) order.
        raw = b''.join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
        found.append((socket.inet_ntop(family, raw), int(port, 16), own))
  return found
