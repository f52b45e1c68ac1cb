"""Training on TFF workers over gRPC: in-process results, clear failures."""

import collections
import os
import re
import signal
import time

import numpy as np
import portpicker
import pytest
import tensorflow_federated as tff

from tff_lstm.runtime import processes
from tff_lstm.runtime import remote
from tff_lstm import runtime
from tff_lstm.algorithms import fedavg
from tff_lstm.algorithms import learning_process
from tff_lstm.algorithms import optimizers
from tff_lstm.tasks import model_config
from tff_lstm.tasks import shakespeare_char


def _start_workers(count: int, started: list,
                   tls=None) -> list[runtime.LocalWorker]:
  workers = []
  for _ in range(count):
    worker = runtime.LocalWorker(runtime.WorkerSettings(), tcp=True, tls=tls)
    started.append(worker)
    worker.stub()
    workers.append(worker)
  return workers


def _stop_all(workers) -> None:
  pids = [w.pid for w in workers if w.pid]
  for worker in workers:
    worker.stop()
  for pid in pids:
    assert processes.wait_gone(pid), f'worker {pid} survived the test'


def _addresses(workers) -> list[str]:
  return [f'127.0.0.1:{w.port}' for w in workers]


@pytest.fixture(scope='module')
def two_workers():
  """Two worker services on loopback ports, stopped (and checked gone) after."""
  started = []
  try:
    yield _start_workers(2, started)
  finally:
    _stop_all(started)


@pytest.fixture(scope='module')
def tls_workers(tmp_path_factory):
  """Two mutual-TLS workers and the controller's certificate files."""
  from tff_lstm.runtime import certificates  # pylint: disable=g-import-not-at-top
  directory = str(tmp_path_factory.mktemp('certs'))
  certificates.make_certificates(directory, ['127.0.0.1'])
  paths = certificates.worker_paths(directory)
  started = []
  try:
    yield (_start_workers(2, started, runtime.TlsFiles(
        cert=paths.cert, key=paths.key, client_ca=paths.ca)),
           certificates.controller_paths(directory))
  finally:
    _stop_all(started)


@pytest.fixture
def start_workers():
  """Starts workers that one test may kill; all are gone after the test."""
  started = []
  yield lambda count: _start_workers(count, started)
  _stop_all(started)


@tff.federated_computation(tff.FederatedType(np.float32, tff.CLIENTS))
def _federated_sum(values):
  return tff.federated_sum(values)


def _current_context():
  return tff.framework.get_context_stack().current


def _train(process, clients, rounds: int):
  state = process.initialize()
  metrics = []
  for _ in range(rounds):
    result = process.next(state, clients)
    state = result.state
    metrics.append(result.metrics['client_work']['train'])
  return process.get_model_weights(state), metrics


def test_federated_sum_over_two_workers(federated_runtime, two_workers):
  del federated_runtime  # the default context the test must leave in place
  before = _current_context()
  with remote.remote_runtime(_addresses(two_workers)) as workers:
    assert _current_context() is workers.context
    assert _federated_sum([1.0, 2.0, 3.5, 4.0]) == pytest.approx(10.5)
  assert _current_context() is before


@pytest.mark.parametrize('channel', ['plaintext_loopback', 'mutual_tls'])
def test_fedavg_on_two_workers_matches_in_process(
    federated_runtime, request, macbeth_client_data, monkeypatch, channel):
  del federated_runtime  # the in-process run uses it
  if channel == 'mutual_tls':
    two_workers, tls = request.getfixturevalue('tls_workers')
  else:
    two_workers, tls = request.getfixturevalue('two_workers'), None
  train_data = macbeth_client_data[0]
  task = shakespeare_char.create_task(
      tff.simulation.baselines.ClientSpec(
          num_epochs=1, batch_size=4, max_elements=8, shuffle_buffer_size=1),
      sequence_length=20,
      model_config=model_config.ModelConfig(units=8, num_layers=1, seed=7),
      client_data=macbeth_client_data)
  process = learning_process.build_learning_process(
      task,
      fedavg.Config(optimizers.OptimizerConfig(learning_rate=0.5)))
  clients = [
      task.datasets.train_preprocess_fn(
          train_data.create_tf_dataset_for_client(c))
      for c in sorted(train_data.client_ids)[:5]
  ]
  expected_weights, expected_metrics = _train(process, clients, rounds=2)

  calls = collections.Counter()
  stub_class = remote._WorkerStub  # pylint: disable=protected-access
  create_call = stub_class.create_call

  def counting_create_call(stub, request):
    calls[stub._address] += 1  # pylint: disable=protected-access
    return create_call(stub, request)

  monkeypatch.setattr(stub_class, 'create_call', counting_create_call)
  with remote.remote_runtime(_addresses(two_workers), tls=tls):
    weights, metrics = _train(process, clients, rounds=2)

  assert set(calls) == set(_addresses(two_workers))  # both did client work
  for got, want in zip(metrics, expected_metrics):
    assert got['num_examples'] == want['num_examples'] > 0
    for name in ('loss', 'accuracy'):
      assert got[name] == pytest.approx(want[name], rel=1e-5), name
  for got, want in zip(weights.trainable, expected_weights.trainable):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
  assert any(not np.allclose(w, i) for w, i in zip(
      weights.trainable,
      process.get_model_weights(process.initialize()).trainable))


def test_worker_that_is_down_at_start_fails_fast_naming_it(two_workers):
  dead = f'127.0.0.1:{portpicker.pick_unused_port()}'
  before = _current_context()
  started = time.monotonic()
  with pytest.raises(runtime.WorkerError,
                     match=f'TFF worker at {re.escape(dead)} did not answer '
                     'within 5 s'):
    with remote.remote_runtime([_addresses(two_workers)[0], dead]):
      pass
  assert time.monotonic() - started < 10
  assert _current_context() is before


def test_worker_dying_mid_run_fails_the_round_naming_it(start_workers):
  workers = start_workers(2)
  addresses = _addresses(workers)
  with remote.remote_runtime(addresses):
    assert _federated_sum([1.0, 2.0]) == pytest.approx(3.0)
    pid = workers[1].pid
    os.kill(pid, signal.SIGKILL)
    assert processes.wait_gone(pid)
    started = time.monotonic()
    with pytest.raises(runtime.WorkerError,
                       match=f'TFF worker at {re.escape(addresses[1])} '
                       'stopped answering'):
      _federated_sum([1.0, 2.0, 3.0])
    assert time.monotonic() - started < 10


def test_a_stopped_worker_fails_the_round_within_the_timeout(start_workers):
  """SIGSTOP keeps its connection open but answers nothing, as a hung or
  vanished host would: the call fails once a heartbeat goes unanswered."""
  workers = start_workers(2)
  addresses = _addresses(workers)
  inner = processes.descendants(workers[1].pid)  # its worker_binary
  assert inner
  with remote.remote_runtime(addresses, call_timeout_s=4):
    assert _federated_sum([1.0, 2.0]) == pytest.approx(3.0)
    for pid in inner:
      os.kill(pid, signal.SIGSTOP)
    try:
      started = time.monotonic()
      with pytest.raises(runtime.WorkerError,
                         match=f'TFF worker at {re.escape(addresses[1])} '
                         'stopped answering: a call was in flight'):
        _federated_sum([1.0, 2.0, 3.0])
      # At most a heartbeat's wait and its answer's (4 s), plus slack for a
      # loaded machine; without heartbeats the call never returns.
      assert time.monotonic() - started < 4 + 10
    finally:
      for pid in inner:
        os.kill(pid, signal.SIGCONT)


def test_plaintext_to_another_host_is_refused():
  with pytest.raises(ValueError, match='is not on this machine'):
    remote.RemoteRuntime(['10.1.2.3:8000'])


def test_restarted_worker_is_used_again(start_workers):
  workers = start_workers(2)
  with remote.remote_runtime(_addresses(workers)):
    assert _federated_sum([1.0, 2.0]) == pytest.approx(3.0)
    pid, port = workers[1].pid, workers[1].port
    os.kill(pid, signal.SIGKILL)
    assert processes.wait_gone(pid)
    restarted = runtime.LocalWorker(runtime.WorkerSettings(), port=port)
    try:
      restarted.stub()
      assert _federated_sum([1.0, 2.0, 3.0]) == pytest.approx(6.0)
    finally:
      _stop_all([restarted])


def test_secure_sums_run_on_workers(two_workers):
  """Workers have no secure-sum protocol: it is lowered to a plain sum."""

  @tff.federated_computation(tff.FederatedType(np.int32, tff.CLIENTS))
  def secure_sum(values):
    return tff.federated_secure_sum_bitwidth(values, 8)

  with remote.remote_runtime(_addresses(two_workers)):
    assert secure_sum([1, 2, 3, 4, 5]) == 15


@pytest.mark.parametrize('text, message', [
    ('', 'No worker address'),
    ('localhost', 'is not host:port'),
    ('h:0', 'is not host:port'),
    ('h:1,h:1', 'repeated'),
])
def test_bad_addresses_are_clear_errors(text, message):
  with pytest.raises(ValueError, match=message):
    remote.parse_addresses(text)


def test_addresses_parse():
  assert remote.parse_addresses(' a:1, [::1]:8000 ,') == [
      'a:1', '[::1]:8000']
