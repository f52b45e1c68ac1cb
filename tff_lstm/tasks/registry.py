"""Task names for the --task flag, and one function that builds any of them."""

import inspect
from typing import Any, Optional

import tensorflow_federated as tff

from tff_lstm.tasks import model_config as model_config_lib
from tff_lstm.tasks import shakespeare_char
from tff_lstm.tasks import shakespeare_word
from tff_lstm.tasks import signal_classification
from tff_lstm.tasks import stackoverflow_word
from tff_lstm.tasks import task as task_lib
from tff_lstm.tasks import text_classification
from tff_lstm.tasks import text_lm
from tff_lstm.tasks import timeseries_forecast

_BUILDERS = {
    'shakespeare_char': shakespeare_char.create_task,
    'shakespeare_word': shakespeare_word.create_task,
    'stackoverflow_word': stackoverflow_word.create_task,
    'text_lm': text_lm.create_task,
    'text_classification': text_classification.create_task,
    'timeseries_forecast': timeseries_forecast.create_task,
    'signal_classification': signal_classification.create_task,
}
TASK_NAMES = tuple(_BUILDERS)


def task_options(name: str) -> frozenset[str]:
  """The task-specific keyword options task `name` accepts."""
  params = inspect.signature(_BUILDERS[name]).parameters
  return frozenset(
      p for p, spec in params.items()
      if spec.kind == inspect.Parameter.KEYWORD_ONLY
      and p != 'model_config')


def create_task(name: str,
                train_client_spec: tff.simulation.baselines.ClientSpec,
                eval_client_spec: Optional[tff.simulation.baselines.ClientSpec] = None,
                *,
                model_config: model_config_lib.ModelConfig = model_config_lib.ModelConfig(),
                **task_kwargs: Any) -> task_lib.Task:
  """Builds task `name`; `task_kwargs` are that task's own options."""
  if name not in _BUILDERS:
    raise ValueError(f'Unknown task {name!r}; valid: {", ".join(TASK_NAMES)}.')
  accepted = task_options(name)
  unknown = sorted(set(task_kwargs) - accepted)
  if unknown:
    raise ValueError(
        f'{", ".join("--" + k for k in unknown)} does not apply to task '
        f'{name!r} (its options: {", ".join(sorted(accepted))}).')
  return _BUILDERS[name](train_client_spec, eval_client_spec,
                         model_config=model_config, **task_kwargs)
