"""Seeded client sampling: the same seed and round always give the same clients.

TFF's uniform sampler derives each round's draw from (seed, round number), so a
resumed run samples exactly the clients the uninterrupted run would have.
"""

from collections.abc import Callable, Sequence

import tensorflow as tf
import tensorflow_federated as tff


def build_client_id_sampler(client_ids: Sequence[str], clients_per_round: int,
                            seed: int) -> Callable[[int], list[str]]:
  """Returns round_num -> the client ids of that round (no repeats in a round)."""
  if clients_per_round < 1:
    raise ValueError(f'clients_per_round must be >= 1, got {clients_per_round}.')
  if clients_per_round > len(client_ids):
    raise ValueError(f'clients_per_round={clients_per_round} exceeds the '
                     f'{len(client_ids)} clients available.')
  sample = tff.simulation.build_uniform_sampling_fn(
      sorted(client_ids), replace=False, random_seed=seed)
  return lambda round_num: list(sample(round_num, clients_per_round))


def build_dataset_selection_fn(
    client_data: tff.simulation.datasets.ClientData,
    preprocess_fn: Callable[[tf.data.Dataset], tf.data.Dataset],
    clients_per_round: int, seed: int) -> Callable[[int], list[tf.data.Dataset]]:
  """round_num -> the preprocessed datasets of that round's sampled clients."""
  sample_ids = build_client_id_sampler(client_data.client_ids,
                                       clients_per_round, seed)
  return lambda round_num: [
      preprocess_fn(client_data.create_tf_dataset_for_client(cid))
      for cid in sample_ids(round_num)
  ]
