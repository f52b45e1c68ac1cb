"""The key-exchange and unmasking rounds of secure aggregation, between
simulated clients and a server that only sees what clients send it.

Bonawitz et al. 2017 ("Practical Secure Aggregation for Privacy-Preserving
Machine Learning"), with the sparse key graph of SecAgg+ (Bell et al. 2020):
each client agrees masks only with its k neighbours on a random Harary graph,
so its cost grows with k, not with the cohort.

  0. Advertise keys: client i makes two X25519 key pairs, c_i (to encrypt the
     shares it sends) and s_i (to agree masks); the server passes the public
     keys to i's neighbours.
  1. Share keys: i draws a self-mask seed b_i and Shamir-splits b_i and the
     private key of s_i t-of-(k + 1) among its neighbours and itself; each
     neighbour's pair of shares travels through the server encrypted
     (AES-GCM under a key derived from X25519(c_i, c_j)), so the server routes
     them without reading them.
  2. Masked input: i's mask is PRG(b_i) + sum over neighbours j of
     +-PRG(s_ij), s_ij derived from X25519(s_i, s_j) (+ if i < j, - if i > j,
     so each pair cancels in the sum). This module hands each client the
     seeds; `masking` expands and adds them to its quantized update inside
     the TFF round. A client that drops out here sends nothing.
  3. Unmasking: every survivor sends, for each neighbour, the share of b
     (neighbour survived) or of the s private key (neighbour dropped), never
     both for one client. From t shares the server rebuilds the survivors'
     b and the dropped clients' keys, hence the pairwise seeds left without
     their partner, and removes those masks from the sum (`masking.unmask`).

Not simulated: the signatures and consistency check of the actively secure
variant (this is the honest-but-curious server of the paper), clients that
drop in rounds 0, 1 or 3, and the network. Keys are drawn from generators
seeded by the run's flags so that a simulation can be repeated; a real client
draws them from the OS.
"""

import dataclasses
import math
import time
from collections.abc import Sequence
from typing import Optional

import numpy as np
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.ciphers import aead
from cryptography.hazmat.primitives.kdf import hkdf

from tff_lstm.aggregation import shamir

_RAW = dict(encoding=serialization.Encoding.Raw,
            format=serialization.PublicFormat.Raw)
_SEED_TAG = 0x5EC466  # separates these generators from the run's others


class ProtocolAbortError(ValueError):
  """Too few survivors hold shares of some client: the sum is lost."""


def default_neighbors(num_clients: int) -> int:
  """SecAgg+'s logarithmic degree: the even k >= 2 log2(n), at most n - 1.

  n - 1 (every client a neighbour of every other) is Bonawitz et al.'s
  complete graph.
  """
  k = 2 * math.ceil(math.log2(max(num_clients, 2)))
  return min(k + k % 2, num_clients - 1)


def default_threshold(neighbors: int) -> int:
  """A majority of the k + 1 holders of each client's shares."""
  return (neighbors + 1) // 2 + 1


def check_settings(num_clients: int, neighbors: int, threshold: int,
                   dropouts: int) -> None:
  """Raises ValueError, naming the flag, if the round could not complete.

  A client's shares are held by its k neighbours and itself; with d
  dropouts, at worst all of them among one client's holders, k + 1 - d
  remain, and the server needs t of them.
  """
  if num_clients < 2:
    raise ValueError('--secure_aggregation=masked needs at least 2 clients '
                     f'per round, got --clients_per_round={num_clients}.')
  if not (neighbors == num_clients - 1 or (
      neighbors >= 2 and neighbors % 2 == 0 and neighbors < num_clients)):
    raise ValueError(
        f'--secagg_neighbors={neighbors}: the key graph needs an even number '
        f'of neighbours in [2, {num_clients - 1}) or exactly '
        f'{num_clients - 1} (every other client of the '
        f'--clients_per_round={num_clients}).')
  if not 1 <= threshold <= num_clients:
    raise ValueError(f'--secagg_threshold={threshold} must be in [1, '
                     f'--clients_per_round={num_clients}].')
  if threshold > neighbors + 1:
    raise ValueError(
        f'--secagg_threshold={threshold} is above the {neighbors + 1} holders '
        f'of each client\'s shares (--secagg_neighbors={neighbors} and '
        'itself): no client could ever be unmasked.')
  if dropouts > neighbors + 1 - threshold:
    raise ValueError(
        f'--secagg_dropout_rate drops {dropouts} of {num_clients} clients a '
        f'round, which can leave fewer than --secagg_threshold={threshold} of '
        f'a client\'s {neighbors + 1} share holders: at most '
        f'{max(neighbors + 1 - threshold, 0)} may drop.')


def dropout_count(num_clients: int, rate: float) -> int:
  """Clients dropped each round at `rate` (rounded to the nearest)."""
  return int(round(rate * num_clients))


def key_graph(num_clients: int, neighbors: int,
              rng: np.random.Generator) -> list[list[int]]:
  """SecAgg+'s graph: a Harary graph H(k, n) under a random relabeling.

  Each node sits on a ring in random order and links to the k / 2 nodes on
  either side; k = n - 1 is the complete graph.
  """
  if neighbors >= num_clients - 1:
    return [[j for j in range(num_clients) if j != i]
            for i in range(num_clients)]
  order = rng.permutation(num_clients)
  place = np.argsort(order)
  half = neighbors // 2
  graph = []
  for i in range(num_clients):
    p = place[i]
    ring = [order[(p + d) % num_clients] for d in range(-half, half + 1)
            if d != 0]
    graph.append(sorted(int(j) for j in ring))
  return graph


def _hkdf(secret: bytes, info: bytes, length: int) -> bytes:
  return hkdf.HKDF(algorithm=hashes.SHA256(), length=length, salt=None,
                   info=info).derive(secret)


def seed_pair(raw: bytes) -> np.ndarray:
  """16 bytes as the [2] int64 seed of TF's stateless generators."""
  return np.frombuffer(raw, dtype='<i8').astype(np.int64)


def _private_key(rng: np.random.Generator) -> x25519.X25519PrivateKey:
  return x25519.X25519PrivateKey.from_private_bytes(rng.bytes(32))


def _private_int(key: x25519.X25519PrivateKey) -> int:
  raw = key.private_bytes(serialization.Encoding.Raw,
                          serialization.PrivateFormat.Raw,
                          serialization.NoEncryption())
  return int.from_bytes(raw, 'big')


def _key_from_int(value: int) -> x25519.X25519PrivateKey:
  return x25519.X25519PrivateKey.from_private_bytes(value.to_bytes(32, 'big'))


def pairwise_seed(private: x25519.X25519PrivateKey, public: bytes,
                  round_tag: bytes) -> np.ndarray:
  """The mask seed two clients agree from X25519 (same from either side)."""
  shared = private.exchange(x25519.X25519PublicKey.from_public_bytes(public))
  return seed_pair(_hkdf(shared, b'secagg mask ' + round_tag, 16))


@dataclasses.dataclass
class Traffic:
  """Bytes and seconds of one party's protocol work in one round."""
  bytes_sent: int = 0
  bytes_received: int = 0
  seconds: float = 0.0


class Client:
  """One client's side of rounds 0, 1 and 3 (and its mask seeds of 2)."""

  def __init__(self, cid: int, rng: np.random.Generator, round_tag: bytes):
    self.cid = cid
    self._rng = rng
    self._tag = round_tag
    self.traffic = Traffic()
    start = time.perf_counter()
    self._c = _private_key(rng)
    self._s = _private_key(rng)
    self._b = rng.bytes(16)
    self._held = {}  # sender -> ciphertext of (share of b, share of s key)
    self.traffic.seconds += time.perf_counter() - start

  def advertise_keys(self) -> tuple[bytes, bytes]:
    keys = (self._c.public_key().public_bytes(**_RAW),
            self._s.public_key().public_bytes(**_RAW))
    self.traffic.bytes_sent += 64
    return keys

  def _channel(self, peer_c_public: bytes) -> aead.AESGCM:
    shared = self._c.exchange(
        x25519.X25519PublicKey.from_public_bytes(peer_c_public))
    return aead.AESGCM(_hkdf(shared, b'secagg shares ' + self._tag, 32))

  @staticmethod
  def _nonce(sender: int, receiver: int) -> bytes:
    return sender.to_bytes(6, 'big') + receiver.to_bytes(6, 'big')

  def share_keys(self, neighbors: Sequence[int],
                 public_keys: dict[int, tuple[bytes, bytes]],
                 threshold: int) -> dict[int, bytes]:
    """Encrypted shares of b_i and of s_i's private key, per holder."""
    start = time.perf_counter()
    self._neighbors = list(neighbors)
    self._public = public_keys
    holders = sorted(self._neighbors + [self.cid])
    b_shares = shamir.split(int.from_bytes(self._b, 'big'), threshold,
                            holders, self._rng.bytes)
    s_shares = shamir.split(_private_int(self._s), threshold, holders,
                            self._rng.bytes)
    out = {}
    for j in holders:
      plain = b_shares[j].to_bytes(66, 'big') + s_shares[j].to_bytes(66, 'big')
      if j == self.cid:
        self._held[self.cid] = plain
        continue
      out[j] = self._channel(public_keys[j][0]).encrypt(
          self._nonce(self.cid, j), plain, None)
    self.traffic.bytes_sent += sum(len(c) for c in out.values())
    self.traffic.seconds += time.perf_counter() - start
    return out

  def receive_shares(self, sender: int, ciphertext: bytes) -> None:
    self._held[sender] = ciphertext
    self.traffic.bytes_received += len(ciphertext)

  def mask_seeds(self) -> tuple[np.ndarray, np.ndarray]:
    """Rows (seed [2], sign) of this client's mask: b_i, then each s_ij."""
    start = time.perf_counter()
    seeds = [seed_pair(self._b)]
    signs = [1]
    for j in self._neighbors:
      seeds.append(pairwise_seed(self._s, self._public[j][1], self._tag))
      signs.append(1 if self.cid < j else -1)
    self.traffic.seconds += time.perf_counter() - start
    return np.stack(seeds), np.array(signs, np.int64)

  def unmasking_shares(self, survivors: set) -> dict[int, tuple[str, int]]:
    """For each client whose shares it holds: b's share if that client
    survived, the s key's share if it dropped."""
    start = time.perf_counter()
    out = {}
    for sender, held in self._held.items():
      plain = held if sender == self.cid else self._channel(
          self._public[sender][0]).decrypt(self._nonce(sender, self.cid),
                                           held, None)
      if sender in survivors:
        out[sender] = ('b', int.from_bytes(plain[:66], 'big'))
      else:
        out[sender] = ('s', int.from_bytes(plain[66:], 'big'))
    self.traffic.bytes_sent += 67 * len(out)
    self.traffic.seconds += time.perf_counter() - start
    return out


class Server:
  """Routes keys and ciphertexts and rebuilds the masks it must remove.

  Everything a client sends it passes through `receive`, which keeps a
  record (`received`), so a test can check what the server was handed.
  """

  def __init__(self, graph: list[list[int]], threshold: int,
               round_tag: bytes):
    self._graph = graph
    self._t = threshold
    self._tag = round_tag
    self.traffic = Traffic()
    self.received = []  # (sender, kind, payload)

  def receive(self, sender: int, kind: str, payload, size: int) -> None:
    self.received.append((sender, kind, payload))
    self.traffic.bytes_received += size

  def route_keys(self, keys: dict[int, tuple[bytes, bytes]]):
    for i, k in keys.items():
      self.receive(i, 'public_keys', k, 64)
    self._public = keys
    out = {i: {j: keys[j] for j in self._graph[i]} for i in keys}
    self.traffic.bytes_sent += sum(64 * len(v) for v in out.values())
    return out

  def route_shares(self, shares: dict[int, dict[int, bytes]]):
    inbox = {}
    for i, per_holder in shares.items():
      for j, ciphertext in per_holder.items():
        self.receive(i, 'encrypted_share', ciphertext, len(ciphertext))
        inbox.setdefault(j, []).append((i, ciphertext))
        self.traffic.bytes_sent += len(ciphertext)
    return inbox

  def unmask_seeds(self, survivors: Sequence[int],
                   replies: dict[int, dict[int, tuple[str, int]]]):
    """Rows (seed, sign) whose masks the server adds to the sum to unmask it.

    Raises:
      ProtocolAbortError: fewer than t shares of some client came back.
    """
    start = time.perf_counter()
    alive = set(survivors)
    by_client = {}
    for holder, shares in replies.items():
      self.receive(holder, 'unmasking_shares', shares, 67 * len(shares))
      for owner, (kind, share) in shares.items():
        by_client.setdefault(owner, {})[holder] = (kind, share)
    seeds, signs = [], []
    for owner in range(len(self._graph)):
      got = by_client.get(owner, {})
      kinds = {kind for kind, _ in got.values()}
      if len(kinds) > 1:
        raise ProtocolAbortError(
            f'client {owner}: asked for both its self-mask and its mask key.')
      values = {h: v for h, (_, v) in got.items()}
      try:
        secret = shamir.reconstruct(values, self._t)
      except shamir.NotEnoughSharesError as e:
        status = 'surviving' if owner in alive else 'dropped'
        raise ProtocolAbortError(
            f'secure aggregation cannot unmask the sum: {status} client '
            f'{owner} has {len(values)} surviving share holders, '
            f'--secagg_threshold={self._t} needed ({len(alive)} of '
            f'{len(self._graph)} clients survived).') from e
      if owner in alive:
        seeds.append(seed_pair(secret.to_bytes(16, 'big')))
        signs.append(-1)  # remove +PRG(b_owner)
      else:
        key = _key_from_int(secret)
        for j in self._graph[owner]:
          if j in alive:  # j added sign(j, owner) * PRG(s_j,owner)
            seeds.append(pairwise_seed(key, self._public[j][1], self._tag))
            signs.append(-1 if j < owner else 1)
    self.traffic.seconds += time.perf_counter() - start
    return (np.stack(seeds).astype(np.int64) if seeds
            else np.zeros([0, 2], np.int64), np.array(signs, np.int64))


@dataclasses.dataclass
class RoundKeys:
  """What one round's key exchange gives the masked TFF round.

  client_seeds/client_signs: per surviving client (in `survivors` order), its
    mask rows, padded with sign 0 to `neighbors + 1` rows.
  server_seeds/server_signs: the server's unmasking rows.
  """
  survivors: list[int]
  dropped: list[int]
  client_seeds: list[np.ndarray]
  client_signs: list[np.ndarray]
  server_seeds: np.ndarray
  server_signs: np.ndarray
  clients: list[Client]
  server: Server


def run_key_rounds(num_clients: int, *, neighbors: int, threshold: int,
                   seed: Sequence[int], dropped: Optional[Sequence[int]] = None,
                   dropout_rate: float = 0.0) -> RoundKeys:
  """Rounds 0, 1 and 3 for `num_clients` clients; round 2 is the caller's.

  Args:
    num_clients: the cohort (clients 0..n-1, in the order of the round).
    neighbors: k, the degree of the key graph.
    threshold: t, shares needed to rebuild a secret.
    seed: the run's seed and round (and anything else that must separate
      rounds), for every generator of the round.
    dropped: clients that drop after sharing keys (a fixed list, for tests);
      None: `dropout_rate` of them, drawn from `seed`.
    dropout_rate: share of the cohort dropping when `dropped` is None.
  """
  check_settings(num_clients, neighbors, threshold, 0)
  base = [int(s) for s in seed] + [_SEED_TAG]
  rng = np.random.default_rng(base)
  tag = np.asarray(base, np.int64).tobytes()
  graph = key_graph(num_clients, neighbors, rng)
  if dropped is None:
    d = dropout_count(num_clients, dropout_rate)
    dropped = sorted(int(i) for i in rng.choice(num_clients, d, replace=False))
  dropped = sorted(set(int(i) for i in dropped))
  if any(not 0 <= i < num_clients for i in dropped):
    raise ValueError(f'dropped clients {dropped} outside 0..{num_clients - 1}.')
  clients = [Client(i, np.random.default_rng(base + [1, i]), tag)
             for i in range(num_clients)]
  server = Server(graph, threshold, tag)
  inbox = server.route_keys({c.cid: c.advertise_keys() for c in clients})
  for c in clients:
    c.traffic.bytes_received += 64 * len(inbox[c.cid])
  routed = server.route_shares(
      {c.cid: c.share_keys(graph[c.cid], inbox[c.cid], threshold)
       for c in clients})
  for j, messages in routed.items():
    for sender, ciphertext in messages:
      clients[j].receive_shares(sender, ciphertext)
  survivors = [i for i in range(num_clients) if i not in set(dropped)]
  rows = [clients[i].mask_seeds() for i in survivors]
  width = neighbors + 1
  pad = lambda a, fill_shape: np.concatenate(
      [a, np.zeros((width - len(a),) + fill_shape, np.int64)])
  replies = {i: clients[i].unmasking_shares(set(survivors))
             for i in survivors}
  server_seeds, server_signs = server.unmask_seeds(survivors, replies)
  return RoundKeys(
      survivors=survivors, dropped=dropped,
      client_seeds=[pad(s, (2,)) for s, _ in rows],
      client_signs=[pad(g, ()) for _, g in rows],
      server_seeds=server_seeds, server_signs=server_signs,
      clients=clients, server=server)
