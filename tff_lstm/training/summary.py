"""One markdown table of finished runs: the results/ tables.

Reads only metrics.csv and final_metrics.json (federated and centralized runs
alike, from experiment dirs or their recorded copies in results/), so every
number in a results table comes from a run's own outputs. The table follows
one metric, the test accuracy unless told otherwise (a forecasting run's
mean_absolute_error, say). No TensorFlow: quick.
"""

import math
import statistics
from collections.abc import Sequence
from typing import Any, Optional

from tff_lstm.training import layout
from tff_lstm.training import metrics_files
from tff_lstm.training import plotting

ROUND_SECONDS = 'training_time_in_seconds'
EVAL_SECONDS = 'evaluation/evaluation_time_in_seconds'
EPSILON = 'privacy/epsilon'
DELTA = 'privacy/delta'  # the delta of EPSILON, in the same row
# What aggregation.compression measures on the encoded updates, per round.
BYTES_SUFFIXES = ('/client_to_server_bytes', '/uncompressed_bytes')


_TEST_PREFIX = 'evaluation/test/'


def _heading(metric: str) -> str:
  """'evaluation/test/accuracy' -> 'test acc', as the tables have it."""
  return plotting.metric_label(metric).replace('accuracy', 'acc')


def lower_is_better(metric: str) -> bool:
  """Losses and errors fall as a model learns; accuracies rise."""
  name = metric.rsplit('/', 1)[-1]
  return 'loss' in name or 'error' in name


def _number(text: Optional[str]) -> float:
  return metrics_files.number(text)


def _metric_at(rows, metric: str, round_num: int) -> float:
  for row in rows:
    if int(row[layout.ROUND_KEY]) == round_num:
      return _number(row.get(metric))
  return math.nan


def _first_round_reaching(rows, metric: str, target: Optional[float]) -> float:
  """The first evaluated round whose metric reaches target (nan: never).

  Reaching is >= for accuracies, <= for losses and errors.
  """
  if target is None:
    return math.nan
  below = lower_is_better(metric)
  for row in rows:
    value = _number(row.get(metric))
    if (value <= target) if below else (value >= target):
      return float(row[layout.ROUND_KEY])
  return math.nan


def _mean_over_last(rows, metric: str, num_rounds: Optional[int]) -> float:
  """Mean of the metric's evaluations in the run's last `num_rounds` rounds.

  Reddi et al. 2021 report this average (last 100 rounds) rather than one
  evaluation, which smooths round-to-round noise. A run shorter than the
  window has none: its mean would include the untrained model.
  """
  if not num_rounds or not rows:
    return math.nan
  last = int(rows[-1][layout.ROUND_KEY])
  if last < num_rounds:
    return math.nan
  values = [_number(row.get(metric)) for row in rows
            if int(row[layout.ROUND_KEY]) > last - num_rounds
            and row.get(metric)]
  return statistics.mean(values) if values else math.nan


def _column_sum(rows, suffix: str) -> float:
  total = math.nan
  for row in rows:
    for key, value in row.items():
      if key.endswith(suffix) and value:
        total = (0.0 if math.isnan(total) else total) + float(value)
  return total


def _is_centralized(rows) -> bool:
  """Centralized runs record examples seen; their "rounds" are eval points."""
  return any(row.get(plotting.EXAMPLES_SEEN) for row in rows)


def _examples_seen(rows) -> float:
  """Centralized runs record it; federated runs sum their rounds' examples."""
  seen = [_number(row.get(plotting.EXAMPLES_SEEN)) for row in rows
          if row.get(plotting.EXAMPLES_SEEN)]
  if seen:
    return seen[-1]
  return _column_sum(rows, plotting.FEDERATED_EXAMPLES)


def summarize_run(exp_dir: str, at_rounds: Sequence[int] = (),
                  label: Optional[str] = None,
                  target: Optional[float] = None,
                  mean_last_rounds: Optional[int] = None,
                  metric: str = plotting.ACCURACY) -> dict[str, Any]:
  """The figures one results-table row shows for a run.

  `exp_dir`: an experiment dir, or a recorded NAME.metrics.csv.
  `metric`: the metrics.csv column the row follows; a run that did not
  record it is refused, naming the run. `target`: also the first evaluated
  round reaching it (e.g. accuracy 0.54, McMahan et al. 2017's Shakespeare
  target). `mean_last_rounds`: also the mean of the metric over the
  evaluations of the last that many rounds. A final evaluation of an earlier
  round than the run's last (a run continued since) is left out: it does not
  describe the model the row is about.
  """
  files = metrics_files.locate(exp_dir)
  rows = metrics_files.read_rows(files)
  metrics_files.require_metric(rows, files, metric)
  final = metrics_files.read_json(files.final_metrics_json) or {}
  last_round = metrics_files.last_round(rows)
  if final.get('rounds', last_round) != last_round:
    final = {}
  seconds = [_number(row.get(ROUND_SECONDS)) for row in rows
             if row.get(ROUND_SECONDS) and int(row[layout.ROUND_KEY]) > 0]
  eval_seconds = _column_sum(rows, EVAL_SECONDS)
  epsilons = [(_number(row.get(EPSILON)), _number(row.get(DELTA)))
              for row in rows if row.get(EPSILON)]
  # Columns counted in federated rounds mean nothing for a centralized run,
  # whose "round" is an evaluation point (e.g. every 1,000 steps).
  federated = not _is_centralized(rows)
  final_test = final.get('final_test', {})
  return {
      'label': label or files.name,
      'metric': metric,
      'rounds': last_round,
      'examples_seen': _examples_seen(rows),
      'metric_at': {r: _metric_at(rows, metric, r) if federated else math.nan
                    for r in at_rounds},
      # The full-split evaluation has the test metrics only.
      'final_metric': (final_test.get(metric.rsplit('/', 1)[-1], math.nan)
                       if metric.startswith(_TEST_PREFIX) else math.nan),
      'final_loss': final_test.get('loss', math.nan),
      'median_round_s': statistics.median(seconds) if seconds else math.nan,
      'training_s': sum(seconds) if seconds else math.nan,
      # Training plus periodic evaluation (checkpointing and start-up excluded).
      'wall_s': (sum(seconds) if seconds else math.nan) + (
          0.0 if math.isnan(eval_seconds) else eval_seconds),
      'target': target,
      'federated': federated,
      'rounds_to_target': (_first_round_reaching(rows, metric, target)
                           if federated else math.nan),
      'mean_last_rounds': mean_last_rounds,
      'mean_metric_last': (_mean_over_last(rows, metric, mean_last_rounds)
                           if federated else math.nan),
      'epsilon': epsilons[-1][0] if epsilons else math.nan,
      'delta': epsilons[-1][1] if epsilons else math.nan,
      'bytes_after': _column_sum(rows, BYTES_SUFFIXES[0]),
      'bytes_before': _column_sum(rows, BYTES_SUFFIXES[1]),
  }


def _cell(value: float, fmt: str) -> str:
  return '–' if value is None or math.isnan(value) else format(value, fmt)


def markdown_table(summaries: Sequence[dict[str, Any]],
                   at_rounds: Sequence[int] = ()) -> str:
  """Columns that some run has; absent values show as '–'."""
  columns = [('run', lambda s: s['label']),
             ('rounds', lambda s: str(s['rounds'])
              if s.get('federated', True) else '–'),
             ('examples seen', lambda s: _cell(s['examples_seen'], ',.0f'))]
  metric = next((s['metric'] for s in summaries), plotting.ACCURACY)
  name = _heading(metric)
  columns += [(f'{name} @{r}',
               lambda s, r=r: _cell(s['metric_at'].get(r, math.nan), '.4f'))
              for r in at_rounds]
  window = next((s.get('mean_last_rounds') for s in summaries
                 if s.get('mean_last_rounds')), None)
  if window:
    columns.append((f'mean {name}, last {window} rounds',
                    lambda s: _cell(s['mean_metric_last'], '.4f')))
  if metric.startswith(_TEST_PREFIX) and not metric.endswith('/loss'):
    columns.append((f'final {name} (full split)',
                    lambda s: _cell(s['final_metric'], '.4f')))
  columns += [('final test loss', lambda s: _cell(s['final_loss'], '.4f')),
              ('median s/round', lambda s: _cell(s['median_round_s'], '.2f')
               if s.get('federated', True) else '–'),
              ('training h', lambda s: _cell(s['training_s'] / 3600, '.2f'))]
  target = next((s['target'] for s in summaries
                 if s['target'] is not None), None)
  if target is not None:
    columns.append(('training + eval h',
                    lambda s: _cell(s['wall_s'] / 3600, '.2f')))
    reach = (f'rounds to {target:.0%}' if metric == plotting.ACCURACY
             else f'rounds to {name} '
             f'{"≤" if lower_is_better(metric) else "≥"} {target:g}')
    columns.append((reach, lambda s: (
        '–' if not s.get('federated', True)
        else 'not reached' if math.isnan(s['rounds_to_target'])
        else f"{s['rounds_to_target']:.0f}")))
  optional = [('epsilon', 'epsilon', '.2f'), ('at delta', 'delta', '.3g'),
              ('MB sent (all rounds)', 'bytes_after', ',.1f'),
              ('MB uncompressed', 'bytes_before', ',.1f')]
  for title, key, fmt in optional:
    if any(not math.isnan(s[key]) for s in summaries):
      scale = 2**20 if key.startswith('bytes') else 1
      columns.append((title, lambda s, k=key, f=fmt, c=scale: _cell(
          s[k] / c, f)))
  lines = ['| ' + ' | '.join(title for title, _ in columns) + ' |',
           '|' + '---|' * len(columns)]
  for s in summaries:
    lines.append('| ' + ' | '.join(fn(s) for _, fn in columns) + ' |')
  return '\n'.join(lines) + '\n'
