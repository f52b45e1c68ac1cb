"""Epsilon: independent recomputation, closed forms, published values, binary."""

import math
import os
import subprocess
import sys

import dp_accounting
from dp_accounting.rdp import rdp_privacy_accountant as rdp_lib
import numpy as np
import pytest
from scipy import optimize
from scipy import stats

from tff_lstm.aggregation import accounting

_BINARY = os.path.join(os.path.dirname(__file__), '..', '..', 'experiments',
                       'compute_epsilon.py')


def _independent_wor_epsilon(z, k, n, rounds, delta):
  """RDP of one subsampled Gaussian round, times `rounds`, then converted.

  Replacing one client moves the clipped sum by 2 * clip: sigma = z / 2.
  """
  orders = np.array(rdp_lib.DEFAULT_RDP_ORDERS)
  rdp_of = rdp_lib._compute_rdp_sample_wor_gaussian  # pylint: disable=protected-access
  one_round = rdp_of(k / n, z / 2, orders)
  return rdp_lib.compute_epsilon(orders, rounds * one_round, delta)[0]


@pytest.mark.parametrize('z, k, n, rounds, delta', [
    (1.0, 100, 10000, 1000, 1e-4),
    (0.7, 10, 715, 200, 1e-5),
    (2.0, 50, 342477, 1500, None),
])
def test_epsilon_equals_an_independent_rdp_computation(z, k, n, rounds, delta):
  eps = accounting.epsilon(noise_multiplier=z, clients_per_round=k,
                           num_clients=n, rounds=rounds, delta=delta)
  expected = _independent_wor_epsilon(z, k, n, rounds,
                                      delta or min(1e-5, n ** -1.1))
  assert eps == pytest.approx(expected, rel=1e-9)


def _exact_gaussian_epsilon(mu, delta):
  """Tight epsilon of a Gaussian, sensitivity/sigma = `mu` (Balle & Wang)."""

  def delta_at(eps):
    return (stats.norm.cdf(-eps / mu + mu / 2)
            - math.exp(eps) * stats.norm.cdf(-eps / mu - mu / 2))

  return optimize.brentq(lambda e: delta_at(e) - delta, 0, 500)


def test_full_participation_is_close_to_the_exact_gaussian():
  # Every client every round: no amplification, T Gaussians of sigma z/2 are
  # one Gaussian of mu = sqrt(T) * 2 / z, whose exact epsilon RDP bounds.
  z, n, rounds, delta = 4.0, 100, 50, 1e-5
  eps = accounting.epsilon(noise_multiplier=z, clients_per_round=n,
                           num_clients=n, rounds=rounds, delta=delta)
  exact = _exact_gaussian_epsilon(math.sqrt(rounds) * 2 / z, delta)
  assert exact <= eps <= 1.25 * exact


def test_tree_matches_the_dp_ftrl_stackoverflow_setting():
  # Kairouz et al. 2021 report epsilon 19.74 at delta 1e-6 for noise 1.13 and
  # 1600 steps in one tree (dp-accounting's own test asks for less).
  eps = accounting.epsilon(noise_multiplier=1.13, clients_per_round=100,
                           num_clients=342477, rounds=1600, delta=1e-6,
                           dp_mechanism='tree')
  assert 10 < eps < 19.74
  # RDP of the tree: alpha * depth / (2 z^2), a rho-zCDP bound on epsilon.
  rho = math.ceil(math.log2(1601)) / (2 * 1.13**2)
  assert eps <= rho + 2 * math.sqrt(rho * math.log(1e6))


def test_epsilon_behaves_sensibly():
  base = dict(noise_multiplier=1.0, clients_per_round=100, num_clients=10000,
              rounds=1000)
  eps = accounting.epsilon(**base)
  assert 5 < eps < 50  # Order of magnitude for q = 1%, z = 1, T = 1000.
  assert accounting.epsilon(**{**base, 'noise_multiplier': 2.0}) < eps
  assert accounting.epsilon(**{**base, 'rounds': 2000}) > eps
  assert accounting.epsilon(**{**base, 'clients_per_round': 50}) < eps
  assert accounting.epsilon(**base, delta=1e-5) == eps  # the default delta
  assert accounting.epsilon(**{**base, 'noise_multiplier': 0.0}) == math.inf
  assert accounting.epsilon(**base, dp_mechanism='gaussian_adaptive') == eps


@pytest.mark.parametrize('n, expected', [
    (6, 1e-5), (1127, 1e-5), (35000, 1e-5), (10**5, 10**-5.5),
    (10**6, 10**-6.6)])
def test_default_delta_is_well_below_one_over_the_population(n, expected):
  delta = accounting.default_delta(n)
  assert delta == pytest.approx(expected)
  assert delta <= n ** -1.1 and delta <= 1e-5
  assert accounting.resolve_delta(None, n) == delta
  assert accounting.resolve_delta(0.25, n) == 0.25


def test_default_delta_refuses_an_empty_population():
  with pytest.raises(ValueError, match='num_clients must be an integer >= 1'):
    accounting.default_delta(0)


def test_the_record_says_which_delta_and_why():
  given = accounting.describe(clients_per_round=10, num_clients=1000,
                              delta=1e-3)
  assert (given['delta'], given['delta_rule']) == (1e-3, 'given')
  default = accounting.describe(clients_per_round=10, num_clients=1000)
  assert default['delta'] == 1e-5 and 'min(1e-5' in default['delta_rule']
  assert default['neighboring_relation'] == 'REPLACE_ONE'
  assert 'without replacement' in default['sampling_model']


def test_poisson_add_or_remove_epsilon_is_ours_at_twice_the_noise_for_q_1():
  # Everyone in every round: no sampling, and replace-one at noise 2z has
  # the sensitivity / noise of add-or-remove at z.
  ours = accounting.epsilon(noise_multiplier=2.0, clients_per_round=50,
                            num_clients=50, rounds=20)
  poisson = accounting.poisson_add_or_remove_epsilon(
      noise_multiplier=1.0, clients_per_round=50, num_clients=50, rounds=20)
  assert poisson == pytest.approx(ours, rel=1e-6)
  # With sampling, the usual paper figure is far below ours (not "half").
  params = dict(noise_multiplier=1.0, clients_per_round=20, num_clients=1123,
                rounds=30)
  assert accounting.epsilon(**params) > 5 * (
      accounting.poisson_add_or_remove_epsilon(**params))


def test_events_are_supported_by_their_relation():
  for mechanism in accounting.MECHANISMS:
    event = accounting.dp_event(noise_multiplier=1.0, clients_per_round=10,
                                num_clients=1000, rounds=10,
                                dp_mechanism=mechanism)
    relation = accounting.neighboring_relation(mechanism)
    assert dp_accounting.rdp.RdpAccountant(
        neighboring_relation=relation).supports(event)


@pytest.mark.parametrize('kwargs, message', [
    (dict(noise_multiplier=-1.0), 'noise_multiplier must be >= 0'),
    (dict(noise_multiplier=float('inf')), 'noise_multiplier must be >= 0'),
    (dict(clients_per_round=0), 'clients_per_round must be an integer >= 1'),
    (dict(clients_per_round=101), r'clients_per_round \(101\) cannot exceed'),
    (dict(rounds=0), 'rounds must be an integer >= 1'),
    (dict(delta=0.0), r'delta must be in \(0, 1\)'),
    (dict(delta=1.0), r'delta must be in \(0, 1\)'),
    (dict(dp_mechanism='laplace'), 'gaussian_fixed, gaussian_adaptive, tree'),
    (dict(dp_mechanism='tree', rounds=11), 'each client in at most one round'),
])
def test_bad_parameters_are_rejected(kwargs, message):
  params = {**dict(noise_multiplier=1.0, clients_per_round=10,
                  num_clients=100, rounds=10), **kwargs}
  with pytest.raises(ValueError, match=message):
    accounting.epsilon(**params)


def _run(*args):
  return subprocess.run([sys.executable, _BINARY, *args], capture_output=True,
                        text=True, timeout=120)


def test_binary_prints_the_sampling_model_and_epsilon_last():
  run = _run('--noise_multiplier=1.0', '--clients_per_round=100',
             '--num_clients=10000', '--total_rounds=1000')
  assert run.returncode == 0, run.stderr
  lines = run.stdout.strip().splitlines()
  assert 'without replacement' in run.stdout and 'REPLACE_ONE' in run.stdout
  assert lines[-1].startswith('epsilon=')
  expected = accounting.epsilon(noise_multiplier=1.0, clients_per_round=100,
                                num_clients=10000, rounds=1000)
  assert float(lines[-1].split('=')[1]) == pytest.approx(expected, rel=1e-5)
  assert 'delta=1e-05 (min(1e-5, num_clients ** -1.1))' in run.stdout
  tree = _run('--noise_multiplier=1.0', '--clients_per_round=10',
              '--num_clients=1000', '--total_rounds=100', '--delta=1e-5',
              '--dp_mechanism=tree')
  assert tree.returncode == 0, tree.stderr
  assert 'at most one round' in tree.stdout
  assert tree.stdout.strip().splitlines()[-1].startswith('epsilon=')


@pytest.mark.parametrize('args, message', [
    (['--noise_multiplier=-1'], 'noise_multiplier must be >= 0'),
    (['--clients_per_round=20000'], 'cannot exceed num_clients'),
    (['--clients_per_round=0'], 'clients_per_round must be an integer >= 1'),
    (['--total_rounds=0'], 'rounds must be an integer >= 1'),
    (['--delta=2'], 'delta must be in (0, 1)'),
    (['--dp_mechanism=tree'], 'at most one round'),
])
def test_binary_rejects_bad_values_without_a_traceback(args, message):
  base = ['--noise_multiplier=1.0', '--clients_per_round=100',
          '--num_clients=10000', '--total_rounds=1000']
  names = {a.split('=')[0] for a in args}
  run = _run(*[a for a in base if a.split('=')[0] not in names], *args)
  assert run.returncode != 0
  assert message in run.stderr
  assert 'Traceback' not in run.stderr
  assert 'epsilon=' not in run.stdout


def test_epsilons_over_rounds_are_the_epsilons_of_each_run_length():
  params = dict(noise_multiplier=1.5, clients_per_round=20, num_clients=1123)
  assert accounting.epsilons_over_rounds(**params, rounds=[3, 30]) == [
      pytest.approx(accounting.epsilon(**params, rounds=t), rel=1e-9)
      for t in (3, 30)]
