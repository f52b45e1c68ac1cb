"""ClientSpec shuffling, epochs and cap, as TFF's baselines apply them."""

import tensorflow as tf
import tensorflow_federated as tff

from tff_lstm.tasks import client_specs


def _apply(**spec):
  spec = tff.simulation.baselines.ClientSpec(batch_size=1, **spec)
  dataset = client_specs.shuffle_repeat_take(tf.data.Dataset.range(5), spec,
                                             default_shuffle_buffer_size=100)
  return list(dataset.as_numpy_iterator())


def test_epochs_then_cap_in_order_without_shuffling():
  assert _apply(num_epochs=2, shuffle_buffer_size=1) == [0, 1, 2, 3, 4] * 2
  assert _apply(num_epochs=2, max_elements=7, shuffle_buffer_size=1) == [
      0, 1, 2, 3, 4, 0, 1]


def test_default_buffer_shuffles():
  tf.random.set_seed(0)
  orders = {tuple(_apply(num_epochs=1)) for _ in range(5)}
  assert all(sorted(order) == [0, 1, 2, 3, 4] for order in orders)
  assert len(orders) > 1


def test_default_eval_spec_is_one_unshuffled_pass():
  spec = client_specs.eval_or_default(None)
  assert (spec.num_epochs, spec.shuffle_buffer_size) == (1, 1)
  mine = tff.simulation.baselines.ClientSpec(num_epochs=1, batch_size=3)
  assert client_specs.eval_or_default(mine) is mine
