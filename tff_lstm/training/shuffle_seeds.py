"""A client's shuffle seed in a round: a function of (run seed, round, client).

A client's local data order must be the same in two runs of one command, and
in a run resumed from a checkpoint as in one never interrupted, so it can
depend only on what those share: the run's seed flag, the round number and
the client id. Hashing the three gives every client of every round a seed of
its own, independent of who else is in the round or in what order, and needs
no state that a checkpoint would have to carry.
"""

from collections.abc import Sequence
import hashlib


def client_shuffle_seed(run_seed: int, round_num: int, client_id: str) -> int:
  """A seed in [0, 2**63): fits tf.data's int64 shuffle seed."""
  text = f'{run_seed}\0{round_num}\0{client_id}'.encode()
  return int.from_bytes(hashlib.sha256(text).digest()[:8], 'little') >> 1


def round_seeds(run_seed: int, round_num: int,
                client_ids: Sequence[str]) -> list[int]:
  """The shuffle seeds of one round's clients, in their order."""
  return [client_shuffle_seed(run_seed, round_num, c) for c in client_ids]
