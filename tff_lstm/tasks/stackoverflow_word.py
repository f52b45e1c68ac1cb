"""Stack Overflow next-word prediction (Reddi et al. 2021) on TFF's real data.

The database and word counts must already be on this machine (see
datasets/README.md): their absence is reported at once, before any model or
dataset is built, and nothing is downloaded.
"""

import os
from typing import Optional

import tensorflow_federated as tff

from tff_lstm.data import paths
from tff_lstm.data import stackoverflow
from tff_lstm.tasks import model_config as model_config_lib
from tff_lstm.tasks import task as task_lib
from tff_lstm.tasks import data_identity
from tff_lstm.tasks import word_lm

DEFAULT_VOCAB_SIZE = word_lm.DEFAULT_VOCAB_SIZE
DEFAULT_SEQUENCE_LENGTH = word_lm.DEFAULT_SEQUENCE_LENGTH


def create_task(
    train_client_spec: tff.simulation.baselines.ClientSpec,
    eval_client_spec: Optional[tff.simulation.baselines.ClientSpec] = None,
    *,
    vocab_size: int = DEFAULT_VOCAB_SIZE,
    sequence_length: int = DEFAULT_SEQUENCE_LENGTH,
    model_config: model_config_lib.ModelConfig = model_config_lib.ModelConfig(),
    cache_dir: Optional[str] = None,
    database_path: Optional[str] = None,
) -> task_lib.Task:
  """The task: TFF's Stack Overflow clients, its word counts and our model.

  Train on `train`, test on `test`; `heldout` is the validation data.

  Args:
    train_client_spec: batch size, epochs, shuffling, max elements for training.
    eval_client_spec: the same for evaluation (default: batch 64, one epoch).
    vocab_size: most frequent words (TFF's word counts) kept; the rest are OOV.
    sequence_length: words per example; longer sentences are cut.
    model_config: cell type and sizes.
    cache_dir: the directory holding `stackoverflow.sqlite` and
      `datasets/stackoverflow.word_count.tar.bz2` (default: our cache dir).
    database_path: `stackoverflow.sqlite` or its directory, instead of
      `cache_dir`; the word counts are looked for beside it.

  Raises:
    stackoverflow.StackOverflowNotFoundError: the database or the word counts
      are missing.
  """
  word_lm.check_sizes(vocab_size, sequence_length)
  location = database_path or paths.resolve_cache_dir(cache_dir)
  train_data, heldout_data, test_data = stackoverflow.load_client_data(location)
  vocab = stackoverflow.load_vocab(
      os.path.dirname(stackoverflow.database_path(location)), vocab_size)
  return word_lm.create_task(
      'stackoverflow_word', train_client_spec, eval_client_spec, train_data,
      test_data, vocab, sequence_length=sequence_length,
      model_config=model_config, validation_data=heldout_data,
      data_identity=data_identity.of_large_foreign_database(
          stackoverflow.database_path(location)))
