"""Shared fixtures: one TFF worker for the whole pytest session, stopped at the end."""

import pytest

from tff_lstm import runtime


@pytest.fixture(scope='session')
def federated_runtime():
  """Sets the TFF execution context to a worker this test process owns."""
  runtime.quiet_logging()
  worker = runtime.configure(runtime.WorkerSettings(), install_signal_handlers=False)
  yield worker
  runtime.shutdown()
