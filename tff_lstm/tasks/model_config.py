"""Model-shape settings shared by every task (the --cell_type/--units/... flags)."""

import dataclasses
from typing import Optional

from tff_lstm.models import recurrent


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """Recurrent model shape; None fields take the task's published default."""

  cell_type: str = 'lstm'
  units: Optional[int] = None
  num_layers: Optional[int] = None
  embedding_dim: Optional[int] = None
  seed: Optional[int] = None

  def __post_init__(self):
    recurrent.check_cell_type(self.cell_type)
    for name in ('units', 'num_layers', 'embedding_dim'):
      value = getattr(self, name)
      if value is not None and value < 1:
        raise ValueError(f'{name} must be >= 1, got {value}.')

  def pick(self, name: str, default: int) -> int:
    value = getattr(self, name)
    return default if value is None else value
