"""Plots a federated run's forecasts against the truth, for a few test clients.

  .venv/bin/python experiments/plot_forecasts.py --task=timeseries_forecast \
      --series=stocks --window=12 --units=32 \
      --experiment_dir=runs/applications/stocks_fedavg --num_clients=3 \
      --output=stocks_forecasts.png

The task flags must be the run's (they rebuild its data and model). Reads the
run's last checkpoint (its global model), forecasts every test reading of
--num_clients test clients (spread evenly over the sorted ids) from the
window before it, and draws the truth, the model's forecast and the naive
forecast (the last reading) of the first value column, in the data's own
units, one panel per client.
"""

import asyncio
import glob
import json
import os
import re
import sys

from tff_lstm import runtime  # first: quiets TensorFlow before it is imported

# pylint: disable=g-bad-import-order
from absl import app
from absl import flags
import numpy as np
import tensorflow_federated as tff
from tensorflow_federated.python.program import file_utils

from tff_lstm.data import sql_writer
from tff_lstm.data import user_import
from tff_lstm.models import forecaster
from tff_lstm.tasks import task_flags
from tff_lstm.training import centralized
from tff_lstm.training import outputs

task_flags.define_task_flags()
flags.adopt_module_key_flags(task_flags)
_EXPERIMENT_DIR = flags.DEFINE_string(
    'experiment_dir', None, 'A finished run_federated.py experiment dir.')
_NUM_CLIENTS = flags.DEFINE_integer('num_clients', 3, 'Test clients to draw.',
                                    lower_bound=1)
_OUTPUT = flags.DEFINE_string('output', None, 'PNG, PDF or SVG to write.')
flags.mark_flags_as_required(['experiment_dir', 'output'])


def _last_checkpoint(exp_dir: str) -> str:
  paths = glob.glob(os.path.join(exp_dir, outputs.CHECKPOINT_DIR,
                                 outputs.CHECKPOINT_PREFIX + '*'))
  if not paths:
    raise ValueError(f'--experiment_dir={exp_dir}: no checkpoint (not a '
                     'finished federated run?).')
  return max(paths, key=lambda p: int(re.findall(r'\d+$', p)[0]))


def _trained_model(task, exp_dir: str):
  path = _last_checkpoint(exp_dir)
  state = asyncio.run(file_utils.read_saved_model(path))
  model = task.keras_model_fn()
  weights = state.global_model_weights
  tff.learning.models.ModelWeights(
      trainable=[np.asarray(w) for w in weights.trainable],
      non_trainable=[np.asarray(w) for w in weights.non_trainable]
  ).assign_weights_to(model)
  return model, os.path.basename(path)


def _client_curves(task, model, client_id):
  """(truth, model forecast, naive forecast) of column 0, in own units."""
  truth, forecast, naive = [], [], []
  dataset = task.datasets.eval_preprocess_fn(
      task.datasets.test_data.create_tf_dataset_for_client(client_id))
  for x, y in dataset:
    change = model(x, training=False)
    target, predicted = forecaster.in_own_units(y, change)
    _, last = forecaster.in_own_units(y, np.zeros_like(change))
    truth += target[:, 0].numpy().tolist()
    forecast += predicted[:, 0].numpy().tolist()
    naive += last[:, 0].numpy().tolist()
  return truth, forecast, naive


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  runtime.quiet_logging(False)
  try:
    task = task_flags.create_task_from_flags(centralized.WINDOW_SPEC)
    if task.name != 'timeseries_forecast':
      raise ValueError(f'--task={task.name}: only forecasts can be drawn.')
    model, checkpoint = _trained_model(task, _EXPERIMENT_DIR.value)
  except (ValueError, FileNotFoundError,
          sql_writer.ForeignDatabaseError) as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  ids = sorted(task.datasets.test_data.client_ids)
  picks = sorted({ids[int(i)] for i in np.linspace(
      0, len(ids) - 1, min(_NUM_CLIENTS.value, len(ids)))})
  from matplotlib import figure  # pylint: disable=g-import-not-at-top
  fig = figure.Figure(figsize=(5.0 * len(picks), 3.4), layout='constrained')
  axes = fig.subplots(1, len(picks), squeeze=False)[0]
  for ax, client_id in zip(axes, picks):
    truth, forecast, naive = _client_curves(task, model, client_id)
    steps = np.arange(1, len(truth) + 1)
    ax.plot(steps, truth, color='k', linewidth=1.6, label='truth')
    ax.plot(steps, forecast, color='C0', linestyle='--', marker='o',
            markersize=3, markerfacecolor='none', label='FedAvg forecast')
    ax.plot(steps, naive, color='C3', linestyle=':', linewidth=1.2,
            label='naive (last reading)')
    mae = np.mean(np.abs(np.subtract(forecast, truth)))
    naive_mae = np.mean(np.abs(np.subtract(naive, truth)))
    ax.set_title(f'{client_id}: MAE {mae:.3g} (naive {naive_mae:.3g})',
                 fontsize=9)
    ax.set_xlabel('test reading')
    ax.grid(True, alpha=0.3)
  axes[0].set_ylabel(_value_name())
  handles, labels = axes[0].get_legend_handles_labels()
  fig.legend(handles, labels, loc='outside lower center', ncols=3,
             fontsize=8.5, frameon=False)
  fig.suptitle(f'{os.path.basename(_EXPERIMENT_DIR.value)} ({checkpoint}): '
               'one-step forecasts of the test readings', fontsize=10)
  os.makedirs(os.path.dirname(os.path.abspath(_OUTPUT.value)), exist_ok=True)
  fig.savefig(_OUTPUT.value, dpi=150)
  print(f'wrote {_OUTPUT.value}')
  return 0


def _value_name() -> str:
  """The first value column's name, as the import recorded it."""
  from tff_lstm.data import public_series  # pylint: disable=g-import-not-at-top
  path = flags.FLAGS.database_path or public_series.database_path(
      flags.FLAGS.series or 'stocks', flags.FLAGS.cache_dir)
  return json.loads(user_import.read_metadata(path)['value_names'])[0]


if __name__ == '__main__':
  app.run(main)
