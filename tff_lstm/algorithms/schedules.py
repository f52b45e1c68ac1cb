"""Client learning-rate schedules over rounds (a function round -> learning rate)."""

from collections.abc import Callable

import tensorflow as tf

SCHEDULES = ('constant', 'exp_decay', 'inv_sqrt_decay', 'linear_warmup')


def build_schedule(name: str, base_learning_rate: float, *,
                   decay_rate: float = 0.1, decay_rounds: int = 100,
                   warmup_rounds: int = 10) -> Callable[[int], float]:
  """Returns lr(round) for round 0, 1, ...

  TFF calls the function on the round number as a tensor while it traces the
  process, so every schedule uses TensorFlow ops only (Python's `min` on a
  tensor fails in graph mode); it works on Python numbers too.
  """
  if name not in SCHEDULES:
    raise ValueError(f'Unknown client learning-rate schedule {name!r}; valid: '
                     f'{", ".join(SCHEDULES)}.')
  if decay_rounds < 1 or warmup_rounds < 1:
    raise ValueError('decay_rounds and warmup_rounds must be >= 1.')
  if name == 'constant':
    return lambda round_num: tf.constant(base_learning_rate, tf.float32)
  as_float = lambda round_num: tf.cast(round_num, tf.float32)
  if name == 'exp_decay':
    return lambda round_num: base_learning_rate * tf.pow(
        decay_rate, as_float(round_num) / decay_rounds)
  if name == 'inv_sqrt_decay':
    return lambda round_num: base_learning_rate / tf.sqrt(
        1.0 + as_float(round_num) / decay_rounds)
  return lambda round_num: base_learning_rate * tf.minimum(
      1.0, (as_float(round_num) + 1.0) / warmup_rounds)
