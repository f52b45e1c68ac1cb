"""Serves TFF executor workers for run_federated.py --worker_addresses.

Two workers on free loopback ports, for a controller on this machine, in
plaintext; prints `worker_addresses=...` once they answer:

  .venv/bin/python experiments/run_worker.py --num_workers=2 --plaintext_loopback

One worker per host for a multi-host run, on a fixed port, reachable only with
mutual TLS (certificates: experiments/make_worker_certificates.py):

  .venv/bin/python experiments/run_worker.py --host=0.0.0.0 --port=8000 \
      --tls_dir=certs

TFF's worker itself runs in a network namespace of its own and is reached only
through this process's listener (tff_lstm/runtime/sandbox.py): nothing answers
on the port without a certificate from our CA, or, in plaintext mode, from
another host at all.

Runs until SIGINT/SIGTERM, then stops its workers; they also die with it when
it is killed (see tff_lstm/runtime/local_worker.py). A worker that exits on its own ends
this process with status 1, so a supervisor (systemd, Kubernetes) restarts it.
"""

import os

# gRPC's fork notice ("Other threads are currently calling into gRPC...")
# would follow every worker started after the first.
os.environ.setdefault('GRPC_VERBOSITY', 'ERROR')
# runtime sets TF_CPP_MIN_LOG_LEVEL=3 for this process, and workers inherit it;
# --verbose workers get the user's level (default 0: the worker's own errors).
_USER_TF_LOG_LEVEL = os.environ.get('TF_CPP_MIN_LOG_LEVEL', '0')

# pylint: disable=g-import-not-at-top,g-bad-import-order,wrong-import-position
from tff_lstm import runtime  # first: quiets TensorFlow before it is imported

import signal
import socket
import sys
import threading
from typing import Optional

from absl import app
from absl import flags

from tff_lstm.runtime import certificates
from tff_lstm.runtime import sandbox

_NUM_WORKERS = flags.DEFINE_integer(
    'num_workers', 1, 'Workers to start (unless --port is given).')
_BASE_PORT = flags.DEFINE_integer(
    'base_port', 0, 'Ports base_port, base_port+1, ... (0: free ports).')
_PORT = flags.DEFINE_list(
    'port', [], 'Explicit ports, one worker each (overrides --num_workers and '
    '--base_port).')
_HOST = flags.DEFINE_string(
    'host', '127.0.0.1', 'Address to listen on, and the host written into '
    'worker_addresses (0.0.0.0: every interface, written as this machine\'s '
    'host name). Anything but loopback needs --tls_dir.')
_TLS_DIR = flags.DEFINE_string(
    'tls_dir', None, 'Folder with ca.pem, worker.pem and worker.key '
    '(experiments/make_worker_certificates.py): mutual TLS, accepting only '
    'controllers whose certificate the CA signed.')
_PLAINTEXT_LOOPBACK = flags.DEFINE_bool(
    'plaintext_loopback', False, 'Serve without TLS, on a loopback --host '
    'only: for a controller on this machine.')
_ALLOW_EXPOSED = flags.DEFINE_bool(
    'allow_exposed_worker', False, 'Where this machine cannot give the worker '
    'a network namespace of its own, run it on every interface anyway.')
_MAX_CONCURRENT_CALLS = flags.DEFINE_integer(
    'max_concurrent_computation_calls', -1, 'Per worker: parallel calls of '
    'one computation, e.g. client updates (<= 0: unlimited).')
_INTRA_OP_THREADS = flags.DEFINE_integer(
    'intra_op_threads', None, 'TF intra-op threads per worker (TF default).')
_INTER_OP_THREADS = flags.DEFINE_integer(
    'inter_op_threads', None, 'TF inter-op threads per worker (TF default).')
_VERBOSE = flags.DEFINE_bool('verbose', False,
                             'Worker logs to stderr (else to temp files).')

_POLL_S = 0.5


def _ports() -> list[int]:
  """The ports to serve on; 0 means a free one, picked at start."""
  if _PORT.value:
    if _NUM_WORKERS.present or _BASE_PORT.present:
      raise ValueError('--port lists the ports; do not combine it with '
                       '--num_workers or --base_port.')
    try:
      ports = [int(p) for p in _PORT.value]
    except ValueError:
      raise ValueError(f'--port must be integers, got {_PORT.value}.') from None
  else:
    if _NUM_WORKERS.value < 1:
      raise ValueError(f'--num_workers must be >= 1, got {_NUM_WORKERS.value}.')
    if _BASE_PORT.value == 0:
      return [0] * _NUM_WORKERS.value
    ports = [_BASE_PORT.value + i for i in range(_NUM_WORKERS.value)]
  for port in ports:
    if not 0 < port < 65536:
      raise ValueError(f'Port {port} is not in 1..65535.')
  if len(set(ports)) != len(ports):
    raise ValueError(f'A port is repeated in {ports}.')
  return ports


def _check_free(host: str, port: int) -> None:
  """A clear error for a taken port (the worker would only log it)."""
  family = socket.AF_INET6 if ':' in host else socket.AF_INET
  with socket.socket(family, socket.SOCK_STREAM) as probe:
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
      probe.bind((host, port))
    except OSError as e:
      raise runtime.WorkerError(
          f'Port {port} is not free ({e.strerror}); choose another with '
          '--port or --base_port.') from None


def _advertised_host() -> str:
  return socket.getfqdn() if _HOST.value in ('0.0.0.0', '::', '') else (
      _HOST.value)


def _tls() -> Optional[runtime.TlsFiles]:
  """The worker's TLS files, or None for plaintext; raises on a bad choice."""
  if _TLS_DIR.value is not None:
    if _PLAINTEXT_LOOPBACK.value:
      raise ValueError('Give --tls_dir or --plaintext_loopback, not both.')
    paths = certificates.worker_paths(_TLS_DIR.value)
    return runtime.TlsFiles(cert=paths.cert, key=paths.key,
                            client_ca=paths.ca)
  if not _PLAINTEXT_LOOPBACK.value:
    raise ValueError(
        'A worker runs any graph its controller sends: give --tls_dir (mutual '
        'TLS; make the certificates with experiments/'
        'make_worker_certificates.py), or --plaintext_loopback for a '
        'controller on this machine.')
  if not sandbox.is_loopback(_HOST.value):
    raise ValueError(f'--plaintext_loopback serves loopback only, not '
                     f'--host={_HOST.value}; give --tls_dir to serve other '
                     'hosts.')
  return None


def serve(ports: list[int], settings: runtime.WorkerSettings,
          stop: threading.Event, tls: Optional[runtime.TlsFiles] = None,
          host: str = '127.0.0.1') -> int:
  """Starts a worker per port, prints their addresses, serves until `stop`.

  Returns:
    0 after `stop`; 1 if a worker exited on its own (the others are stopped).
  """
  workers = []
  try:
    for port in ports:
      if port:
        _check_free(host, port)
      worker = runtime.LocalWorker(settings, port=port or None, tcp=True,
                                   host=host, tls=tls)
      workers.append(worker)
      worker.stub()  # starts it and waits until it answers
    host = _advertised_host()
    print('worker_addresses=' + ','.join(f'{host}:{w.port}' for w in workers),
          flush=True)
    print('worker_pids=' + ','.join(str(w.pid) for w in workers), flush=True)
    while not stop.wait(_POLL_S):
      for worker in workers:
        if worker.returncode is not None:
          print(f'error: TFF worker on port {worker.port} exited with code '
                f'{worker.returncode}; see {worker.log_path or "stderr"}. '
                'Stopping the others.', file=sys.stderr, flush=True)
          return 1
    return 0
  finally:
    for worker in workers:
      worker.stop()


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  runtime.quiet_logging(_VERBOSE.value)
  try:
    ports = _ports()
    tls = _tls()
  except (ValueError, FileNotFoundError) as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  stop = threading.Event()
  for sig in (signal.SIGINT, signal.SIGTERM):
    signal.signal(sig, lambda signum, frame: stop.set())
  settings = runtime.WorkerSettings(
      intra_op_threads=_INTRA_OP_THREADS.value,
      inter_op_threads=_INTER_OP_THREADS.value,
      max_concurrent_computation_calls=_MAX_CONCURRENT_CALLS.value,
      verbose=_VERBOSE.value,
      allow_exposed=_ALLOW_EXPOSED.value,
      extra_env=((('TF_CPP_MIN_LOG_LEVEL', _USER_TF_LOG_LEVEL),)
                 if _VERBOSE.value else ()))
  try:
    return serve(ports, settings, stop, tls=tls, host=_HOST.value)
  except runtime.WorkerError as e:
    print(f'error: {e}', file=sys.stderr)
    return 1


if __name__ == '__main__':
  # Before the flags are parsed: a refused flag exits without TFF's
  # teardown traceback too.
  runtime.register_exit_hook()
  app.run(main)
