"""A task's training preprocessing with its shuffle seeded by a tensor.

Every task's training preprocessing (TFF's Shakespeare and Stack Overflow
ones, and ours in `client_specs.shuffle_repeat_take`) first shuffles a
client's examples, then repeats, caps and batches them. TFF's shuffles take no
seed, so two runs of one command trained on different batches. Here the
shuffle is taken out in front of the task's own preprocessing, which then runs
with shuffling off, and it is seeded by a tensor: inside TFF's worker, each
client of each round gets a seed of its own (`training/shuffle_seeds.py`). The
buffer and its place in the pipeline are the task's; only the order is now a
function of the seed.

tf.data pairs a shuffle's seed with the global (graph-level) seed. TFF traces
each client's pipeline in a graph of its own, which has none, so in a round
the order depends on the client's seed alone. (Built eagerly after
`tf.random.set_seed`, e.g. once a seeded Keras model was built, the same seed
gives another order.)
"""

import dataclasses
from typing import Callable

import tensorflow as tf
import tensorflow_federated as tff

Preprocess = Callable[[tf.data.Dataset], tf.data.Dataset]


@dataclasses.dataclass(frozen=True)
class SeededPreprocess:
  """(client dataset, int64 seed) -> the task's preprocessed training data.

  Attributes:
    shuffle_buffer_size: the task's buffer (1: no shuffling, seed unused).
    unshuffled_fn: the task's preprocessing with its own shuffle off.
  """

  shuffle_buffer_size: int
  unshuffled_fn: Preprocess

  def __call__(self, dataset: tf.data.Dataset, seed) -> tf.data.Dataset:
    if self.shuffle_buffer_size > 1:
      # Reshuffled each iteration, as TFF's: epochs after the first (the
      # preprocessing repeats after this) get other orders, all from `seed`.
      dataset = dataset.shuffle(self.shuffle_buffer_size, seed=seed,
                                reshuffle_each_iteration=True)
    return self.unshuffled_fn(dataset)


def build(spec: tff.simulation.baselines.ClientSpec,
          default_shuffle_buffer_size: int,
          build_preprocess_fn: Callable[[tff.simulation.baselines.ClientSpec],
                                        Preprocess]) -> SeededPreprocess:
  """The seeded form of `build_preprocess_fn(spec)`.

  Args:
    spec: the training ClientSpec (shuffle_buffer_size None: the task's
      default; 1: no shuffling).
    default_shuffle_buffer_size: the buffer the task's preprocessing uses for
      a spec without one.
    build_preprocess_fn: builds the task's preprocessing from a spec; it must
      shuffle first, or not at all when the spec's buffer is 1.
  """
  buffer_size = spec.shuffle_buffer_size or default_shuffle_buffer_size
  unshuffled = tff.simulation.baselines.ClientSpec(
      num_epochs=spec.num_epochs, batch_size=spec.batch_size,
      max_elements=spec.max_elements, shuffle_buffer_size=1)
  return SeededPreprocess(buffer_size, build_preprocess_fn(unshuffled))
