"""Client learning-rate schedules over rounds (a function round -> learning rate)."""

from collections.abc import Callable

SCHEDULES = ('constant', 'exp_decay', 'inv_sqrt_decay', 'linear_warmup')


def build_schedule(name: str, base_learning_rate: float, *,
                   decay_rate: float = 0.1, decay_rounds: int = 100,
                   warmup_rounds: int = 10) -> Callable[[int], float]:
  """Returns lr(round) for round 0, 1, ...; pure TF ops are not needed here
  because TFF traces the function on a scalar round number."""
  if name not in SCHEDULES:
    raise ValueError(f'Unknown client learning-rate schedule {name!r}; valid: '
                     f'{", ".join(SCHEDULES)}.')
  if decay_rounds < 1 or warmup_rounds < 1:
    raise ValueError('decay_rounds and warmup_rounds must be >= 1.')
  if name == 'constant':
    return lambda round_num: base_learning_rate
  if name == 'exp_decay':
    return lambda round_num: base_learning_rate * decay_rate ** (
        round_num / decay_rounds)
  if name == 'inv_sqrt_decay':
    return lambda round_num: base_learning_rate / (
        1.0 + round_num / decay_rounds) ** 0.5
  return lambda round_num: base_learning_rate * min(
      1.0, (round_num + 1) / warmup_rounds)
