"""Naive forecasts, scored on exactly the windows the forecaster is tested on.

Without them a forecasting number means nothing: a model whose MAE is 3 may
still lose to "tomorrow equals today". The naive forecast is the window's last
reading; the seasonal-naive forecast with period s is the reading s steps
before the target (so s may be at most the window). Both read the task's own
pooled test dataset, so they see the same windows, gap rules and clients as
the model's evaluation, and are scored by the same Keras metrics (MAE and
RMSE in the data's own units, the loss in standard units).
"""

import collections
from collections.abc import Sequence

import tensorflow as tf

from tff_lstm.tasks import task as task_lib
from tff_lstm.training import evaluation


def _forecast_fns(window: int, seasons: Sequence[int]):
  fns = collections.OrderedDict(naive=lambda w: w[:, -1, :])
  for season in seasons:
    if not 1 <= season <= window:
      raise ValueError(f'--seasons: a seasonal-naive period of {season} '
                       f'needs a window of at least {season} readings (the '
                       f'window is {window}); give periods in 1..{window}.')
    fns[f'seasonal_naive_{season}'] = (
        lambda w, s=season: w[:, window - s, :])
  return fns


def evaluate_baselines(task: task_lib.Task, seasons: Sequence[int] = ()
                       ) -> dict[str, dict[str, float]]:
  """baseline name -> {loss, mean_absolute_error, root_mean_squared_error}.

  Raises:
    ValueError: `task` is not a forecasting task, or a season is longer
      than its window.
  """
  if task.name != 'timeseries_forecast':
    raise ValueError(f'Naive baselines are forecasts; task {task.name!r} is '
                     'not timeseries_forecast.')
  window = task.datasets.element_type_structure[0].shape[1]
  results = collections.OrderedDict()
  for name, forecast in _forecast_fns(window, seasons).items():
    loss = tf.keras.metrics.Mean()
    loss_fn = task.loss_fn()
    metrics = [fn() for fn in task.metrics_fns]
    for x, y in evaluation.pooled_test_dataset(task):
      # The model's output is the change from the last reading.
      prediction = forecast(x) - x[:, -1, :]
      loss.update_state(loss_fn(y, prediction),
                        sample_weight=tf.shape(y)[0])
      for metric in metrics:
        metric.update_state(y, prediction)
    results[name] = collections.OrderedDict(
        [('loss', float(loss.result()))] +
        [(m.name, float(m.result())) for m in metrics])
  return results


def evaluate_majority_class(task: task_lib.Task) -> dict[str, dict[str, float]]:
  """{'majority_class': {accuracy, label}}: always the commonest train label.

  What a classifier must beat; under label skew (one genre per role, say)
  the pooled majority is still what a model that ignores its input scores.
  """
  counts = collections.Counter()
  train = task.datasets.train_data
  pooled = tf.data.Dataset.from_tensor_slices(
      sorted(train.client_ids)).flat_map(train.serializable_dataset_fn)
  for _, labels in task.datasets.eval_preprocess_fn(pooled):
    counts.update(labels.numpy().tolist())
  if not counts:
    raise ValueError(f'Task {task.name!r} has no train labels.')
  majority = counts.most_common(1)[0][0]
  hits = total = 0
  for _, labels in evaluation.pooled_test_dataset(task):
    labels = labels.numpy()
    hits += int((labels == majority).sum())
    total += len(labels)
  return {'majority_class': {'accuracy': hits / total,
                             'label': int(majority)}}
