"""Mime Lite (Karimireddy et al. 2021, "Breaking the centralized barrier for
cross-device federated learning"): clients step with the server's optimizer
state (e.g. its momentum), frozen for the round, and the server updates that
state from the clients' full-batch gradients at the global model.

This is TFF's own `build_weighted_mime_lite`, on TFF's client-by-client path
only: its clients apply an optimizer state that travels with the server state,
which `client_update.ClientUpdate` does not model, so `auto` runs it
sequentially and says so.
"""

import dataclasses

from absl import flags
import tensorflow_federated as tff

from tff_lstm.algorithms import optimizer_flags
from tff_lstm.algorithms import optimizers

NAME = 'mime_lite'
FLAGS = optimizer_flags.flag_names('client')


@dataclasses.dataclass(frozen=True)
class Config:
  """Mime Lite's base optimizer: the --client_* optimizer, whose state the
  server keeps and every client applies (sgdm with momentum is the paper's)."""

  base_optimizer: optimizers.OptimizerConfig = optimizers.OptimizerConfig(
      name='sgdm', learning_rate=1.0, momentum=0.9)


def define_flags(flag_values: flags.FlagValues) -> None:
  del flag_values  # The base optimizer is the --client_* optimizer.


def config_from_flags(flag_values: flags.FlagValues) -> Config:
  return Config(optimizer_flags.config_from_flags('client', flag_values))


def client_rule(config: Config):
  del config
  raise ValueError('--algorithm=mime_lite runs on TFF\'s sequential path only '
                   '(its clients apply the server\'s optimizer state).')


def build_sequential(task, config: Config, settings):
  return tff.learning.algorithms.build_weighted_mime_lite(
      task.model_fn,
      base_optimizer=optimizers.build_optimizer(config.base_optimizer),
      server_optimizer=optimizers.build_optimizer(settings.server_optimizer),
      client_weighting=settings.tff_client_weighting(),
      model_aggregator=settings.weighted_model_aggregator())
