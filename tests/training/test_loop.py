"""The training loop's own scheduling: a fresh worker every N rounds."""

import pytest

from tff_lstm import runtime
from tff_lstm.training import loop


def test_worker_restarts_every_n_rounds_but_not_at_the_first(federated_runtime):
  del federated_runtime
  pids = []

  def selection(round_num):
    pids.append(runtime.active_worker().pid)
    return round_num

  select = loop.restarting_worker(selection, first_round=3, every=2)
  assert [select(r) for r in range(3, 8)] == [3, 4, 5, 6, 7]
  # Restarts before rounds 5 and 7; round 3 is where this run (re)started.
  assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4]


def test_never_restarts_when_every_is_zero(federated_runtime):
  del federated_runtime
  pids = []
  select = loop.restarting_worker(
      lambda r: pids.append(runtime.active_worker().pid), first_round=1, every=0)
  for r in range(1, 5):
    select(r)
  assert len(set(pids)) == 1


def test_negative_restart_cadence_is_refused():
  with pytest.raises(ValueError, match='--rounds_per_worker_restart must be >= 0'):
    loop.LoopConfig(total_rounds=1, clients_per_round=1,
                    rounds_per_worker_restart=-1)
