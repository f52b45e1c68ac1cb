"""CKKS roles: the sum decrypts to the plaintext sum; who holds which key."""

import numpy as np
import pytest
import tenseal as ts

from tff_lstm.aggregation import ckks

_PARAMS = ckks.CkksParameters()  # the defaults the flags give


@pytest.fixture(scope='module')
def key_holder():
  return ckks.KeyHolder(_PARAMS)


def test_the_decrypted_sum_is_the_plaintext_sum(key_holder):
  rng = np.random.default_rng(0)
  # Longer than one ciphertext, not a multiple of the slot count.
  length = _PARAMS.slots + 1000
  updates = rng.normal(0, 0.05, (5, length)) * rng.integers(1, 200, (5, 1))
  encryptor = ckks.ClientEncryptor(key_holder.public_context(), _PARAMS)
  server = ckks.CiphertextSum(key_holder.public_context())
  for update in updates:
    sent = encryptor.encrypt(update, bound=1e4)
    assert len(sent) == ckks.num_ciphertexts(length, _PARAMS) == 2
    server.add(sent)
  total = key_holder.decrypt(server.result(), length)
  # CKKS is approximate: fresh-encryption noise at scale 2^40 is ~1e-9 here.
  np.testing.assert_allclose(total, updates.sum(axis=0), rtol=0, atol=1e-6)
  assert not np.array_equal(total, updates.sum(axis=0))  # it is CKKS, not a copy
  assert server.clients == 5
  assert server.bytes_received == 5 * sum(len(c) for c in sent)


def test_only_the_key_holder_can_decrypt(key_holder):
  public = key_holder.public_context()
  server = ckks.CiphertextSum(public)
  assert not server.context.is_private()
  assert not ts.context_from(public).is_private()
  server.add(ckks.ClientEncryptor(public, _PARAMS).encrypt(np.ones(3), 10.0))
  encrypted = ts.ckks_vector_from(server.context, server.result()[0])
  with pytest.raises(ValueError, match="doesn't hold a secret_key"):
    encrypted.decrypt()
  # A context that carries the secret key is refused by the server's role.
  private = key_holder._context.serialize(save_secret_key=True)  # pylint: disable=protected-access
  with pytest.raises(ValueError, match='only the key holder'):
    ckks.CiphertextSum(private)


def test_the_server_takes_ciphertexts_only(key_holder):
  server = ckks.CiphertextSum(key_holder.public_context())
  with pytest.raises(TypeError, match='serialized ciphertexts'):
    server.add([np.ones(4)])


def test_a_value_beyond_the_clients_share_of_headroom_is_refused(key_holder):
  encryptor = ckks.ClientEncryptor(key_holder.public_context(), _PARAMS)
  with pytest.raises(ValueError, match='--ckks_scale_bits=40'):
    encryptor.encrypt(np.array([0.5, -3000.0]), bound=1000.0)


@pytest.mark.parametrize('kwargs, message', [
    (dict(poly_modulus_degree=4096, coeff_mod_bit_sizes=(60, 60)),
     'totals 120 bits; at --ckks_poly_modulus_degree=4096 128-bit security '
     'allows at most 109'),
    (dict(poly_modulus_degree=8192, coeff_mod_bit_sizes=(60, 60, 60, 40)),
     'allows at most 218'),
    (dict(poly_modulus_degree=5000), '--ckks_poly_modulus_degree must be one'),
    (dict(coeff_mod_bit_sizes=(60,)), 'at least two primes'),
    (dict(coeff_mod_bit_sizes=(61, 40)), 'every prime must have 17 to 60'),
    (dict(scale_bits=60), '--ckks_scale_bits must be in [20, 59]'),
    (dict(scale_bits=10), '--ckks_scale_bits must be in [20, 59]'),
])
def test_insecure_or_impossible_parameters_are_refused(kwargs, message):
  with pytest.raises(ValueError) as error:
    ckks.CkksParameters(**kwargs)
  assert message in str(error.value)


def test_a_scale_that_leaves_no_room_for_the_cohort_is_refused():
  params = ckks.CkksParameters(scale_bits=50)  # 9 bits of headroom
  params.check_fits(16)  # 2^4 clients + 2^4 each: fits
  with pytest.raises(ValueError, match='lower --ckks_scale_bits to 49'):
    params.check_fits(50)
