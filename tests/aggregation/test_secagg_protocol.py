"""The key rounds of masked SecAgg: masks cancel, too many dropouts abort."""

import numpy as np
import pytest

from tff_lstm.aggregation import masking
from tff_lstm.aggregation import secagg_protocol
from tff_lstm.aggregation import shamir


def test_shamir_needs_t_shares():
  shares = shamir.split(12345, 3, [0, 1, 2, 3], np.random.default_rng(0).bytes)
  assert shamir.reconstruct({h: shares[h] for h in (1, 3, 0)}, 3) == 12345
  assert shamir.reconstruct({h: shares[h] for h in (1, 3)}, 2) != 12345
  with pytest.raises(shamir.NotEnoughSharesError):
    shamir.reconstruct({h: shares[h] for h in (1, 3)}, 3)


def test_more_than_n_minus_t_dropouts_abort():
  with pytest.raises(secagg_protocol.ProtocolAbortError,
                     match='--secagg_threshold=3 needed'):
    secagg_protocol.run_key_rounds(6, neighbors=5, threshold=3, seed=[0],
                                   dropped=[0, 1, 2, 3])


def test_a_pair_of_clients_agrees_one_seed_and_the_masks_cancel():
  keys = secagg_protocol.run_key_rounds(4, neighbors=3, threshold=2,
                                        seed=[1])
  modulus_bits = 40
  total = sum(masking.mask_sum(s[1:], g[1:], 64, modulus_bits)
              for s, g in zip(keys.client_seeds, keys.client_signs))
  assert not np.any(np.mod(total, 2**modulus_bits))
