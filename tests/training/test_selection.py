"""Seeded client sampling reproduces exactly, and differs across seeds/rounds;
the dataset selection benchmarks use gives exactly the sampled clients."""

import pytest
import tensorflow as tf
import tensorflow_federated as tff

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


def test_dataset_selection_gives_the_sampled_clients_preprocessed():
  # Each client's dataset holds its own index, so the datasets name the ids.
  ids = _IDS[:30]
  client_data = tff.simulation.datasets.TestClientData(
      {cid: [float(i)] * 3 for i, cid in enumerate(ids)})
  select = selection.build_dataset_selection_fn(
      client_data, lambda ds: ds.map(lambda x: x * 2).batch(3),
      clients_per_round=4, seed=7)
  sample = selection.build_client_id_sampler(ids, 4, seed=7)
  for round_num in (1, 2):
    batches = [next(iter(ds)).numpy().tolist() for ds in select(round_num)]
    assert batches == [[2.0 * ids.index(cid)] * 3 for cid in sample(round_num)]
    assert all(isinstance(ds, tf.data.Dataset) for ds in select(round_num))
