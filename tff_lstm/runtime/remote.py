"""Runs TFF computations on executor workers on other hosts.

Each worker is TFF's C++ executor service (`experiments/run_worker.py` starts
it). TFF 0.87 has no composing executor: its mergeable-computation context
splits a round's clients across one remote context per worker, runs each share
up to the aggregation, merges the partial aggregates and runs the rest once.
This is the only module that touches TFF's remote-execution internals, so a TFF
upgrade touches one file. It fixes what TFF leaves to the caller:

* TFF's RemoteExecutor blocks its event loop on each gRPC call, so the workers
  would compute one after another; `_ConcurrentRemoteExecutor` waits for a
  worker on a thread instead.
* TFF retries a lost worker's gRPC errors forever; `_WorkerStub` turns a worker
  that does not come back within seconds into a `WorkerError` naming
  its address, and a call in flight to a worker that stops answering without
  closing its connection (a stopped process, a vanished host) fails once a
  heartbeat goes unanswered, within `call_timeout_s`.
* TFF's channels are plaintext; with `tls` every channel is mutual TLS (our
  certificate, and the worker's checked against our CA and the address), and
  without it only loopback workers are accepted.
* TFF's mergeable compiler splits rounds at plain aggregations only;
  `compilers.mergeable_compiler` first lowers secure sums, as the local
  worker's compiler does.
"""

import asyncio
from collections.abc import Sequence
import concurrent.futures
import contextlib
from typing import Any, Optional

from absl import logging
import grpc
import tensorflow_federated as tff
from tensorflow_federated.proto.v0 import executor_pb2
from tensorflow_federated.proto.v0 import executor_pb2_grpc

from tff_lstm.runtime import compilers
from tff_lstm.runtime import executors
from tff_lstm.runtime import local_worker
from tff_lstm.runtime import sandbox

CONNECT_TIMEOUT_S = 5.0
RECONNECT_TIMEOUT_S = 5.0
# A call in flight to a worker that stops answering fails within this: a
# heartbeat every half of it, each given the other half to be answered.
CALL_TIMEOUT_S = 60.0
# Retries of one invocation's share on a worker that came back (e.g. was
# restarted by its supervisor): TFF reruns the share from its start.
_MAX_RETRIES = 5
# Threads per worker that wait for its answers (a worker runs one share at a
# time; cancelled shares may still hold a thread until their call returns).
_THREADS_PER_WORKER = 4
# Codes of a worker that went away (UNAVAILABLE), or came back without the
# state we had on it (FAILED_PRECONDITION); TFF treats both as retryable.
_LOST_CODES = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.FAILED_PRECONDITION})
_CHANNEL_OPTIONS = local_worker.GRPC_OPTIONS + (
    # Notice a restarted worker within a second, not gRPC's default minutes.
    ('grpc.initial_reconnect_backoff_ms', 200),
    ('grpc.max_reconnect_backoff_ms', 1000),
)


def check_address(address: str) -> str:
  """Returns `address` if it is host:port (IPv6 as [::1]:port), else raises."""
  host, sep, port = address.strip().rpartition(':')
  if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
    raise ValueError(f'Worker address {address!r} is not host:port '
                     '(e.g. 10.0.0.5:8000).')
  return address.strip()


def is_loopback_address(address: str) -> bool:
  return sandbox.is_loopback(address.rpartition(':')[0])


def parse_addresses(text: str) -> list[str]:
  """'host:port,host:port' (a --worker_addresses flag) -> checked addresses."""
  addresses = [check_address(a) for a in text.split(',') if a.strip()]
  if not addresses:
    raise ValueError('No worker address given; expected host:port,host:port.')
  if len(set(addresses)) != len(addresses):
    raise ValueError(f'A worker address is repeated in {text!r}.')
  return addresses


def _ping(grpc_stub, timeout_s: float) -> grpc.Future:
  """A future that succeeds once the worker answers (it may still be starting).

  DisposeExecutor of no executor is the cheapest call the service has. An RPC,
  unlike gRPC's connectivity watch, leaves no polling thread that races with
  closing the channel.
  """
  return grpc_stub.DisposeExecutor.future(
      executor_pb2.DisposeExecutorRequest(), timeout=timeout_s,
      wait_for_ready=True)


def _answers(future: grpc.Future) -> bool:
  try:
    future.result()
  except grpc.RpcError as e:
    return e.code() not in (grpc.StatusCode.DEADLINE_EXCEEDED,
                            grpc.StatusCode.UNAVAILABLE)
  return True


class _RetryableWorkerError(tff.framework.RetryableError):
  """A worker that answers again after an error: TFF reruns its share."""


class _WorkerStub(tff.framework.RemoteExecutorStub):
  """The gRPC stub for one worker, whose lost connection names the worker.

  Used instead of TFF's RemoteExecutorGrpcStub, which retries a lost worker
  forever and keeps a connectivity-polling thread per channel.
  """

  def __init__(self, address: str, channel: grpc.Channel,
               reconnect_timeout_s: float, call_timeout_s: float):
    self._address = address
    self._heartbeat_s = call_timeout_s / 2
    self._grpc = executor_pb2_grpc.ExecutorGroupStub(channel)
    self.threads = concurrent.futures.ThreadPoolExecutor(
        _THREADS_PER_WORKER, thread_name_prefix=f'tff_worker_{address}')
    self._reconnect_timeout_s = reconnect_timeout_s
    self._failures = 0  # consecutive lost-worker errors
    self._lost = False  # gave up on it: fail at once until it answers again

  def ping(self, timeout_s: float) -> grpc.Future:
    return _ping(self._grpc, timeout_s)

  def _call(self, method: str, request):
    future = getattr(self._grpc, method).future(request)
    while True:
      try:
        response = future.result(timeout=self._heartbeat_s)
        break
      except grpc.FutureTimeoutError:
        # Still computing, or gone silent: a busy worker answers a heartbeat
        # at once (it is served beside the computation), a stopped one never.
        if not _answers(self.ping(self._heartbeat_s)):
          future.cancel()
          self._lost = True
          raise local_worker.WorkerError(
              f'TFF worker at {self._address} stopped answering: a call was '
              f'in flight and a heartbeat went unanswered for '
              f'{self._heartbeat_s:g} s (the worker is stopped, or its host '
              'is unreachable); the round cannot finish without it.'
          ) from None
      except grpc.RpcError as e:
        raise self._translate(e) from e
    self._failures = 0
    self._lost = False
    return response

  def _translate(self, error: grpc.RpcError) -> Exception:
    """What to raise: an error TFF retries, a WorkerError, or `error`."""
    code = error.code() if isinstance(error, grpc.Call) else None
    if code not in _LOST_CODES:
      return error  # e.g. a failing computation: not the worker's fault
    self._failures += 1
    details = f'{code.name}: {error.details()}'
    if self._failures > _MAX_RETRIES:
      problem = f'kept failing ({details}) after {_MAX_RETRIES} reruns'
    elif _answers(self.ping(0.1 if self._lost else self._reconnect_timeout_s)):
      logging.warning('TFF worker at %s: %s; rerunning its share.',
                      self._address, details)
      return _RetryableWorkerError(f'TFF worker at {self._address}: {details}')
    else:
      problem = (f'stopped answering ({details}) and did not come back within '
                 f'{self._reconnect_timeout_s:g} s')
    self._lost = True
    return local_worker.WorkerError(
        f'TFF worker at {self._address} {problem}; the round cannot finish '
        'without it. Check that the worker still runs.')

  def get_executor(self, request):
    return self._call('GetExecutor', request)

  def create_value(self, request):
    return self._call('CreateValue', request)

  def create_struct(self, request):
    return self._call('CreateStruct', request)

  def create_call(self, request):
    return self._call('CreateCall', request)

  def create_selection(self, request):
    return self._call('CreateSelection', request)

  def compute(self, request):
    return self._call('Compute', request)

  def dispose(self, request):
    # Runs from finalizers of remote values; a lost worker holds nothing.
    try:
      return self._grpc.Dispose(request, timeout=self._heartbeat_s)
    except grpc.RpcError:
      logging.debug('Could not dispose values on %s.', self._address)

  def dispose_executor(self, request):
    # TFF ignores gRPC errors here (a lost worker has no state to clear); the
    # deadline keeps a stopped worker from holding the round forever.
    return self._grpc.DisposeExecutor(request, timeout=self._heartbeat_s)

  @property
  def is_ready(self) -> bool:
    return _answers(self.ping(0.1))


class _ConcurrentRemoteExecutor(tff.framework.RemoteExecutor):
  """Waits for the worker on a thread, so that other workers' shares go on."""

  def __init__(self, stub: _WorkerStub):
    super().__init__(stub)
    self._threads = stub.threads

  async def _on_thread(self, coroutine):
    """Runs a coroutine that blocks on gRPC on a thread, off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(
        self._threads, asyncio.run, coroutine)

  async def create_call(self, comp, arg=None):
    # The worker runs the computation while CreateCall blocks.
    return await self._on_thread(super().create_call(comp, arg))

  async def _compute(self, value_ref, type_spec):
    # Compute blocks until the worker sends the (possibly large) result.
    return await self._on_thread(super()._compute(value_ref, type_spec))


class _Connection:
  """A gRPC channel to one worker; `stub()` is what an executor factory needs."""

  def __init__(self, address: str, reconnect_timeout_s: float,
               call_timeout_s: float, tls: Optional[Any] = None):
    self.address = address
    if tls is not None:
      cert, key, ca = tls.read()
      credentials = grpc.ssl_channel_credentials(
          root_certificates=ca, private_key=key, certificate_chain=cert)
      self.channel = grpc.secure_channel(address, credentials,
                                         _CHANNEL_OPTIONS)
    else:
      self.channel = grpc.insecure_channel(address, _CHANNEL_OPTIONS)
    self._stub = _WorkerStub(address, self.channel, reconnect_timeout_s,
                             call_timeout_s)

  def stub(self) -> _WorkerStub:
    return self._stub

  def close(self) -> None:
    self.channel.close()  # calls still waiting end with CANCELLED
    self._stub.threads.shutdown(wait=False)


def _connect(addresses: Sequence[str], timeout_s: float,
             reconnect_timeout_s: float, call_timeout_s: float,
             tls) -> list[_Connection]:
  """Connects to every worker at once; names every one not answering in time."""
  if tls is None:
    exposed = [a for a in addresses if not is_loopback_address(a)]
    if exposed:
      raise ValueError(
          f'Worker {", ".join(exposed)} is not on this machine: give '
          '--worker_tls_dir (mutual TLS; see docs/distributed.md) to reach '
          'workers on other hosts.')
  connections = [_Connection(check_address(a), reconnect_timeout_s,
                             call_timeout_s, tls)
                 for a in addresses]
  pings = [c.stub().ping(timeout_s) for c in connections]
  dead = [c.address for c, ping in zip(connections, pings)
          if not _answers(ping)]
  if dead:
    for connection in connections:
      connection.close()
    raise local_worker.WorkerError(
        ' '.join(f'TFF worker at {a} did not answer within {timeout_s:g} s.'
                 for a in dead)
        + ' Start one there (experiments/run_worker.py --port=PORT) and '
        'check the host, port and firewall'
        + (', and that its certificate is from the CA of --worker_tls_dir '
           'and names that host.' if tls is not None else '.'))
  return connections


def _async_context(connection: _Connection):
  return tff.framework.AsyncExecutionContext(
      executor_fn=executors.executor_factory(
          connection, executor_cls=_ConcurrentRemoteExecutor),
      compiler_fn=tff.backends.native.desugar_and_transform_to_native,
      transform_args=tff.tensorflow.transform_args,
      transform_result=tff.tensorflow.transform_result)


class RemoteRuntime:
  """A TFF context over workers at `addresses`, and its connections."""

  def __init__(self, addresses: Sequence[str], *,
               connect_timeout_s: float = CONNECT_TIMEOUT_S,
               reconnect_timeout_s: float = RECONNECT_TIMEOUT_S,
               call_timeout_s: float = CALL_TIMEOUT_S,
               tls=None):
    """Connects to every worker; raises WorkerError naming any that is down.

    `tls`: a `certificates.TlsPaths` of the controller (mutual TLS);
    None accepts loopback workers only (ValueError otherwise).
    """
    if not addresses:
      raise ValueError('No worker address given.')
    if call_timeout_s <= 0:
      raise ValueError(
          f'--worker_timeout_s must be > 0, got {call_timeout_s:g}.')
    self.addresses = list(addresses)
    self._connections = _connect(addresses, connect_timeout_s,
                                 reconnect_timeout_s, call_timeout_s, tls)
    self.context = tff.framework.MergeableCompExecutionContext(
        [_async_context(c) for c in self._connections],
        compiler_fn=compilers.mergeable_compiler)

  def close(self) -> None:
    _cancel_unfinished(self.context)
    for connection in self._connections:
      connection.close()


def _cancel_unfinished(context, timeout_s: float = 10.0) -> None:
  """Cancels the shares a failed invocation left running on `context`'s loop.

  When one worker fails, TFF's mergeable context raises at once but leaves the
  other workers' shares running; once their channels close they fail too, and
  asyncio logs their tracebacks after our clear error.
  """
  runner = getattr(context, '_async_runner', None)  # a TFF internal
  loop = getattr(runner, '_event_loop', None)
  if loop is None or not loop.is_running():
    return

  async def cancel_others():
    tasks = asyncio.all_tasks() - {asyncio.current_task()}
    for task in tasks:
      task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

  future = asyncio.run_coroutine_threadsafe(cancel_others(), loop)
  try:
    future.result(timeout=timeout_s)
  except concurrent.futures.TimeoutError:
    future.cancel()


@contextlib.contextmanager
def remote_runtime(addresses: Sequence[str], **kwargs):
  """`with remote_runtime(addresses): ...` runs TFF computations on the workers.

  Installs the context on top of this thread's context stack and restores the
  previous one afterwards, so the process's default context is untouched.
  Keyword arguments go to `RemoteRuntime`.
  """
  remote = RemoteRuntime(addresses, **kwargs)
  try:
    with tff.framework.get_context_stack().install(remote.context):
      yield remote
  finally:
    remote.close()
