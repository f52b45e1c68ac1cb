"""The train/test rule shared by every data set built here.

Each client's examples, in order (play order, file order or time), are split
so that the later part is held out: the last `test_fraction` of them, rounded
down but at least one, go to test. A client needs two examples to have one of
each. This is LEAF's rule, which TFF's Shakespeare data follows.
"""

import math
from collections.abc import Sequence
from typing import TypeVar

DEFAULT_TEST_FRACTION = 0.2
MIN_EXAMPLES = 2

T = TypeVar('T')


def num_test(num_examples: int,
             test_fraction: float = DEFAULT_TEST_FRACTION) -> int:
  if num_examples < MIN_EXAMPLES:
    raise ValueError(f'A client needs at least {MIN_EXAMPLES} examples, '
                     f'got {num_examples}.')
  return max(1, math.floor(num_examples * test_fraction))


def split_later(examples: Sequence[T],
                test_fraction: float = DEFAULT_TEST_FRACTION
                ) -> tuple[list[T], list[T]]:
  """(train, test): the earlier examples, and the later ones held out."""
  if not 0 < test_fraction < 1:
    raise ValueError(f'test_fraction must be in (0, 1), got {test_fraction}.')
  n = num_test(len(examples), test_fraction)
  return list(examples[:-n]), list(examples[-n:])
