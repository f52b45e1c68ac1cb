"""Server-side evaluation of the global model on pooled test clients, with Keras.

This is how the google-research/federated baselines evaluate: the global
weights are copied into a Keras model in the Python process and evaluated
centrally, which is much faster than a federated evaluation over hundreds of
small clients and gives the same example-weighted metrics.
"""

import collections
from collections.abc import Callable, Sequence
import dataclasses
from typing import Any, Optional

import numpy as np
import tensorflow as tf
import tensorflow_federated as tff

from tff_lstm.tasks import task as task_lib
from tff_lstm.training import layout


def pooled_test_dataset(task: task_lib.Task,
                        client_ids: Optional[Sequence[str]] = None
                        ) -> tf.data.Dataset:
  """The test split of `client_ids` (all when None), preprocessed and pooled."""
  test_data = task.datasets.test_data
  # A fixed client order keeps batch composition, and so the masked
  # per-batch loss means, identical between evaluations of the same weights.
  ids = sorted(test_data.client_ids if client_ids is None else client_ids)
  dataset = tf.data.Dataset.from_tensor_slices(ids).flat_map(
      test_data.serializable_dataset_fn)
  return task.datasets.eval_preprocess_fn(dataset)


def sample_test_client_ids(task: task_lib.Task, num_clients: int,
                           seed: int) -> Optional[list[str]]:
  """A fixed random subset of test clients (None: use all of them)."""
  ids = sorted(task.datasets.test_data.client_ids)
  if num_clients <= 0 or num_clients >= len(ids):
    return None
  rng = np.random.default_rng(seed)
  return sorted(rng.choice(ids, size=num_clients, replace=False).tolist())


@dataclasses.dataclass(frozen=True)
class FinalEvaluation:
  """The test clients the final model is evaluated on, and the result's key."""

  dataset: tf.data.Dataset
  key: str
  num_clients: Optional[int]  # None: the full test split

  @property
  def description(self) -> str:
    if self.num_clients is None:
      return 'the full test split'
    return f'a fixed sample of {self.num_clients} test clients'


def final_evaluation(task: task_lib.Task, num_clients: int,
                     seed: int) -> FinalEvaluation:
  """The full test split (`num_clients` 0), else a seeded sample of clients.

  The sample is `sample_test_client_ids`' (the periodic evaluation's, for the
  same size and seed). It is for test splits too large to evaluate whole: a
  StackOverflow-sized one takes longer than a short run takes to train.
  """
  ids = sample_test_client_ids(task, num_clients, seed)
  if ids is None:
    return FinalEvaluation(pooled_test_dataset(task), layout.FULL_TEST_KEY,
                           None)
  return FinalEvaluation(pooled_test_dataset(task, ids),
                         layout.SAMPLE_TEST_KEY, len(ids))


def record_final(final: dict[str, Any], target: FinalEvaluation) -> None:
  """Adds to `final` (keyed by `target.key`) how many clients it covers."""
  if target.num_clients is not None:
    final[layout.SAMPLE_CLIENTS_KEY] = target.num_clients


def final_test_metrics(final: dict[str, Any]) -> Optional[dict[str, float]]:
  """The final model's test metrics, on the full split or a sample."""
  return final.get(layout.FULL_TEST_KEY, final.get(layout.SAMPLE_TEST_KEY))


def describe_final(final: dict[str, Any]) -> str:
  """'full test split: loss=... accuracy=...' or the sample's equivalent."""
  metrics = ' '.join(f'{k}={v:.4f}'
                     for k, v in final_test_metrics(final).items())
  if layout.FULL_TEST_KEY in final:
    return f'full test split: {metrics}'
  return f'{final[layout.SAMPLE_CLIENTS_KEY]} sampled test clients: {metrics}'


def build_evaluation_fn(
    task: task_lib.Task,
    get_model_weights: Callable[[object], tff.learning.models.ModelWeights],
    dataset: tf.data.Dataset,
    prefix: str = 'test',
    callbacks: Sequence[tf.keras.callbacks.Callback] = (),
) -> Callable[[object], dict[str, float]]:
  """Returns state -> {prefix: {metric: value}} for the state's global model.

  `callbacks`: Keras callbacks of the evaluation (e.g. a progress display for
  a long one).
  """
  keras_model = task.compiled_keras_model()

  def evaluate(state) -> dict[str, dict[str, float]]:
    get_model_weights(state).assign_weights_to(keras_model)
    values = keras_model.evaluate(dataset, verbose=0, return_dict=True,
                                  callbacks=list(callbacks))
    return collections.OrderedDict(
        [(prefix, collections.OrderedDict(
            (name, float(value)) for name, value in sorted(values.items())))])

  return evaluate
