"""The benchmark's rounds: real Shakespeare clients, fixed by a seed.

Every configuration (TFF or PyTorch) trains on exactly these arrays, so round
times compare the same work. Two kinds of round:

* `uniform`: clients taken in a seeded order among those with at least
  `sequences_per_client` training sequences, each trained on its first that
  many (a client never twice in a round): 10 x 64 sequences at batch 4 is a
  160-step round of equal clients, on real text.
* `real`: clients drawn as `run_federated.py` draws them, with all their data;
  sizes are skewed (a round is often dominated by one long client).
"""

import sqlite3

import numpy as np
import tensorflow_federated as tff

from tff_lstm.data import shakespeare
from tff_lstm.tasks import data_identity
from tff_lstm.tasks import shakespeare_char
from tff_lstm.training import selection

# Each sequence is 81 characters of a snippet (plus BOS/EOS and padding), so a
# client's serialized text bytes bound its sequence count from above.
_BYTES_PER_SEQUENCE = 81


def _candidates(cache_dir, min_sequences):
  """Clients that can have `min_sequences` sequences, from the DB's sizes."""
  with sqlite3.connect(shakespeare.database_path(cache_dir)) as db:
    rows = db.execute(
        'SELECT client_id, SUM(LENGTH(serialized_example_proto)) FROM examples '
        "WHERE split_name = 'train' GROUP BY client_id").fetchall()
  return sorted(cid for cid, size in rows
                if size >= min_sequences * _BYTES_PER_SEQUENCE)


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
  if kind == 'real':
    sample = selection.build_client_id_sampler(
        task.datasets.train_data.client_ids, clients_per_round, seed)
    return [[_client_rows(task, cid) for cid in sample(r)]
            for r in range(num_rounds)]
  if kind != 'uniform':
    raise ValueError(f'Unknown round kind {kind!r}; valid: uniform, real.')
  # Each round walks its own seeded order of the candidates, keeping those
  # that really have enough sequences.
  candidates = _candidates(cache_dir, sequences_per_client)
  rows = {}
  rounds = []
  for round_num in range(num_rounds):
    order = np.random.default_rng([seed, round_num]).permutation(candidates)
    clients = []
    for cid in order:
      if cid not in rows:
        rows[cid] = _client_rows(task, cid)
      x, y = rows[cid]
      if len(x) >= sequences_per_client:
        clients.append((x[:sequences_per_client], y[:sequences_per_client]))
      if len(clients) == clients_per_round:
        break
    else:
      raise ValueError(f'Fewer than {clients_per_round} clients have '
                       f'{sequences_per_client} sequences.')
    rounds.append(clients)
  return rounds


def sequence_counts(rounds) -> list[list[int]]:
  """[round][client] -> that client's sequences in the round.

  Recorded beside a benchmark's timings: the database can be rebuilt (a new
  builder version) after the benchmark ran, and the rounds with it.
  """
  return [[len(x) for x, _ in clients] for clients in rounds]


def database_identity(cache_dir=None) -> dict[str, str]:
  """{file name: content hash} of the Shakespeare database the rounds use."""
  return data_identity.of_database(shakespeare.database_path(cache_dir))


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
