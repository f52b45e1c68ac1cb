"""Tables of user-level epsilon: what cohort, rounds, noise and population give.

  .venv/bin/python experiments/epsilon_table.py \
      --output_dir=results/privacy/epsilon

writes, in --output_dir,
  * epsilon_table.md: epsilon of the Shakespeare population (1,127 clients)
    against clients per round, rounds and noise multiplier; and epsilon
    against the population size, so a user can read off what population a
    target epsilon needs;
  * poisson_comparison.md: our epsilon (fixed-size cohorts sampled without
    replacement, replace-one neighbours) beside the Poisson add-or-remove
    figure papers usually report, for the same noise.
All at the default delta (tff_lstm/aggregation/accounting.py:
min(1e-5, N ** -1.1)); no training, only dp-accounting.
"""

import os
import sys
import time

from absl import app
from absl import flags

from tff_lstm.aggregation import accounting

_OUTPUT_DIR = flags.DEFINE_string('output_dir', None,
                                  'Where the two tables are written.')
flags.mark_flag_as_required('output_dir')

COMMAND = ('.venv/bin/python experiments/epsilon_table.py '
           '--output_dir=results/privacy/epsilon')
SHAKESPEARE_CLIENTS = 1127  # training clients of the offline Shakespeare set
# Cohort x rounds at the Shakespeare population.
COHORTS = (20, 50, 100, 200, 500)
ROUNDS = (10, 30, 100, 300, 1000)
NOISES = (1.0, 2.0, 3.0)
# Population sizes, and (clients per round, rounds) a deployment might run.
POPULATIONS = (10**3, 10**4, 10**5, 10**6, 10**7)
SCHEDULES = ((100, 100), (100, 1000), (1000, 1000), (1000, 3000))
POPULATION_NOISES = (0.5, 1.0, 2.0)
# The comparison: our recorded Shakespeare runs' setting, and the example of
# docs/privacy.md.
COMPARISONS = ((20, 1123, 30), (100, 10000, 1000))
COMPARISON_NOISES = (0.1, 0.2, 0.3, 0.5, 1.0, 2.0)


def _fmt(eps: float) -> str:
  if eps >= 1000:
    return f'{eps:,.0f}'
  return f'{eps:.3g}' if eps < 10 else f'{eps:.1f}'


def _bold_if_at_most_10(eps: float) -> str:
  return f'**{_fmt(eps)}**' if eps <= 10 else _fmt(eps)


def cohort_rounds_table() -> str:
  n = SHAKESPEARE_CLIENTS
  delta = accounting.default_delta(n)
  lines = [f'### {n:,} clients (Shakespeare), delta = {delta:g}', '']
  for z in NOISES:
    lines += [f'Noise multiplier z = {z:g} (rows: clients per round; columns: '
              'rounds; bold: epsilon <= 10):', '',
              '| clients/round | ' + ' | '.join(f'{t:,} rounds'
                                              for t in ROUNDS) + ' |',
              '|---|' + '---|' * len(ROUNDS)]
    for k in COHORTS:
      cells = [_bold_if_at_most_10(e) for e in accounting.epsilons_over_rounds(
          noise_multiplier=z, clients_per_round=k, num_clients=n,
          rounds=ROUNDS)]
      lines.append(f'| {k} | ' + ' | '.join(cells) + ' |')
    lines.append('')
  return '\n'.join(lines)


def population_table() -> str:
  lines = ['### Epsilon against the population size', '',
           'Rows: clients in the population N (delta = min(1e-5, N^-1.1) for '
           'each); columns: clients per round x rounds; bold: epsilon <= 10; '
           '– : a cohort larger than the population.', '']
  for z in POPULATION_NOISES:
    lines += [f'Noise multiplier z = {z:g}:', '',
              '| N | delta | ' + ' | '.join(
                  f'{k:,} x {t:,}' for k, t in SCHEDULES) + ' |',
              '|---|---|' + '---|' * len(SCHEDULES)]
    for n in POPULATIONS:
      eps = {}  # one RDP computation per cohort size, for all its rounds
      for k in sorted({k for k, _ in SCHEDULES if k <= n}):
        ts = [t for kk, t in SCHEDULES if kk == k]
        eps.update(zip([(k, t) for t in ts], accounting.epsilons_over_rounds(
            noise_multiplier=z, clients_per_round=k, num_clients=n,
            rounds=ts)))
      cells = [_bold_if_at_most_10(eps[k, t]) if k <= n else '–'
               for k, t in SCHEDULES]
      lines.append(f'| {n:,} | {accounting.default_delta(n):.3g} | '
                   + ' | '.join(cells) + ' |')
    lines.append('')
  return '\n'.join(lines)


def poisson_comparison() -> str:
  lines = [
      '| clients/round | N | rounds | delta | z | ours: without replacement, '
      'replace-one | Poisson, add-or-remove | ours / Poisson | Poisson, '
      'add-or-remove, at z/2 |', '|---|---|---|---|---|---|---|---|---|']
  for k, n, t in COMPARISONS:
    delta = accounting.default_delta(n)
    for z in COMPARISON_NOISES:
      ours = accounting.epsilon(noise_multiplier=z, clients_per_round=k,
                                num_clients=n, rounds=t)
      poisson = accounting.poisson_add_or_remove_epsilon(
          noise_multiplier=z, clients_per_round=k, num_clients=n, rounds=t)
      half = accounting.poisson_add_or_remove_epsilon(
          noise_multiplier=z / 2, clients_per_round=k, num_clients=n,
          rounds=t)
      lines.append(f'| {k} | {n:,} | {t:,} | {delta:g} | {z:g} | {_fmt(ours)} '
                   f'| {_fmt(poisson)} | {ours / poisson:.1f}x | {_fmt(half)} '
                   '|')
  return '\n'.join(lines) + '\n'


def _write(path: str, text: str) -> None:
  with open(f'{path}.tmp', 'w') as f:
    f.write(text)
  os.replace(f'{path}.tmp', path)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  if not os.path.isdir(_OUTPUT_DIR.value):
    print(f'error: --output_dir {_OUTPUT_DIR.value} is not a directory',
          file=sys.stderr)
    return 2
  started = time.monotonic()
  header = (
      '<!-- Written by experiments/epsilon_table.py; do not edit. -->\n'
      f'Command: `{COMMAND}`\n\n'
      'User-level (epsilon, delta) of DP-FedAvg from dp-accounting\'s RDP '
      'accountant, for what our training does: each round a cohort of exactly '
      '`clients_per_round` clients is drawn uniformly without replacement, '
      'independently of other rounds; neighbouring populations replace one '
      'client\'s data (so the Gaussian is accounted at z/2). z is '
      '`--dp_noise_multiplier` (noise stddev / clip). Delta is the default, '
      f'{accounting.DEFAULT_DELTA_RULE}.\n\n')
  _write(os.path.join(_OUTPUT_DIR.value, 'epsilon_table.md'),
         '## Epsilon against cohort size, rounds, noise and population\n\n'
         + header + cohort_rounds_table() + '\n' + population_table())
  _write(os.path.join(_OUTPUT_DIR.value, 'poisson_comparison.md'),
         '## Our epsilon against the Poisson add-or-remove figure\n\n'
         + header +
         'Papers usually report Poisson sampling (each client joins a round '
         'with probability clients_per_round / N) with add-or-remove '
         'neighbours (sensitivity clip, Gaussian at z). Both are computed '
         'here with the same accountant; the last column isolates the '
         'sensitivity: Poisson add-or-remove at z/2 has our sensitivity and '
         'differs from ours in the sampling (and its neighbourhood) only.\n\n' + poisson_comparison())
  print(f'wrote epsilon_table.md and poisson_comparison.md in '
        f'{_OUTPUT_DIR.value} ({time.monotonic() - started:.0f} s)')
  return 0


if __name__ == '__main__':
  app.run(main)
