"""Plots any recorded metrics of runs into one figure (PNG, PDF or SVG).

  .venv/bin/python experiments/plot_metrics.py \
      --experiment_dirs=runs/fedavg,runs/central --labels=FedAvg,centralized \
      --x_axis=examples_seen --round_axis --output=results/fedavg_vs_central.pdf

  # A recorded run's copy in results/ plots like its experiment dir; a
  # forecasting run's own metric; a paper's number; a zoomed tail.
  .venv/bin/python experiments/plot_metrics.py \
      --experiment_dirs=results/reproductions/fedavg.metrics.csv \
      --metrics=evaluation/test/accuracy --tail_from=600 \
      --reference='0.569|FedAvg, Reddi et al. 2021 (paper)|fedavg' \
      --output=fedavg.png

Reads each run's metrics.csv (federated or centralized runs alike). A metric
a run did not record is refused, naming the run and listing what it has.
"""

# No `from tff_lstm import runtime` first: this binary never imports
# TensorFlow, which keeps it quick.
import sys

from absl import app
from absl import flags

from tff_lstm.training import plotting

_EXPERIMENT_DIRS = flags.DEFINE_list(
    'experiment_dirs', None, 'Comma-separated experiment dirs, or recorded '
    'NAME.metrics.csv files (as results/ keeps them), to plot.')
_OUTPUT = flags.DEFINE_string(
    'output', None, 'File to write: .png (at --dpi), .pdf or .svg (vector).')
_LABELS = flags.DEFINE_list(
    'labels', None, 'Legend labels, one per run (default: run names).')
_X_AXIS = flags.DEFINE_enum(
    'x_axis', 'round', plotting.X_AXES, 'round, or examples_seen to compare '
    'federated and centralized runs on equal data.')
_METRICS = flags.DEFINE_list(
    'metrics', list(plotting.DEFAULT_METRICS), 'metrics.csv columns to plot, '
    'a panel each, side by side (a row each with --tail_from) (e.g. evaluation/test/mean_absolute_error, '
    'client_work/train/loss, privacy/epsilon). Default: test accuracy and '
    'loss, or, for a run without accuracy (forecasting), its own test '
    'metrics.')
_YLABELS = flags.DEFINE_list(
    'ylabels', None, 'y-axis labels, one per --metrics entry (default: from '
    'the column name, e.g. "test accuracy").')
_REFERENCE = flags.DEFINE_multi_string(
    'reference', [], 'A horizontal reference line, "VALUE|LABEL" or '
    '"VALUE|LABEL|RUN_LABEL" (drawn in that run\'s colour), e.g. a paper\'s '
    'number: say so in LABEL. Repeatable.')
_REFERENCE_METRIC = flags.DEFINE_string(
    'reference_metric', None, 'The --metrics entry whose panels get the '
    '--reference lines (default: the first).')
_TAIL_FROM = flags.DEFINE_float(
    'tail_from', None, 'Add a zoomed panel of each metric from this x value '
    '(a round, or examples seen with --x_axis=examples_seen) to the end.')
_YLIM = flags.DEFINE_multi_string(
    'ylim', [], '"METRIC=LOW:HIGH": the y range of that metric\'s panel '
    '(either bound may be empty); points outside are marked at the edge and '
    'counted on the panel. Repeatable.')
_ROUND_AXIS = flags.DEFINE_bool(
    'round_axis', False, 'With --x_axis=examples_seen: a top axis in rounds '
    'of the federated runs.')
_DPI = flags.DEFINE_integer('dpi', 300, 'Resolution of a .png --output.')

flags.mark_flags_as_required(['experiment_dirs', 'output'])


def _options() -> plotting.PlotOptions:
  return plotting.PlotOptions(
      metrics=tuple(_METRICS.value),
      x_axis=_X_AXIS.value,
      ylabels=tuple(_YLABELS.value or ()),
      references=tuple(plotting.parse_reference(text)
                       for text in _REFERENCE.value),
      reference_metric=_REFERENCE_METRIC.value,
      tail_from=_TAIL_FROM.value,
      ylims=dict(plotting.parse_ylim(text) for text in _YLIM.value),
      round_axis=_ROUND_AXIS.value,
      dpi=_DPI.value)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  try:
    path = plotting.plot_experiments(_EXPERIMENT_DIRS.value, _OUTPUT.value,
                                     labels=_LABELS.value,
                                     options=_options())
  except ValueError as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  print(f'wrote {path}')
  return 0


if __name__ == '__main__':
  app.run(main)
