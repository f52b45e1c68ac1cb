"""The benchmark's rounds: real Shakespeare clients, fixed by a seed.

Every configuration (TFF or PyTorch) trains on exactly these arrays, so round
times compare the same work. Two kinds of round:

* `uniform`: clients drawn (seeded) among those with at least
  `sequences_per_client` training sequences, each trained on its first
  that many: 10 x 64 sequences at batch 4 is the 160-step round of the
  performance issue's probes, on real text.
* `real`: clients drawn as `run_federated.py` draws them, with all their data;
  sizes are skewed (a round is often dominated by one long client).
"""

import numpy as np
import tensorflow_federated as tff

from tff_lstm.tasks import shakespeare_char
from tff_lstm.training import selection


def _client_rows(task, client_id):
  """All of a client's (x, y) sequences, unbatched, in order."""
  dataset = task.datasets.train_preprocess_fn(
      task.datasets.train_data.create_tf_dataset_for_client(client_id))
  xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in dataset])
  return np.concatenate(xs), np.concatenate(ys)


def build_rounds(kind: str, num_rounds: int, clients_per_round: int,
                 sequences_per_client: int = 64, seed: int = 0,
                 cache_dir=None):
  """[round][client] -> (x [N, 80] int64, y [N, 80] int64)."""
  spec = tff.simulation.baselines.ClientSpec(
      num_epochs=1, batch_size=sequences_per_client, shuffle_buffer_size=1)
  task = shakespeare_char.create_task(spec, cache_dir=cache_dir)
  ids = sorted(task.datasets.train_data.client_ids)
  if kind == 'uniform':
    sizes = {cid: len(_client_rows(task, cid)[0]) for cid in ids}
    ids = [cid for cid in ids if sizes[cid] >= sequences_per_client]
  elif kind != 'real':
    raise ValueError(f'Unknown round kind {kind!r}; valid: uniform, real.')
  sample = selection.build_client_id_sampler(ids, clients_per_round, seed)
  rounds = []
  for round_num in range(num_rounds):
    clients = [_client_rows(task, cid) for cid in sample(round_num)]
    if kind == 'uniform':
      clients = [(x[:sequences_per_client], y[:sequences_per_client])
                 for x, y in clients]
    rounds.append(clients)
  return rounds


def save(path: str, rounds) -> None:
  arrays = {}
  for r, clients in enumerate(rounds):
    for c, (x, y) in enumerate(clients):
      arrays[f'r{r}_c{c}_x'] = x
      arrays[f'r{r}_c{c}_y'] = y
  np.savez(path, num_rounds=len(rounds), clients=len(rounds[0]), **arrays)


def load(path: str):
  data = np.load(path)
  return [[(data[f'r{r}_c{c}_x'], data[f'r{r}_c{c}_y'])
           for c in range(int(data['clients']))]
          for r in range(int(data['num_rounds']))]
