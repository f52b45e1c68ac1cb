"""ClientSpec handling shared by the tasks whose preprocessing is ours.

(The Shakespeare and Stack Overflow tasks use TFF's preprocessing, which reads
the ClientSpec itself.)
"""

from typing import Callable, Optional

import tensorflow as tf
import tensorflow_federated as tff

# One unshuffled pass in large batches: evaluation sees every example once.
DEFAULT_EVAL = tff.simulation.baselines.ClientSpec(
    num_epochs=1, batch_size=64, shuffle_buffer_size=1)


def eval_or_default(
    spec: Optional[tff.simulation.baselines.ClientSpec]
) -> tff.simulation.baselines.ClientSpec:
  return DEFAULT_EVAL if spec is None else spec


def task_datasets(
    train_data, test_data,
    create_preprocess_fn: Callable[[tff.simulation.baselines.ClientSpec],
                                   Callable[[tf.data.Dataset], tf.data.Dataset]],
    train_client_spec: tff.simulation.baselines.ClientSpec,
    eval_client_spec: Optional[tff.simulation.baselines.ClientSpec] = None,
    validation_data=None,
) -> tff.simulation.baselines.BaselineTaskDatasets:
  """A task's datasets: one preprocessing, built per spec (eval's by default)."""
  return tff.simulation.baselines.BaselineTaskDatasets(
      train_data=train_data,
      test_data=test_data,
      validation_data=validation_data,
      train_preprocess_fn=create_preprocess_fn(train_client_spec),
      eval_preprocess_fn=create_preprocess_fn(eval_or_default(eval_client_spec)))


def shuffle_repeat_take(dataset: tf.data.Dataset,
                        spec: tff.simulation.baselines.ClientSpec,
                        default_shuffle_buffer_size: int) -> tf.data.Dataset:
  """Applies a ClientSpec's shuffling, epochs and cap, in TFF's order.

  The cap counts examples after repeating, as TFF's baselines do; a shuffle
  buffer of None means `default_shuffle_buffer_size`, and 1 no shuffling.
  """
  buffer_size = spec.shuffle_buffer_size or default_shuffle_buffer_size
  if buffer_size > 1:
    dataset = dataset.shuffle(buffer_size)
  if spec.num_epochs > 1:
    dataset = dataset.repeat(spec.num_epochs)
  if spec.max_elements is not None:
    dataset = dataset.take(spec.max_elements)
  return dataset
