"""CKKS encryption of client updates (TenSEAL): the three roles and their keys.

Each role holds what it needs and no more:

* `KeyHolder` generates the key pair and is the only one that can decrypt. It
  hands out a *public* context (parameters and public key, no secret key).
* `ClientEncryptor` holds the public context: it packs a client's vector into
  as few ciphertexts as the slot count allows and serializes them.
* `CiphertextSum` (the server) holds the public context too: it deserializes
  ciphertexts and adds them, and never sees a plaintext or the secret key.

Only additions are done, so the modulus chain needs no levels for rescaling:
one data prime that holds scale * |sum| (fresh ciphertexts are encrypted at
that single level, which halves or thirds them against the usual chains of
multiplying CKKS) and the special prime TenSEAL always generates keys with.
Security is checked against the HomomorphicEncryption.org standard's table of
the largest total coefficient modulus per ring degree at 128-bit classical
security (the table SEAL's `CoeffModulus::MaxBitCount` uses).

Randomness: key generation and encryption noise come from SEAL's
cryptographic generator, seeded by the operating system. That is deliberate (a
key derived from a flag is no key); it moves results only within CKKS error.
"""

import dataclasses
import math
import time
from collections.abc import Iterable, Sequence

import numpy as np
import tenseal as ts

# Largest total coefficient modulus bits at 128-bit classical security, per
# polynomial modulus degree (HE standard, Albrecht et al. 2018, Table 1,
# ternary secret; SEAL's he_std_parms.h).
MAX_COEFF_BITS_128 = {1024: 27, 2048: 54, 4096: 109, 8192: 218, 16384: 438,
                      32768: 881}
PRIME_BITS_RANGE = (17, 60)  # SEAL's limits on one coefficient prime
# Below this the encoding error (about 2^-scale times a few thousand) swamps
# float32 model updates.
MIN_SCALE_BITS = 20

DEFAULT_POLY_MODULUS_DEGREE = 8192
DEFAULT_COEFF_MOD_BIT_SIZES = (60, 40)
DEFAULT_SCALE_BITS = 40


@dataclasses.dataclass(frozen=True)
class CkksParameters:
  """CKKS parameters for summing vectors, validated at 128-bit security.

  Attributes:
    poly_modulus_degree: ring degree N; a ciphertext packs N/2 values.
    coeff_mod_bit_sizes: the coefficient primes' bit sizes: the data primes,
      then the special (key-switching) prime. Fresh ciphertexts carry the data
      primes; for sums, one data prime is enough.
    scale_bits: values are encoded as round(x * 2^scale_bits).
  """

  poly_modulus_degree: int = DEFAULT_POLY_MODULUS_DEGREE
  coeff_mod_bit_sizes: tuple[int, ...] = DEFAULT_COEFF_MOD_BIT_SIZES
  scale_bits: int = DEFAULT_SCALE_BITS

  def __post_init__(self):
    n = self.poly_modulus_degree
    if n not in MAX_COEFF_BITS_128:
      raise ValueError(
          f'--ckks_poly_modulus_degree must be one of '
          f'{", ".join(map(str, MAX_COEFF_BITS_128))}, got {n}.')
    sizes = tuple(self.coeff_mod_bit_sizes)
    if len(sizes) < 2:
      raise ValueError(
          '--ckks_coeff_mod_bit_sizes needs at least two primes (the data '
          'prime, then the special prime TenSEAL generates keys with), got '
          f'{",".join(map(str, sizes)) or "none"}.')
    low, high = PRIME_BITS_RANGE
    if not all(low <= b <= high for b in sizes):
      raise ValueError(f'--ckks_coeff_mod_bit_sizes: every prime must have '
                       f'{low} to {high} bits, got {",".join(map(str, sizes))}.')
    total, limit = sum(sizes), MAX_COEFF_BITS_128[n]
    if total > limit:
      raise ValueError(
          f'--ckks_coeff_mod_bit_sizes={",".join(map(str, sizes))} totals '
          f'{total} bits; at --ckks_poly_modulus_degree={n} 128-bit security '
          f'allows at most {limit} (HE standard). Use fewer or smaller primes, '
          'or a larger degree.')
    if not MIN_SCALE_BITS <= self.scale_bits < self.data_modulus_bits:
      raise ValueError(
          f'--ckks_scale_bits must be in [{MIN_SCALE_BITS}, '
          f'{self.data_modulus_bits - 1}] (below the data primes\' '
          f'{self.data_modulus_bits} bits), got {self.scale_bits}.')

  @property
  def data_modulus_bits(self) -> int:
    """Bits of the modulus a fresh ciphertext lives in (all but the special
    prime)."""
    return sum(self.coeff_mod_bit_sizes[:-1])

  @property
  def headroom_bits(self) -> int:
    """log2 of the largest |value| a sum may reach without wrapping around."""
    return self.data_modulus_bits - 1 - self.scale_bits

  @property
  def slots(self) -> int:
    return self.poly_modulus_degree // 2

  def check_fits(self, clients_per_round: int) -> None:
    """Refuses a scale that leaves the sum of a cohort less than 2^4 per
    client of room (sums of unit-size updates would wrap around)."""
    need = math.ceil(math.log2(max(clients_per_round, 1))) + 4
    if self.headroom_bits < need:
      raise ValueError(
          f'--ckks_scale_bits={self.scale_bits} leaves sums below '
          f'2^{self.headroom_bits} in a {self.data_modulus_bits}-bit data '
          f'modulus; {clients_per_round} clients need at least 2^{need}: '
          f'lower --ckks_scale_bits to {self.data_modulus_bits - 1 - need} '
          'or enlarge the first --ckks_coeff_mod_bit_sizes prime.')

  def describe(self) -> str:
    return (f'CKKS N={self.poly_modulus_degree} ({self.slots} slots), '
            f'coeff modulus {"+".join(map(str, self.coeff_mod_bit_sizes))} '
            f'bits (128-bit security allows '
            f'{MAX_COEFF_BITS_128[self.poly_modulus_degree]}), scale '
            f'2^{self.scale_bits}')


def num_ciphertexts(length: int, params: CkksParameters) -> int:
  return max(1, -(-length // params.slots))


class KeyHolder:
  """Holds the secret key; the only role that can decrypt."""

  def __init__(self, params: CkksParameters, n_threads: int = 1):
    self.params = params
    try:
      self._context = ts.context(
          ts.SCHEME_TYPE.CKKS, poly_modulus_degree=params.poly_modulus_degree,
          coeff_mod_bit_sizes=list(params.coeff_mod_bit_sizes),
          n_threads=n_threads)
    except (ValueError, RuntimeError) as e:
      # SEAL finds no prime of a size for this degree, for one.
      raise ValueError(
          f'SEAL refuses --ckks_poly_modulus_degree='
          f'{params.poly_modulus_degree} with --ckks_coeff_mod_bit_sizes='
          f'{",".join(map(str, params.coeff_mod_bit_sizes))}: {e}') from None
    self._context.global_scale = 2.0**params.scale_bits
    public = self._context.copy()
    public.make_context_public()
    # Relinearization keys serve multiplications only; the public context
    # goes without them.
    self._public = public.serialize(save_relin_keys=False,
                                    save_galois_keys=False)

  def public_context(self) -> bytes:
    """Parameters and public key, serialized, without the secret key."""
    return self._public

  def decrypt(self, ciphertexts: Sequence[bytes], length: int) -> np.ndarray:
    """The first `length` values of the concatenated plaintexts."""
    parts = []
    for blob in ciphertexts:
      vector = ts.ckks_vector_from(self._context, blob)
      parts.append(np.asarray(vector.decrypt(), np.float64))
    return np.concatenate(parts)[:length]


def _public_context(serialized: bytes, n_threads: int) -> ts.Context:
  context = ts.context_from(serialized, n_threads=n_threads)
  if context.is_private():
    raise ValueError('A client or server was handed a context holding the '
                     'secret key; only the key holder may hold it.')
  return context


class ClientEncryptor:
  """A client's side: encrypts its vector under the public context."""

  def __init__(self, public_context: bytes, params: CkksParameters,
               n_threads: int = 1):
    self.params = params
    self.context = _public_context(public_context, n_threads)
    self.context.global_scale = 2.0**params.scale_bits

  def encrypt(self, vector: np.ndarray, bound: float) -> list[bytes]:
    """`vector` packed into serialized ciphertexts of `params.slots` values.

    Raises ValueError if a value exceeds `bound` (the share of the headroom
    one client may use), which would wrap the sum around silently.
    """
    vector = np.asarray(vector, np.float64).ravel()
    largest = float(np.max(np.abs(vector))) if vector.size else 0.0
    if not largest <= bound:
      raise ValueError(
          f'A client update holds |value| {largest:.3g}, above the '
          f'{bound:.3g} each client may add under --ckks_scale_bits='
          f'{self.params.scale_bits}; lower it.')
    slots = self.params.slots
    return [ts.ckks_vector(self.context, vector[i:i + slots]).serialize()
            for i in range(0, max(vector.size, 1), slots)]


class CiphertextSum:
  """The server's side: adds clients' ciphertexts as they arrive.

  Holds the public context only (checked), so it can add but never decrypt.
  """

  def __init__(self, public_context: bytes, n_threads: int = 1):
    self.context = _public_context(public_context, n_threads)
    self._sum = None
    self.bytes_received = 0
    self.clients = 0
    self.seconds = 0.0  # spent deserializing and adding

  def add(self, ciphertexts: Iterable[bytes]) -> None:
    """Adds one client's ciphertexts (serialized) to the running sum."""
    start = time.perf_counter()
    vectors = []
    for blob in ciphertexts:
      if not isinstance(blob, bytes):
        raise TypeError(f'The server takes serialized ciphertexts, got '
                        f'{type(blob).__name__}.')
      self.bytes_received += len(blob)
      vectors.append(ts.ckks_vector_from(self.context, blob))
    if self._sum is None:
      self._sum = vectors
    else:
      if len(vectors) != len(self._sum):
        raise ValueError(f'A client sent {len(vectors)} ciphertexts, the '
                         f'others {len(self._sum)}.')
      for total, v in zip(self._sum, vectors):
        total += v
    self.clients += 1
    self.seconds += time.perf_counter() - start

  def result(self) -> list[bytes]:
    """The encrypted sum, serialized for the key holder."""
    if self._sum is None:
      raise ValueError('No client ciphertexts were added.')
    return [v.serialize() for v in self._sum]
