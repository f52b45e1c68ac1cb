"""Next-character prediction on your own texts (a user-import `text` database).

Characters, not words: TFF's Shakespeare character vocabulary and
preprocessing need no vocabulary pass over the data and suit any English text
(other characters, and each byte of a non-ASCII character, are OOV). So the
task is `shakespeare_char` with the `text` feature read as `snippets`.
"""

import collections
import dataclasses
from typing import Optional

import tensorflow as tf
import tensorflow_federated as tff

from tff_lstm.data import shakespeare_text
from tff_lstm.data import user_import
from tff_lstm.tasks import data_identity
from tff_lstm.tasks import model_config as model_config_lib
from tff_lstm.tasks import shakespeare_char
from tff_lstm.tasks import task as task_lib
from tff_lstm.tasks import user_data

DEFAULT_SEQUENCE_LENGTH = shakespeare_char.DEFAULT_SEQUENCE_LENGTH


def _as_snippets(dataset: tf.data.Dataset) -> tf.data.Dataset:
  return dataset.map(lambda e: collections.OrderedDict(snippets=e['text']))


def create_task(
    train_client_spec: tff.simulation.baselines.ClientSpec,
    eval_client_spec: Optional[tff.simulation.baselines.ClientSpec] = None,
    *,
    database_path: Optional[str] = None,
    sequence_length: int = DEFAULT_SEQUENCE_LENGTH,
    model_config: model_config_lib.ModelConfig = model_config_lib.ModelConfig(),
    cache_dir: Optional[str] = None,
) -> task_lib.Task:
  """The task: your texts, TFF's character preprocessing, our character LM.

  Args:
    train_client_spec: batch size, epochs, shuffling, max elements for training.
    eval_client_spec: the same for evaluation (default: batch 64, one epoch).
    database_path: a database imported with shape `text`; default the
      Shakespeare speeches (`shakespeare_text`).
    sequence_length: characters per training window.
    model_config: cell type and sizes (default: the Shakespeare model).
    cache_dir: where the default database is built (see `paths`); unused
      with `database_path`.
  """
  if sequence_length < 1:
    raise ValueError(f'sequence_length must be >= 1, got {sequence_length}.')
  if database_path is None:
    database_path = shakespeare_text.ensure_database('text', cache_dir)
  path, _ = user_data.check_database(database_path, 'text', 'text_lm')
  train_data, test_data = user_import.load_client_data(path)
  task = shakespeare_char.create_task(
      train_client_spec, eval_client_spec,
      sequence_length=sequence_length,
      model_config=model_config,
      client_data=(train_data.preprocess(_as_snippets),
                   test_data.preprocess(_as_snippets)))
  return dataclasses.replace(task, name='text_lm',
                             data_identity=data_identity.of_database(path))
