"""Runs TFF's `worker_binary` where no other host can reach it.

`worker_binary` listens on every interface (`[::]:<port>`), speaks plaintext
gRPC without authentication and runs any TensorFlow graph it is sent; it has
no flag to bind elsewhere. This launcher gives it a network namespace of its
own (only a loopback interface, reachable from nothing outside), and relays to
it from listeners opened *before* leaving the host's namespace, since a socket
keeps the namespace it was made in:

* a Unix socket in a private (0700) directory, mode 0600: the local
  controller's way in, open to our user only;
* optionally a TCP listener on the host, for controllers on other hosts:
  mutual TLS (the worker's certificate, and the controller's checked against
  our CA), or plaintext on a loopback address only.

  python -m tff_lstm.runtime.sandbox --unix_socket=PATH [--tcp=HOST:PORT
      [--tls_cert=F --tls_key=F --tls_client_ca=F]] -- worker_binary ARGS

The worker is started with `--port=<_INNER_PORT>` appended. The launcher runs
without TensorFlow, dies with its parent and takes the worker with it. Exit
code `NO_NAMESPACE_EXIT` means this machine cannot make the namespace (no user
namespaces); the caller decides whether to run exposed.
"""

import argparse
import asyncio
import ctypes
import errno
import fcntl
import ipaddress
import os
import signal
import socket
import ssl
import struct
import subprocess
import sys

NO_NAMESPACE_EXIT = 3
_INNER_PORT = 8000  # inside the namespace every port is free
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000
_PR_SET_PDEATHSIG = 1
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1
_CHUNK = 1 << 20
_LOOPBACK_NAMES = ('localhost',)

_libc = ctypes.CDLL('libc.so.6', use_errno=True)


def is_loopback(host: str) -> bool:
  if host in _LOOPBACK_NAMES:
    return True
  try:
    return ipaddress.ip_address(host.strip('[]')).is_loopback
  except ValueError:
    return False


def _die_with_parent() -> None:
  _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _write(path: str, text: str) -> None:
  with open(path, 'w') as f:
    f.write(text)


def enter_own_network_namespace() -> str:
  """Moves this (single-threaded) process into a new network namespace.

  Unprivileged: a user namespace too, mapping our ids to root inside it, so
  that we may bring its loopback up. Returns how; raises OSError if neither
  way is allowed here.
  """
  uid, gid = os.getuid(), os.getgid()
  if _libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) == 0:
    _write('/proc/self/setgroups', 'deny')
    _write('/proc/self/uid_map', f'0 {uid} 1')
    _write('/proc/self/gid_map', f'0 {gid} 1')
    return 'user+network namespace'
  first = ctypes.get_errno()
  if _libc.unshare(_CLONE_NEWNET) == 0:  # root without user namespaces
    return 'network namespace'
  raise OSError(first, f'unshare: {os.strerror(first)}')


def bring_loopback_up() -> None:
  with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    request = struct.pack('16sH14x', b'lo', 0)
    flags = struct.unpack('16sH14x', fcntl.ioctl(s, _SIOCGIFFLAGS, request))[1]
    fcntl.ioctl(s, _SIOCSIFFLAGS, struct.pack('16sH14x', b'lo',
                                              flags | _IFF_UP))


def _unix_listener(path: str) -> socket.socket:
  directory = os.path.dirname(path)
  if os.stat(directory).st_mode & 0o077:
    raise OSError(errno.EPERM, f'{directory} must be private (mode 0700)')
  listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
  old = os.umask(0o177)
  try:
    listener.bind(path)
  finally:
    os.umask(old)
  os.chmod(path, 0o600)
  listener.listen(64)
  return listener


def _tcp_listener(address: str) -> socket.socket:
  host, _, port = address.rpartition(':')
  host = host.strip('[]')
  family = socket.AF_INET6 if ':' in host else socket.AF_INET
  listener = socket.socket(family, socket.SOCK_STREAM)
  listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
  listener.bind((host, int(port)))
  listener.listen(64)
  return listener


def server_tls_context(cert: str, key: str, client_ca: str) -> ssl.SSLContext:
  """Mutual TLS: our certificate, and a client certificate from `client_ca`."""
  context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
  context.minimum_version = ssl.TLSVersion.TLSv1_2
  context.load_cert_chain(cert, key)
  context.load_verify_locations(client_ca)
  context.verify_mode = ssl.CERT_REQUIRED
  context.set_alpn_protocols(['h2'])  # gRPC speaks HTTP/2
  return context


async def _pipe(reader: asyncio.StreamReader,
                writer: asyncio.StreamWriter) -> None:
  try:
    while data := await reader.read(_CHUNK):
      writer.write(data)
      await writer.drain()
  except (ConnectionError, ssl.SSLError):
    pass
  finally:
    writer.close()


async def _relay(reader, writer) -> None:
  """One controller connection, joined to a fresh connection to the worker."""
  try:
    inner_reader, inner_writer = await asyncio.open_connection(
        '127.0.0.1', _INNER_PORT)
  except OSError:
    writer.close()  # the worker is not listening yet; the client retries
    return
  for sock in (writer.get_extra_info('socket'),
               inner_writer.get_extra_info('socket')):
    if sock is not None and sock.family != socket.AF_UNIX:
      sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
  await asyncio.gather(_pipe(reader, inner_writer), _pipe(inner_reader, writer))


async def _serve(listeners, worker: subprocess.Popen) -> int:
  servers = [await asyncio.start_server(_relay, sock=sock, ssl=context,
                                        limit=_CHUNK)
             if sock.family != socket.AF_UNIX else
             await asyncio.start_unix_server(_relay, sock=sock, limit=_CHUNK)
             for sock, context in listeners]
  loop = asyncio.get_running_loop()
  stopped = asyncio.Event()
  for sig in (signal.SIGTERM, signal.SIGINT):
    loop.add_signal_handler(sig, stopped.set)
  while not stopped.is_set() and worker.poll() is None:
    try:
      await asyncio.wait_for(stopped.wait(), 0.2)
    except asyncio.TimeoutError:
      pass
  for server in servers:
    server.close()
  if worker.poll() is None:
    worker.terminate()
    try:
      worker.wait(timeout=5)
    except subprocess.TimeoutExpired:
      worker.kill()
      worker.wait()
    return 0
  return worker.returncode


def main(argv: list[str]) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--unix_socket', required=True)
  parser.add_argument('--tcp')
  parser.add_argument('--tls_cert')
  parser.add_argument('--tls_key')
  parser.add_argument('--tls_client_ca')
  parser.add_argument('--allow_exposed', action='store_true')
  parser.add_argument('worker', nargs=argparse.REMAINDER)
  args = parser.parse_args(argv)
  worker_args = args.worker[1:] if args.worker[:1] == ['--'] else args.worker
  _die_with_parent()
  tls = (args.tls_cert, args.tls_key, args.tls_client_ca)
  if any(tls) and not all(tls):
    print('error: TLS needs --tls_cert, --tls_key and --tls_client_ca.',
          file=sys.stderr)
    return 2
  if args.tcp and not all(tls) and not is_loopback(
      args.tcp.rpartition(':')[0]):
    print(f'error: a plaintext worker listens on loopback only, not '
          f'{args.tcp}; give it TLS certificates.', file=sys.stderr)
    return 2
  try:  # Listeners first, in the host's namespace; then leave it.
    listeners = [(_unix_listener(args.unix_socket), None)]
    if args.tcp:
      listeners.append((_tcp_listener(args.tcp),
                        server_tls_context(*tls) if all(tls) else None))
  except (OSError, ssl.SSLError) as e:
    print(f'error: cannot listen: {e}', file=sys.stderr)
    return 2
  inner_port = _INNER_PORT
  try:
    how = enter_own_network_namespace()
    bring_loopback_up()
  except OSError as e:
    if not args.allow_exposed:
      print(f'error: cannot give the TFF worker a network namespace of its '
            f'own ({e.strerror}); it would listen on every interface of this '
            'machine.', file=sys.stderr)
      return NO_NAMESPACE_EXIT
    how = 'EXPOSED: no namespace'
    import portpicker  # pylint: disable=g-import-not-at-top
    inner_port = portpicker.pick_unused_port()
  globals()['_INNER_PORT'] = inner_port
  print(f'worker_sandbox: {how}', file=sys.stderr, flush=True)
  worker = subprocess.Popen(  # pylint: disable=subprocess-popen-preexec-fn
      [*worker_args, f'--port={inner_port}'], stdin=subprocess.DEVNULL,
      preexec_fn=_die_with_parent)
  return asyncio.run(_serve(listeners, worker))


if __name__ == '__main__':
  sys.exit(main(sys.argv[1:]))
