"""Task names for the --task flag, and one function that builds any of them."""

from typing import Any, Optional

import tensorflow_federated as tff

from tff_lstm.tasks import model_config as model_config_lib
from tff_lstm.tasks import shakespeare_char
from tff_lstm.tasks import task as task_lib

_BUILDERS = {
    'shakespeare_char': shakespeare_char.create_task,
}
TASK_NAMES = tuple(_BUILDERS)


def create_task(name: str,
                train_client_spec: tff.simulation.baselines.ClientSpec,
                eval_client_spec: Optional[tff.simulation.baselines.ClientSpec] = None,
                *,
                model_config: model_config_lib.ModelConfig = model_config_lib.ModelConfig(),
                **task_kwargs: Any) -> task_lib.Task:
  """Builds task `name`; `task_kwargs` are that task's own options."""
  if name not in _BUILDERS:
    raise ValueError(f'Unknown task {name!r}; valid: {", ".join(TASK_NAMES)}.')
  return _BUILDERS[name](train_client_spec, eval_client_spec,
                         model_config=model_config, **task_kwargs)
