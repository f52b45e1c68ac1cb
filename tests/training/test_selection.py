"""Seeded client sampling reproduces exactly, and differs across seeds/rounds."""

import pytest

from tff_lstm.training import selection

_IDS = [f'client_{i:03d}' for i in range(200)]


def test_same_seed_same_clients_every_round():
  a = selection.build_client_id_sampler(_IDS, 10, seed=5)
  b = selection.build_client_id_sampler(list(reversed(_IDS)), 10, seed=5)
  for round_num in range(1, 20):
    assert a(round_num) == b(round_num)
    assert len(set(a(round_num))) == 10


def test_rounds_and_seeds_differ():
  a = selection.build_client_id_sampler(_IDS, 10, seed=5)
  c = selection.build_client_id_sampler(_IDS, 10, seed=6)
  assert a(1) != a(2)
  assert a(1) != c(1)


@pytest.mark.parametrize('per_round, message', [
    (0, 'must be >= 1'), (201, 'exceeds the 200 clients')])
def test_bad_cohort_size(per_round, message):
  with pytest.raises(ValueError, match=message):
    selection.build_client_id_sampler(_IDS, per_round, seed=0)
