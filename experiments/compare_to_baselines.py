"""Tables of recorded runs against their naive baselines (markdown).

  .venv/bin/python experiments/compare_to_baselines.py \
      --results_dir=results/applications --workloads=stocks,power \
      --output=results/applications/table.md

Each workload W needs W_fedavg, W_fedadam and W_centralized recorded in
--results_dir and W.baselines.json (experiments/naive_baselines.py). With
--reference_lines --baselines=FILE, prints instead one plot_metrics.py
--reference value per baseline. See tff_lstm/training/baseline_table.py.
"""

import sys

from absl import app
from absl import flags

from tff_lstm.training import baseline_table
from tff_lstm.training import metrics_files

_RESULTS_DIR = flags.DEFINE_string('results_dir', None,
                                   'Where the runs are recorded.')
_WORKLOADS = flags.DEFINE_list('workloads', [], 'Workload names.')
_OUTPUT = flags.DEFINE_string('output', None, 'Markdown file to write.')
_REFERENCE_LINES = flags.DEFINE_bool(
    'reference_lines', False, 'Print --reference values of --baselines.')
_BASELINES = flags.DEFINE_string('baselines', None,
                                 'A baselines JSON, with --reference_lines.')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  try:
    if _REFERENCE_LINES.value:
      if not _BASELINES.value:
        raise ValueError('--reference_lines needs --baselines=FILE.')
      for line in baseline_table.reference_lines(
          baseline_table.read_baselines(_BASELINES.value)):
        print(line)
      return 0
    if not (_RESULTS_DIR.value and _WORKLOADS.value and _OUTPUT.value):
      raise ValueError('give --results_dir, --workloads and --output.')
    text = baseline_table.tables(_RESULTS_DIR.value, _WORKLOADS.value)
  except (ValueError, metrics_files.MetricsFileError, KeyError) as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  with open(_OUTPUT.value, 'w') as f:
    f.write(text)
  print(f'wrote {_OUTPUT.value}')
  return 0


if __name__ == '__main__':
  app.run(main)
