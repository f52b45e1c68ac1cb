"""(epsilon, delta) of user-level DP training by dp-accounting's RDP accountant.

Sampling model for 'gaussian_fixed' / 'gaussian_adaptive' (and distributed DP,
whose Skellam noise is accounted as the Gaussian it approximates): each round
draws a cohort of exactly `clients_per_round` of the `num_clients` clients
uniformly WITHOUT replacement, independently of other rounds - what
`tff.simulation.build_uniform_sampling_fn(replace=False)` does in
training/selection.py. The matching guarantee is for neighbouring populations
that differ by REPLACING one client's data (`NeighborRel.REPLACE_ONE`, with the
population size public), accounted with `SampledWithoutReplacementDpEvent`
(Wang, Balle & Kasiviswanathan 2019). Replacing a client can move the clipped
sum by 2 * clip, while TFF's noise stddev is noise_multiplier * clip, so the
accountant sees a Gaussian of noise multiplier `noise_multiplier / 2`.
Add-or-remove-one figures with Poisson sampling, common in papers, are about
half as large for the same noise and are not comparable.

'tree' (DP-FTRL) has no sampling amplification: the guarantee assumes every
client takes part in at most ONE round of the whole run (one tree, no
restarts), for neighbours that replace one client's data by a zero update
(`NeighborRel.REPLACE_SPECIAL`, `SingleEpochTreeAggregationDpEvent`, Kairouz et
al. 2021, appendix D). Per-round uniform sampling does not ensure this, so the
figure holds only for a schedule that does; when rounds * clients_per_round >
num_clients it cannot hold and no epsilon is reported.

Only the client-update mechanism is accounted: the noiseless adaptive zeroing
threshold of --robust_aggregation, if enabled with DP, is not covered.
"""

import math
from typing import Optional

import dp_accounting

GAUSSIAN_MECHANISMS = ('gaussian_fixed', 'gaussian_adaptive')
MECHANISMS = GAUSSIAN_MECHANISMS + ('tree',)


def default_delta(num_clients: int) -> float:
  return 1.0 / num_clients


def _positive_int(name, value):
  if isinstance(value, bool) or not isinstance(value, int) or value < 1:
    raise ValueError(f'{name} must be an integer >= 1, got {value}.')


def check_parameters(*, noise_multiplier: float, clients_per_round: int,
                     num_clients: int, rounds: int,
                     delta: Optional[float] = None,
                     dp_mechanism: str = 'gaussian_fixed') -> None:
  """Raises ValueError, naming the bad value, unless epsilon can be computed."""
  if dp_mechanism not in MECHANISMS:
    raise ValueError(f'Unknown dp_mechanism {dp_mechanism!r}; valid: '
                     f'{", ".join(MECHANISMS)}.')
  if not (isinstance(noise_multiplier, (int, float))
          and math.isfinite(noise_multiplier) and noise_multiplier >= 0):
    raise ValueError(f'noise_multiplier must be >= 0, got {noise_multiplier}.')
  _positive_int('clients_per_round', clients_per_round)
  _positive_int('num_clients', num_clients)
  _positive_int('rounds', rounds)
  if clients_per_round > num_clients:
    raise ValueError(f'clients_per_round ({clients_per_round}) cannot exceed '
                     f'num_clients ({num_clients}).')
  if delta is not None and not (isinstance(delta, (int, float))
                                and 0 < delta < 1):
    raise ValueError(f'delta must be in (0, 1), got {delta}.')
  if dp_mechanism == 'tree' and rounds * clients_per_round > num_clients:
    raise ValueError(
        'No epsilon for dp_mechanism=tree with rounds * clients_per_round = '
        f'{rounds * clients_per_round} > num_clients = {num_clients}: '
        'DP-FTRL\'s accounting needs each client in at most one round.')


def neighboring_relation(
    dp_mechanism: str) -> dp_accounting.NeighboringRelation:
  if dp_mechanism == 'tree':
    return dp_accounting.NeighboringRelation.REPLACE_SPECIAL
  return dp_accounting.NeighboringRelation.REPLACE_ONE


def dp_event(*, noise_multiplier: float, clients_per_round: int,
             num_clients: int, rounds: int,
             dp_mechanism: str = 'gaussian_fixed') -> dp_accounting.DpEvent:
  """The whole run as one DpEvent, for `neighboring_relation(dp_mechanism)`."""
  if dp_mechanism == 'tree':
    return dp_accounting.SingleEpochTreeAggregationDpEvent(
        noise_multiplier=noise_multiplier, step_counts=rounds)
  per_round = dp_accounting.SampledWithoutReplacementDpEvent(
      source_dataset_size=num_clients, sample_size=clients_per_round,
      event=dp_accounting.GaussianDpEvent(noise_multiplier / 2))
  return dp_accounting.SelfComposedDpEvent(per_round, rounds)


def epsilon(*, noise_multiplier: float, clients_per_round: int,
            num_clients: int, rounds: int, delta: Optional[float] = None,
            dp_mechanism: str = 'gaussian_fixed') -> float:
  """Epsilon at `delta` (default 1/num_clients); inf without noise."""
  check_parameters(noise_multiplier=noise_multiplier,
                   clients_per_round=clients_per_round,
                   num_clients=num_clients, rounds=rounds, delta=delta,
                   dp_mechanism=dp_mechanism)
  if noise_multiplier == 0:
    return math.inf
  accountant = dp_accounting.rdp.RdpAccountant(
      neighboring_relation=neighboring_relation(dp_mechanism))
  accountant.compose(dp_event(
      noise_multiplier=noise_multiplier, clients_per_round=clients_per_round,
      num_clients=num_clients, rounds=rounds, dp_mechanism=dp_mechanism))
  return accountant.get_epsilon(
      delta if delta is not None else default_delta(num_clients))


def sampling_model(dp_mechanism: str, *, clients_per_round: int,
                   num_clients: int) -> str:
  """One paragraph saying what the epsilon of `dp_mechanism` assumes."""
  if dp_mechanism == 'tree':
    return ('DP-FTRL tree aggregation, no sampling amplification: assumes each '
            'client takes part in at most one round of the run (one tree); '
            'neighbours replace one client\'s data by a zero update '
            '(REPLACE_SPECIAL). Per-round uniform sampling does not enforce '
            'this. RDP accountant, SingleEpochTreeAggregationDpEvent.')
  return (f'each round samples exactly {clients_per_round} of {num_clients} '
          'clients uniformly without replacement, independently across '
          'rounds; neighbours replace one client\'s data (user-level, '
          'REPLACE_ONE), so the clipped sum moves by up to 2 x clip and the '
          'Gaussian is accounted at noise_multiplier / 2. RDP accountant, '
          'SampledWithoutReplacementDpEvent. Distributed DP is accounted as '
          'this Gaussian (an approximation).')
