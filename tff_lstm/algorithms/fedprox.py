"""FedProx (Li et al. 2020): FedAvg whose clients add mu/2 * ||w - w_global||^2
to their loss, which keeps heterogeneous clients near the global model.

Both paths run `client_update.LocalTraining` with the proximal term: TFF
0.87's `build_weighted_fed_prox` adds mu * (w_global - w) to the gradient, the
opposite sign of the paper's term (it pushes clients away from the global
model), so we compose our own process from TFF's building blocks instead.
"""

import dataclasses

from absl import flags

from tff_lstm.algorithms import client_update
from tff_lstm.algorithms import optimizer_flags
from tff_lstm.algorithms import optimizers
from tff_lstm.algorithms import rule_client_work

NAME = 'fedprox'
FLAGS = optimizer_flags.flag_names('client') + ('fedprox_mu',)


@dataclasses.dataclass(frozen=True)
class Config:
  """FedProx's client side: the local optimizer and the proximal strength mu."""

  client_optimizer: optimizers.OptimizerConfig = optimizers.OptimizerConfig(
      learning_rate=1.0)
  mu: float = 0.0

  def __post_init__(self):
    if not isinstance(self.mu, (int, float)) or not self.mu >= 0:
      raise ValueError(f'--fedprox_mu must be >= 0, got {self.mu}.')


def define_flags(flag_values: flags.FlagValues) -> None:
  flags.DEFINE_float('fedprox_mu', 0.0,
                     'FedProx proximal strength (--algorithm=fedprox).',
                     flag_values=flag_values)


def config_from_flags(flag_values: flags.FlagValues) -> Config:
  return Config(
      client_optimizer=optimizer_flags.config_from_flags('client', flag_values),
      mu=flag_values.fedprox_mu)


def client_rule(config: Config) -> client_update.ClientUpdate:
  return client_update.LocalTraining(
      optimizers.build_optimizer(config.client_optimizer),
      proximal_strength=float(config.mu))


def build_sequential(task, config: Config, settings):
  return rule_client_work.build_for_task(task, client_rule(config), settings)
