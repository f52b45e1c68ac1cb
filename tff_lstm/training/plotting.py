"""Figures of recorded runs, drawn so that a reader can tell the runs apart.

Any metric a run recorded can be plotted by its metrics.csv column name. Every
axis is labelled; rounds get integer ticks; each run has its own colour, line
style and hollow marker (coinciding curves stay visible, and a greyscale print
still separates them). Optional: horizontal reference lines (a paper's number,
labelled as such), a zoomed tail panel beside each full panel (where curves
converge), a clipped y range whose off-scale points are marked and counted on
the figure (so a diverged run does not flatten the others, and the reader is
told), a top axis in rounds when the x axis is examples seen (so centralized
and federated runs share an axis and the rounds stay readable). PDF and SVG are
vector; PNG is written at `dpi` (300 by default).

Reads only metrics.csv (metrics_files), so federated and centralized runs plot
together, from experiment dirs or from the copies results/ commits. Needs no
TensorFlow.
"""

import dataclasses
import math
import os
from collections.abc import Sequence
from typing import Optional

import matplotlib
matplotlib.use('Agg')  # files only; never a display
from matplotlib import figure  # pylint: disable=g-import-not-at-top
from matplotlib import lines  # pylint: disable=g-import-not-at-top
from matplotlib import ticker  # pylint: disable=g-import-not-at-top
import numpy as np  # pylint: disable=g-import-not-at-top

from tff_lstm.training import layout  # pylint: disable=g-import-not-at-top
from tff_lstm.training import metrics_files  # pylint: disable=g-import-not-at-top

ACCURACY = metrics_files.ACCURACY
LOSS = metrics_files.LOSS
EXAMPLES_SEEN = metrics_files.EXAMPLES_SEEN
FEDERATED_EXAMPLES = metrics_files.FEDERATED_EXAMPLES
X_AXES = ('round', 'examples_seen')
FORMATS = ('.png', '.pdf', '.svg')
DEFAULT_METRICS = (ACCURACY, LOSS)
PlotDataError = metrics_files.MetricsFileError

_LINE_STYLES = ('-', '--', '-.', (0, (6, 1.5, 1, 1.5, 1, 1.5)), (0, (9, 2)))
_MARKERS = ('o', 's', '^', 'D', 'v', 'P', 'X', '*')
# Reference lines: thin and dotted, a pattern no run uses.
_REFERENCE_STYLE = (0, (1, 1.5))
_MARKERS_PER_CURVE = 12


@dataclasses.dataclass(frozen=True)
class Curves:
  """One run's evaluated points: x, test accuracy, test loss (NaN: absent)."""

  label: str
  x: list[float]
  accuracy: list[float]
  loss: list[float]


@dataclasses.dataclass(frozen=True)
class Series:
  """One run's points of each plotted metric, and its rounds by examples."""

  label: str
  points: dict[str, tuple[list[float], list[float]]]  # metric -> (x, y)
  # (examples seen, round) at every round of a federated run; None otherwise.
  rounds_by_examples: Optional[tuple[list[float], list[float]]]


@dataclasses.dataclass(frozen=True)
class Reference:
  """A horizontal line at `value`, e.g. a paper's reported number.

  `run`: the label of a plotted run whose colour the line takes (the paper's
  number for that method); None draws it in grey.
  """

  value: float
  label: str
  run: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class PlotOptions:
  """What a figure shows, beyond the runs themselves.

  metrics: metrics.csv columns, one row of panels each.
  ylabels: y-axis labels, one per metric (default: from the column name).
  references: lines drawn on every panel of `reference_metric` (default:
    the first metric).
  tail_from: x value where a zoomed panel of each metric starts (x-axis
    units: a round, or examples seen).
  ylims: metric -> (low, high) of its full panel (either may be None: auto);
    points outside are marked at the edge and counted on the panel.
  round_axis: with x_axis='examples_seen', a top axis in rounds of the
    federated runs.
  """

  metrics: tuple[str, ...] = DEFAULT_METRICS
  x_axis: str = 'round'
  ylabels: tuple[str, ...] = ()
  references: tuple[Reference, ...] = ()
  reference_metric: Optional[str] = None
  tail_from: Optional[float] = None
  ylims: dict[str, tuple[Optional[float], Optional[float]]] = (
      dataclasses.field(default_factory=dict))
  round_axis: bool = False
  dpi: int = 300


def metric_label(metric: str) -> str:
  """'evaluation/test/accuracy' -> 'test accuracy', and so on."""
  name = metric
  for prefix, replacement in (('evaluation/', ''),
                              ('client_work/train/', 'train/')):
    if name.startswith(prefix):
      name = replacement + name[len(prefix):]
  return name.replace('/', ' ').replace('_', ' ')


def read_series(path: str, metrics: Sequence[str] = DEFAULT_METRICS,
                x_axis: str = 'round', label: Optional[str] = None) -> Series:
  """`metrics` of the run at `path` (an experiment dir or NAME.metrics.csv).

  Raises PlotDataError, naming the run, if it did not record one of them.
  """
  if x_axis not in X_AXES:
    raise ValueError(f'x_axis must be one of {", ".join(X_AXES)}, got '
                     f'{x_axis!r}.')
  files = metrics_files.locate(path)
  rows = metrics_files.read_rows(files)
  for metric in metrics:
    metrics_files.require_metric(rows, files, metric)
  rounds = [float(row[layout.ROUND_KEY]) for row in rows]
  xs = rounds if x_axis == 'round' else metrics_files.examples_seen(rows,
                                                                    files)
  points = {}
  for metric in metrics:
    kept = [(x, metrics_files.number(row[metric]))
            for x, row in zip(xs, rows) if row.get(metric)]
    points[metric] = ([x for x, _ in kept], [y for _, y in kept])
  by_examples = None
  if rows and FEDERATED_EXAMPLES in rows[0]:
    by_examples = (metrics_files.examples_seen(rows, files), rounds)
  return Series(label or files.name, points, by_examples)


def read_curves(exp_dir: str, x_axis: str = 'round',
                label: Optional[str] = None) -> Curves:
  """Evaluated rounds of `exp_dir`; rows without test metrics are left out."""
  if x_axis not in X_AXES:
    raise ValueError(f'x_axis must be one of {", ".join(X_AXES)}, got '
                     f'{x_axis!r}.')
  files = metrics_files.locate(exp_dir)
  rows = metrics_files.read_rows(files)
  if x_axis == 'round':
    xs = [float(row[layout.ROUND_KEY]) for row in rows]
  else:
    xs = metrics_files.examples_seen(rows, files) if rows else []
  kept = [(x, row) for x, row in zip(xs, rows)
          if row.get(ACCURACY) or row.get(LOSS)]
  if not kept:
    raise PlotDataError(f'{files.where}: {layout.METRICS_CSV} has no '
                        f'evaluation rows (no {ACCURACY} or {LOSS} values).')
  return Curves(label or files.name, [x for x, _ in kept],
                [metrics_files.number(row.get(ACCURACY)) for _, row in kept],
                [metrics_files.number(row.get(LOSS)) for _, row in kept])


def own_metrics(path: str) -> tuple[str, ...]:
  """The default panels for the run at `path`: its task's own test metric.

  Accuracy and loss when the run recorded accuracy; otherwise (a forecasting
  run, say) every test metric it recorded, the errors before the loss, so
  the figure never shows an empty accuracy panel.
  """
  rows = metrics_files.read_rows(metrics_files.locate(path))
  recorded = [m for m in metrics_files.recorded_metrics(rows)
              if m.startswith('evaluation/test/')
              and any(row.get(m) for row in rows)]
  if ACCURACY in recorded or not recorded:
    return DEFAULT_METRICS
  return tuple(sorted(recorded, key=lambda m: (m == LOSS, m)))


def parse_reference(text: str) -> Reference:
  """'VALUE|LABEL' or 'VALUE|LABEL|RUN' (RUN: a plotted run's label)."""
  parts = text.split('|')
  if len(parts) not in (2, 3) or not parts[1].strip():
    raise ValueError(f'--reference={text!r}: give VALUE|LABEL or '
                     'VALUE|LABEL|RUN_LABEL.')
  try:
    value = float(parts[0])
  except ValueError:
    raise ValueError(f'--reference={text!r}: {parts[0]!r} is not a '
                     'number.') from None
  run = parts[2].strip() if len(parts) == 3 else None
  return Reference(value, parts[1].strip(), run or None)


def parse_ylim(text: str) -> tuple[str, tuple[Optional[float],
                                              Optional[float]]]:
  """'METRIC=LOW:HIGH' (LOW or HIGH may be left empty)."""
  metric, sep, bounds = text.rpartition('=')
  low_text, colon, high_text = bounds.partition(':')
  try:
    if not sep or not colon or not metric:
      raise ValueError
    low = float(low_text) if low_text.strip() else None
    high = float(high_text) if high_text.strip() else None
  except ValueError:
    raise ValueError(f'--ylim={text!r}: give METRIC=LOW:HIGH, e.g. '
                     f'{LOSS}=1:5 (either bound may be empty).') from None
  if low is not None and high is not None and low >= high:
    raise ValueError(f'--ylim={text!r}: LOW must be below HIGH.')
  return metric, (low, high)


def check_options(options: PlotOptions, output: str,
                  labels: Sequence[str]) -> None:
  """Refuses, naming the flag, options that cannot make a figure."""
  if options.x_axis not in X_AXES:
    raise ValueError(f'--x_axis must be one of {", ".join(X_AXES)}, got '
                     f'{options.x_axis!r}.')
  if os.path.splitext(output)[1].lower() not in FORMATS:
    raise ValueError(f'--output={output}: the file name must end in '
                     f'{", ".join(FORMATS)}.')
  if not options.metrics:
    raise ValueError('--metrics: give at least one metrics.csv column.')
  if options.ylabels and len(options.ylabels) != len(options.metrics):
    raise ValueError(f'{len(options.ylabels)} --ylabels for '
                     f'{len(options.metrics)} --metrics; give one per metric.')
  if (options.reference_metric is not None
      and options.reference_metric not in options.metrics):
    raise ValueError(f'--reference_metric={options.reference_metric} is not '
                     'one of --metrics.')
  for ref in options.references:
    if ref.run is not None and ref.run not in labels:
      raise ValueError(f'--reference for {ref.label!r} names run '
                       f'{ref.run!r}, which is not one of the labels '
                       f'({", ".join(labels)}).')
  for metric in options.ylims:
    if metric not in options.metrics:
      raise ValueError(f'--ylim names {metric!r}, which is not one of '
                       '--metrics.')
  if options.round_axis and options.x_axis != 'examples_seen':
    raise ValueError('--round_axis labels an examples_seen x axis in rounds; '
                     'give --x_axis=examples_seen (the x axis is already '
                     'rounds).')
  if options.dpi < 50:
    raise ValueError(f'--dpi={options.dpi}: give at least 50.')


def _style(index: int) -> dict:
  return dict(color=f'C{index % 10}',
              linestyle=_LINE_STYLES[index % len(_LINE_STYLES)],
              marker=_MARKERS[index % len(_MARKERS)],
              markerfacecolor='none',
              # Decreasing sizes nest the markers of coinciding curves.
              markersize=max(3.0, 7.5 - 1.2 * (index % 4)),
              linewidth=1.4)


def _examples_formatter(value, unused_position) -> str:
  if abs(value) >= 1e6:
    return f'{value / 1e6:g}M'
  if abs(value) >= 1e3:
    return f'{value / 1e3:g}k'
  return f'{value:g}'


def _x_label(x_axis: str) -> str:
  return 'round' if x_axis == 'round' else 'examples seen'


def _in_window(xs, ys, window):
  if window is None:
    return list(xs), list(ys)
  kept = [(x, y) for x, y in zip(xs, ys) if window[0] <= x <= window[1]]
  return [x for x, _ in kept], [y for _, y in kept]


def _tail_ylim(runs, metric, window, ylim, references):
  """The y range of everything inside the tail window, with a margin."""
  low, high = ylim
  values = []
  for run in runs:
    _, ys = _in_window(*run.points[metric], window)
    values += [y for y in ys if math.isfinite(y)
               and (low is None or y >= low) and (high is None or y <= high)]
  values += [ref.value for ref in references]
  if not values:
    return ylim
  bottom, top = min(values), max(values)
  pad = (top - bottom) * 0.08 or abs(top) * 0.02 or 0.01
  return bottom - pad, top + pad


def _draw_panel(ax, runs, metric, references, window, ylim, style_of):
  """The runs' `metric` (x inside `window`, if given) with off-scale marks."""
  low, high = ylim
  notes = []
  for run in runs:
    xs, ys = _in_window(*run.points[metric], window)
    style = style_of[run.label]
    step = max(1, len(xs) // _MARKERS_PER_CURVE)
    ax.plot(xs, ys, label=run.label, markevery=step, **style)
    for bound, marker, word, pick in ((high, '^', 'above', max),
                                      (low, 'v', 'below', min)):
      if bound is None:
        continue
      out = [(x, y) for x, y in zip(xs, ys)
             if math.isfinite(y) and (y > bound if word == 'above'
                                      else y < bound)]
      if not out:
        continue
      ax.plot([x for x, _ in out], [bound] * len(out), linestyle='none',
              marker=marker, color=style['color'], markersize=3.5,
              markevery=step, clip_on=False)
      symbol = '\u25b2' if word == 'above' else '\u25bc'
      notes.append(f'{symbol} {run.label}: {len(out)} of {len(xs)} points '
                   f'{word} {bound:g} (up to {pick(y for _, y in out):.4g})')
  for ref in references:
    color = style_of[ref.run]['color'] if ref.run else '0.35'
    ax.axhline(ref.value, color=color, linestyle=_REFERENCE_STYLE,
               linewidth=1.1, label=ref.label)
  if low is not None or high is not None:
    ax.set_ylim(low, high)
  if window is not None:
    ax.set_xlim(*window)
  if notes:
    ax.text(0.02, 0.94, '\n'.join(notes), transform=ax.transAxes,
            va='top', ha='left', fontsize=7.5,
            bbox=dict(facecolor='white', edgecolor='0.7', alpha=0.9))
  ax.grid(True, alpha=0.3)


def _linear_map(xp, fp):
  """Piecewise-linear x -> f(x) through the points, extended past both ends.

  A secondary axis needs a map that is invertible over the whole view,
  margins included; np.interp alone would flatten it outside the points.
  """
  points = sorted(set(zip(xp, fp)))
  xs, ys = [], []
  for x, y in points:  # strictly increasing in both
    if not xs or (x > xs[-1] and y > ys[-1]):
      xs.append(x)
      ys.append(y)
  xs, ys = np.asarray(xs, float), np.asarray(ys, float)
  if len(xs) < 2:
    return lambda x: np.asarray(x, float)
  left = (ys[1] - ys[0]) / (xs[1] - xs[0])
  right = (ys[-1] - ys[0]) / (xs[-1] - xs[0])

  def mapped(x):
    x = np.asarray(x, float)
    y = np.interp(x, xs, ys)
    y = np.where(x < xs[0], ys[0] + (x - xs[0]) * left, y)
    return np.where(x > xs[-1], ys[-1] + (x - xs[-1]) * right, y)

  return mapped


def _round_axis(ax, runs):
  """A top axis in rounds, from the federated runs' examples per round."""
  federated = [run for run in runs if run.rounds_by_examples is not None]
  if not federated:
    raise PlotDataError('--round_axis: none of the runs is federated (none '
                        f'has a {FEDERATED_EXAMPLES} column).')
  # The longest run labels the axis; the others agree when their rounds
  # are a prefix of its rounds (the same clients each round).
  federated.sort(key=lambda run: -len(run.rounds_by_examples[1]))
  examples, rounds = federated[0].rounds_by_examples
  shared = all(
      run.rounds_by_examples[0] == examples[:len(run.rounds_by_examples[0])]
      for run in federated)
  to_rounds = _linear_map(examples, rounds)
  to_examples = _linear_map(rounds, examples)
  top = ax.secondary_xaxis('top', functions=(to_rounds, to_examples))
  # Ticks only where the run has rounds, not in the extended margins.
  top.xaxis.set_major_locator(ticker.FixedLocator(
      ticker.MaxNLocator(integer=True, steps=[1, 2, 5, 10]).tick_values(
          0, max(rounds))))
  top.set_xlabel('round (all federated runs: same clients each round)'
                 if shared and len(federated) > 1
                 else f'round of {federated[0].label}')


def build_figure(runs: Sequence[Series],
                 options: PlotOptions = PlotOptions()) -> figure.Figure:
  """The figure of `runs`, not yet written anywhere."""
  metrics = options.metrics
  ref_metric = options.reference_metric or metrics[0]
  xmax = max(max(run.points[m][0]) for run in runs for m in metrics)
  window = None
  if options.tail_from is not None:
    if options.tail_from >= xmax:
      raise ValueError(f'--tail_from={options.tail_from:g} is not before the '
                       f'runs\' last point ({xmax:g}).')
    window = (options.tail_from, xmax + (xmax - options.tail_from) * 0.02)
  # Without a tail the metrics sit side by side; with one, each metric is a
  # row: its full panel, then its zoomed tail.
  nrows, ncols = (len(metrics), 2) if window else (1, len(metrics))
  fig = figure.Figure(figsize=(5.4 * ncols, 3.3 * nrows + 0.9),
                      layout='constrained')
  axes = np.asarray(fig.subplots(nrows, ncols, squeeze=False,
                                 sharex='col' if window else False))
  style_of = {run.label: _style(i) for i, run in enumerate(runs)}
  for i, metric in enumerate(metrics):
    full = axes[i, 0] if window else axes[0, i]
    refs = options.references if metric == ref_metric else ()
    ylim = options.ylims.get(metric, (None, None))
    ylabel = (options.ylabels[i] if options.ylabels
              else metric_label(metric))
    _draw_panel(full, runs, metric, refs, None, ylim, style_of)
    full.set_ylabel(ylabel)
    if window:
      full.axvspan(window[0], xmax, color='0.5', alpha=0.08, linewidth=0)
      tail = axes[i, 1]
      _draw_panel(tail, runs, metric, refs, window,
                  _tail_ylim(runs, metric, window, ylim, refs), style_of)
      tail.set_ylabel(ylabel)
      where = (f'round {options.tail_from:g}' if options.x_axis == 'round'
               else f'{options.tail_from:,.0f} examples')
      tail.set_title(f'zoomed: from {where} (shaded at left)', fontsize=9)
  for ax in axes.flat:
    if options.x_axis == 'round':
      ax.xaxis.set_major_locator(
          ticker.MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
    else:
      ax.xaxis.set_major_formatter(ticker.FuncFormatter(_examples_formatter))
  for ax in axes[-1]:
    ax.set_xlabel(_x_label(options.x_axis))
  if options.round_axis:
    for ax in axes[0]:
      _round_axis(ax, runs)
  handles, labels = axes.flat[0].get_legend_handles_labels()
  handles, labels = handles[:len(runs)], labels[:len(runs)]
  index = metrics.index(ref_metric)
  ref_ax = axes[index, 0] if window else axes[0, index]
  ref_handles, ref_labels = ref_ax.get_legend_handles_labels()
  ref_handles, ref_labels = ref_handles[len(runs):], ref_labels[len(runs):]
  if ref_handles:
    # Runs in the left column, reference lines in the right one.
    rows = max(len(handles), len(ref_handles))
    blank = lambda n: [lines.Line2D([], [], linestyle='none')] * n
    handles = handles + blank(rows - len(handles)) + ref_handles + blank(
        rows - len(ref_handles))
    labels = labels + [''] * (rows - len(labels)) + ref_labels + [''] * (
        rows - len(ref_labels))
    ncols = 2
  else:
    ncols = min(3, len(labels))
  fig.legend(handles, labels, loc='outside lower center', ncols=ncols,
             fontsize=8.5, frameon=False)
  return fig


def plot_series(runs: Sequence[Series], output: str,
                options: PlotOptions = PlotOptions()) -> str:
  """Draws `runs` to `output` (.png at options.dpi, .pdf or .svg)."""
  fig = build_figure(runs, options)
  parent = os.path.dirname(os.path.abspath(output))
  os.makedirs(parent, exist_ok=True)
  extension = os.path.splitext(output)[1].lower()
  # No creation dates: the same CSVs give the same file.
  metadata = {'.pdf': {'CreationDate': None}, '.svg': {'Date': None},
              '.png': {}}[extension]
  fig.savefig(output, format=extension[1:], dpi=options.dpi,
              metadata=metadata)
  return output


def plot_experiments(exp_dirs: Sequence[str], output: str,
                     labels: Optional[Sequence[str]] = None,
                     x_axis: str = 'round',
                     options: Optional[PlotOptions] = None) -> str:
  """Reads every run first, so a bad one fails before anything is written.

  `exp_dirs`: experiment dirs or recorded NAME.metrics.csv files.
  """
  options = options or PlotOptions(x_axis=x_axis)
  if not exp_dirs:
    raise ValueError('Give at least one experiment dir.')
  if options.metrics == DEFAULT_METRICS:
    options = dataclasses.replace(options, metrics=own_metrics(exp_dirs[0]))
  if labels and len(labels) != len(exp_dirs):
    raise ValueError(f'{len(labels)} labels for {len(exp_dirs)} experiment '
                     'dirs; give one label per dir.')
  runs_labels = list(labels) if labels else [
      metrics_files.locate(d).name for d in exp_dirs]
  if len(set(runs_labels)) != len(runs_labels):
    raise ValueError('runs need different labels (give --labels), got '
                     f'{", ".join(runs_labels)}.')
  check_options(options, output, runs_labels)
  runs = [read_series(d, options.metrics, options.x_axis, label)
          for d, label in zip(exp_dirs, runs_labels)]
  return plot_series(runs, output, options)
