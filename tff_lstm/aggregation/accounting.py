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
Add-or-remove-one figures with Poisson sampling, common in papers
(`poisson_add_or_remove_epsilon`), assume another sampling and another
neighbourhood and are not comparable: for the same noise they are 5-10x
smaller at noise multiplier 1-2 and 10-500x smaller at 0.1-0.5
(experiments/epsilon_table.py writes the comparison).

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
from collections.abc import Sequence
from typing import Optional

import dp_accounting
from dp_accounting.rdp import rdp_privacy_accountant as rdp_lib

GAUSSIAN_MECHANISMS = ('gaussian_fixed', 'gaussian_adaptive')
MECHANISMS = GAUSSIAN_MECHANISMS + ('tree',)


# The default delta: at most 1e-5, and at most num_clients ** -1.1 so that it
# stays far below 1/num_clients for populations too large for 1e-5 to be small.
MAX_DEFAULT_DELTA = 1e-5
DEFAULT_DELTA_EXPONENT = 1.1


def default_delta(num_clients: int) -> float:
  """min(1e-5, num_clients ** -1.1): well below 1/num_clients.

  Delta bounds the chance that the guarantee fails outright, e.g. by one
  client's data being published whole; a mechanism that does that to each
  client with probability 1/num_clients is (0, 1/num_clients)-DP and leaks
  one client on average. So delta must be much smaller than 1/num_clients:
  common practice is 1e-5, and a power of 1/num_clients above 1 where 1e-5
  would not be small (here from 35,112 clients on, where N^-1.1 < 1e-5).
  """
  _positive_int('num_clients', num_clients)
  return min(MAX_DEFAULT_DELTA, float(num_clients) ** -DEFAULT_DELTA_EXPONENT)


DEFAULT_DELTA_RULE = 'min(1e-5, num_clients ** -1.1)'


def resolve_delta(delta: Optional[float], num_clients: int) -> float:
  """`delta` if given, else `default_delta(num_clients)`."""
  return delta if delta is not None else default_delta(num_clients)


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
  """Epsilon at `delta` (default `default_delta`); inf without noise."""
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
  return accountant.get_epsilon(resolve_delta(delta, num_clients))


def epsilons_over_rounds(*, noise_multiplier: float, clients_per_round: int,
                         num_clients: int, rounds: Sequence[int],
                         delta: Optional[float] = None) -> list[float]:
  """`epsilon` of a Gaussian mechanism after each of `rounds`, for tables.

  The rounds compose identically, so one round's RDP, computed once (the
  costly part), is scaled by each round count and converted, as the
  accountant does for a SelfComposedDpEvent.
  """
  for t in rounds:
    check_parameters(noise_multiplier=noise_multiplier,
                     clients_per_round=clients_per_round,
                     num_clients=num_clients, rounds=t, delta=delta)
  if noise_multiplier == 0:
    return [math.inf] * len(rounds)
  accountant = dp_accounting.rdp.RdpAccountant(
      neighboring_relation=neighboring_relation('gaussian_fixed'))
  accountant.compose(dp_event(
      noise_multiplier=noise_multiplier, clients_per_round=clients_per_round,
      num_clients=num_clients, rounds=1))
  orders, one_round = accountant._orders, accountant._rdp  # pylint: disable=protected-access
  target = resolve_delta(delta, num_clients)
  return [rdp_lib.compute_epsilon(orders, [r * t for r in one_round],
                                  target)[0] for t in rounds]


def describe(*, clients_per_round: int, num_clients: int,
             delta: Optional[float] = None,
             dp_mechanism: str = 'gaussian_fixed') -> dict:
  """What a run's epsilons are reported at and assume, for its records."""
  return {
      'delta': resolve_delta(delta, num_clients),
      'delta_rule': 'given' if delta is not None else DEFAULT_DELTA_RULE,
      'num_clients': num_clients,
      'neighboring_relation': neighboring_relation(dp_mechanism).name,
      'sampling_model': sampling_model(
          dp_mechanism, clients_per_round=clients_per_round,
          num_clients=num_clients),
  }


def poisson_add_or_remove_epsilon(*, noise_multiplier: float,
                                  clients_per_round: int, num_clients: int,
                                  rounds: int,
                                  delta: Optional[float] = None) -> float:
  """Epsilon under the model papers usually report, for comparison only.

  Each client joins each round independently with probability
  clients_per_round / num_clients (Poisson sampling), and neighbouring
  populations differ by adding or removing one client (sensitivity clip, so
  the Gaussian is accounted at `noise_multiplier`). Our training samples a
  fixed-size cohort, which this does not describe; `epsilon` is what it has.
  """
  check_parameters(noise_multiplier=noise_multiplier,
                   clients_per_round=clients_per_round,
                   num_clients=num_clients, rounds=rounds, delta=delta)
  if noise_multiplier == 0:
    return math.inf
  accountant = dp_accounting.rdp.RdpAccountant(
      neighboring_relation=dp_accounting.NeighboringRelation.ADD_OR_REMOVE_ONE)
  accountant.compose(dp_accounting.SelfComposedDpEvent(
      dp_accounting.PoissonSampledDpEvent(
          clients_per_round / num_clients,
          dp_accounting.GaussianDpEvent(noise_multiplier)), rounds))
  return accountant.get_epsilon(resolve_delta(delta, num_clients))


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
