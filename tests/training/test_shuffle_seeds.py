"""Shuffle seeds: a function of (run seed, round, client) and nothing else."""

from tff_lstm.training import shuffle_seeds


def test_each_part_of_the_key_changes_the_seed():
  seed = shuffle_seeds.client_shuffle_seed(0, 1, 'a')
  assert seed == shuffle_seeds.client_shuffle_seed(0, 1, 'a')
  others = {shuffle_seeds.client_shuffle_seed(*key) for key in
            [(1, 1, 'a'), (0, 2, 'a'), (0, 1, 'b'), (0, 11, ''), (0, 1, 'a ')]}
  assert seed not in others and len(others) == 5


def test_seeds_fit_tf_datas_int64_and_ignore_the_rest_of_the_round():
  ids = [f'client_{i}' for i in range(200)]
  seeds = shuffle_seeds.round_seeds(5, 3, ids)
  assert all(0 <= s < 2**63 for s in seeds) and len(set(seeds)) == len(ids)
  # A client's seed does not depend on who else is sampled, or in what order.
  assert shuffle_seeds.round_seeds(5, 3, ids[::-1]) == seeds[::-1]
  assert shuffle_seeds.round_seeds(5, 3, ids[7:8]) == seeds[7:8]
