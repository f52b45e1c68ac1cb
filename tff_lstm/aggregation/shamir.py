"""Shamir t-of-n secret sharing over the prime field of 2**521 - 1.

SecAgg shares each client's self-mask seed and mask key this way, so that any
t surviving neighbours let the server remove a client's masks and fewer than
t learn nothing about them. The field is large enough to hold a 32-byte
X25519 private key as one element.
"""

from collections.abc import Sequence

PRIME = 2**521 - 1  # a Mersenne prime


class NotEnoughSharesError(ValueError):
  """Fewer shares than the threshold: the secret cannot be reconstructed."""


def split(secret: int, threshold: int, holders: Sequence[int],
          random_bytes) -> dict[int, int]:
  """Shares of `secret` for each holder (x = holder + 1).

  Args:
    secret: an integer in [0, PRIME).
    threshold: how many shares reconstruct it (t >= 1).
    holders: distinct non-negative holder ids.
    random_bytes: n -> n random bytes (the caller's seeded generator).
  """
  if not 0 <= secret < PRIME:
    raise ValueError('The secret must lie in the field.')
  if not 1 <= threshold <= len(holders):
    raise ValueError(f'threshold {threshold} needs 1..{len(holders)} holders.')
  coefficients = [secret] + [
      int.from_bytes(random_bytes(66), 'big') % PRIME
      for _ in range(threshold - 1)]
  shares = {}
  for holder in holders:
    x, y = holder + 1, 0
    for c in reversed(coefficients):  # Horner
      y = (y * x + c) % PRIME
    shares[holder] = y
  return shares


def reconstruct(shares: dict[int, int], threshold: int) -> int:
  """The secret from at least `threshold` shares {holder: share}."""
  if len(shares) < threshold:
    raise NotEnoughSharesError(
        f'{len(shares)} shares, {threshold} needed.')
  points = [(holder + 1, y) for holder, y in sorted(shares.items())][
      :threshold]
  secret = 0
  for i, (xi, yi) in enumerate(points):
    num, den = 1, 1
    for j, (xj, _) in enumerate(points):
      if i != j:
        num = num * (-xj) % PRIME
        den = den * (xi - xj) % PRIME
    secret = (secret + yi * num * pow(den, -1, PRIME)) % PRIME
  return secret
