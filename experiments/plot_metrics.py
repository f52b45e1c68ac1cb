"""Plots test accuracy and test loss of experiment dirs into one PNG.

  .venv/bin/python experiments/plot_metrics.py \
      --experiment_dirs=runs/fedavg,runs/central --labels=FedAvg,centralized \
      --x_axis=examples_seen --output=results/fedavg_vs_central.png

Reads each dir's metrics.csv (federated or centralized runs alike).
"""

# No `from tff_lstm import runtime` first: this binary never imports
# TensorFlow, which keeps it quick.
import sys

from absl import app
from absl import flags

from tff_lstm.training import plotting

_EXPERIMENT_DIRS = flags.DEFINE_list(
    'experiment_dirs', None, 'Comma-separated experiment dirs to plot.')
_OUTPUT = flags.DEFINE_string('output', None, 'PNG file to write.')
_LABELS = flags.DEFINE_list(
    'labels', None, 'Legend labels, one per dir (default: dir names).')
_X_AXIS = flags.DEFINE_enum(
    'x_axis', 'round', plotting.X_AXES, 'round, or examples_seen to compare '
    'federated and centralized runs on equal data.')

flags.mark_flags_as_required(['experiment_dirs', 'output'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  try:
    path = plotting.plot_experiments(_EXPERIMENT_DIRS.value, _OUTPUT.value,
                                     labels=_LABELS.value, x_axis=_X_AXIS.value)
  except ValueError as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  print(f'wrote {path}')
  return 0


if __name__ == '__main__':
  app.run(main)
