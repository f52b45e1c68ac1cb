"""Epsilon of a user-level DP federated run, before (or after) running it.

  .venv/bin/python experiments/compute_epsilon.py --noise_multiplier=1.0 \
      --clients_per_round=100 --num_clients=10000 --total_rounds=1000

Prints the sampling model the accounting assumes, then `epsilon=<value>` as the
last line (tff_lstm/aggregation/accounting.py explains the model).
"""

import sys

from absl import app
from absl import flags

from tff_lstm.aggregation import accounting

_NOISE_MULTIPLIER = flags.DEFINE_float(
    'noise_multiplier', None, 'Noise stddev / clip norm (--dp_noise_multiplier '
    'of run_federated).')
_CLIENTS_PER_ROUND = flags.DEFINE_integer('clients_per_round', None,
                                          'Clients sampled each round.')
_NUM_CLIENTS = flags.DEFINE_integer('num_clients', None,
                                    'Clients in the training population.')
_TOTAL_ROUNDS = flags.DEFINE_integer('total_rounds', None, 'Training rounds.')
_DELTA = flags.DEFINE_float(
    'delta', None, 'Target delta (default '
    f'{accounting.DEFAULT_DELTA_RULE}, well below 1/num_clients).')
_DP_MECHANISM = flags.DEFINE_enum('dp_mechanism', 'gaussian_fixed',
                                  accounting.MECHANISMS,
                                  'The --dp_mechanism of the run.')

for _name in ('noise_multiplier', 'clients_per_round', 'num_clients',
              'total_rounds'):
  flags.mark_flag_as_required(_name)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  params = dict(noise_multiplier=_NOISE_MULTIPLIER.value,
                clients_per_round=_CLIENTS_PER_ROUND.value,
                num_clients=_NUM_CLIENTS.value, rounds=_TOTAL_ROUNDS.value,
                dp_mechanism=_DP_MECHANISM.value)
  try:
    accounting.check_parameters(delta=_DELTA.value, **params)
    delta = accounting.resolve_delta(_DELTA.value, _NUM_CLIENTS.value)
    eps = accounting.epsilon(delta=delta, **params)
  except ValueError as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  print('sampling model: ' + accounting.sampling_model(
      _DP_MECHANISM.value, clients_per_round=_CLIENTS_PER_ROUND.value,
      num_clients=_NUM_CLIENTS.value))
  print(f'noise_multiplier={_NOISE_MULTIPLIER.value} '
        f'clients_per_round={_CLIENTS_PER_ROUND.value} '
        f'num_clients={_NUM_CLIENTS.value} total_rounds={_TOTAL_ROUNDS.value} '
        f'delta={delta:g}'
        + ('' if _DELTA.value is not None
           else f' ({accounting.DEFAULT_DELTA_RULE})'))
  print(f'epsilon={eps:.6g}')
  return 0


if __name__ == '__main__':
  app.run(main)
