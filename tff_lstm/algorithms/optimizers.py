"""Client and server optimizers by name (FedOpt: Reddi et al. 2021)."""

import dataclasses

import tensorflow_federated as tff

OPTIMIZERS = ('sgd', 'sgdm', 'adam', 'yogi', 'adagrad')


@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
  """One optimizer's hyperparameters; fields an optimizer does not use are ignored.

  `sgd` with `momentum` > 0 is FedAvgM as a server optimizer; `sgdm` requires it.
  """

  name: str = 'sgd'
  learning_rate: float = 1.0
  momentum: float = 0.0
  beta_1: float = 0.9
  beta_2: float = 0.999
  epsilon: float = 1e-3
  initial_accumulator_value: float = 0.0

  def __post_init__(self):
    if self.name not in OPTIMIZERS:
      raise ValueError(f'Unknown optimizer {self.name!r}; valid: '
                       f'{", ".join(OPTIMIZERS)}.')
    if self.learning_rate <= 0:
      raise ValueError(f'{self.name} learning rate must be > 0, got '
                       f'{self.learning_rate}.')
    if not 0 <= self.momentum < 1:
      raise ValueError(f'momentum must be in [0, 1), got {self.momentum}.')
    if self.name == 'sgdm' and self.momentum == 0:
      raise ValueError('sgdm needs momentum > 0.')



def build_optimizer(config: OptimizerConfig,
                    learning_rate=None) -> tff.learning.optimizers.Optimizer:
  """A TFF optimizer (functional: its state travels with the server state).

  `learning_rate` overrides the config's (a tensor, under a schedule).
  """
  lr = config.learning_rate if learning_rate is None else learning_rate
  if config.name in ('sgd', 'sgdm'):
    return tff.learning.optimizers.build_sgdm(
        learning_rate=lr, momentum=config.momentum or None)
  if config.name == 'adam':
    return tff.learning.optimizers.build_adam(
        learning_rate=lr, beta_1=config.beta_1, beta_2=config.beta_2,
        epsilon=config.epsilon)
  if config.name == 'yogi':
    return tff.learning.optimizers.build_yogi(
        learning_rate=lr, beta_1=config.beta_1, beta_2=config.beta_2,
        epsilon=config.epsilon,
        initial_preconditioner_value=config.initial_accumulator_value or 1e-6)
  return tff.learning.optimizers.build_adagrad(
      learning_rate=lr,
      initial_preconditioner_value=config.initial_accumulator_value or 0.1,
      epsilon=config.epsilon)
