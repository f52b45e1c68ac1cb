"""Word-level Shakespeare next-word prediction: offline Stack Overflow stand-in.

Same clients as `shakespeare_char`, one example per sentence, and TFF's Stack
Overflow ids, batches and metrics (see `word_lm`), with a vocabulary of the
most frequent words of the train split.
"""

from typing import Optional

import tensorflow_federated as tff

from tff_lstm.data import shakespeare
from tff_lstm.data import word_prediction
from tff_lstm.tasks import data_identity as data_identity_lib
from tff_lstm.tasks import model_config as model_config_lib
from tff_lstm.tasks import task as task_lib
from tff_lstm.tasks import word_lm

DEFAULT_VOCAB_SIZE = word_lm.DEFAULT_VOCAB_SIZE
DEFAULT_SEQUENCE_LENGTH = word_lm.DEFAULT_SEQUENCE_LENGTH


def _as_words(client_data: tff.simulation.datasets.ClientData):
  """Speeches (`snippets`) become sentences (`tokens`); word data stays."""
  if 'tokens' in client_data.element_type_structure:
    return client_data
  return word_prediction.to_word_client_data(client_data)


def create_task(
    train_client_spec: tff.simulation.baselines.ClientSpec,
    eval_client_spec: Optional[tff.simulation.baselines.ClientSpec] = None,
    *,
    vocab_size: int = DEFAULT_VOCAB_SIZE,
    sequence_length: int = DEFAULT_SEQUENCE_LENGTH,
    model_config: model_config_lib.ModelConfig = model_config_lib.ModelConfig(),
    cache_dir: Optional[str] = None,
    client_data=None,
) -> task_lib.Task:
  """The task: our word-level Shakespeare and the Stack Overflow word model.

  Args:
    train_client_spec: batch size, epochs, shuffling, max elements for training.
    eval_client_spec: the same for evaluation (default: batch 64, one epoch).
    vocab_size: most frequent train words kept; the rest are OOV.
    sequence_length: words per example; longer sentences are cut.
    model_config: cell type and sizes.
    cache_dir: where the Shakespeare database is built/read.
    client_data: (train, test) Shakespeare ClientData, of speeches or of
      sentences, to use instead of the built database (tests).
  """
  word_lm.check_sizes(vocab_size, sequence_length)
  data_identity = {}
  if client_data is None:
    client_data = word_prediction.load_word_client_data(cache_dir)
    data_identity = data_identity_lib.of_database(
        shakespeare.database_path(cache_dir))
  train_data, test_data = (_as_words(data) for data in client_data)
  vocab = word_prediction.build_vocab(train_data, vocab_size)
  return word_lm.create_task(
      'shakespeare_word', train_client_spec, eval_client_spec, train_data,
      test_data, vocab, sequence_length=sequence_length,
      model_config=model_config, data_identity=data_identity)
