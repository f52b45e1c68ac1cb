"""FedAvg / FedOpt (McMahan et al. 2017; Reddi et al. 2021): local training
with a client optimizer, the server optimizer on the averaged update.

Sequentially this is TFF's `build_weighted_fed_avg` (or its learning-rate
schedule variant); on the vectorized cohort the client side is
`client_update.LocalTraining` with the same TFF client optimizer.
"""

import dataclasses

from absl import flags
import tensorflow_federated as tff

from tff_lstm.algorithms import client_update
from tff_lstm.algorithms import optimizer_flags
from tff_lstm.algorithms import optimizers
from tff_lstm.algorithms import schedules

NAME = 'fedavg'
_SCHEDULE_FLAGS = ('client_lr_schedule', 'client_lr_decay_rate',
                   'client_lr_decay_rounds', 'client_lr_warmup_rounds')
# Every flag this algorithm reads; given to another algorithm, it is refused.
FLAGS = optimizer_flags.flag_names('client') + _SCHEDULE_FLAGS


@dataclasses.dataclass(frozen=True)
class Config:
  """FedAvg's client side.

  Attributes:
    client_optimizer: the local optimizer (SGD with learning rate 1 by
      default; `sgdm` is client momentum).
    client_lr_schedule: a name from `schedules.SCHEDULES`; anything but
      'constant' uses TFF's schedule FedAvg (sequential path only).
    decay_rate, decay_rounds, warmup_rounds: the schedule's parameters.
  """

  client_optimizer: optimizers.OptimizerConfig = optimizers.OptimizerConfig(
      learning_rate=1.0)
  client_lr_schedule: str = 'constant'
  decay_rate: float = 0.1
  decay_rounds: int = 100
  warmup_rounds: int = 10

  def __post_init__(self):
    schedules.build_schedule(self.client_lr_schedule, 1.0,
                             decay_rate=self.decay_rate,
                             decay_rounds=self.decay_rounds,
                             warmup_rounds=self.warmup_rounds)  # validates


def define_flags(flag_values: flags.FlagValues) -> None:
  fv = dict(flag_values=flag_values)
  flags.DEFINE_enum('client_lr_schedule', 'constant', schedules.SCHEDULES,
                    'Client learning rate over rounds (fedavg only).', **fv)
  flags.DEFINE_float('client_lr_decay_rate', 0.1,
                     'exp_decay: factor per decay_rounds.', **fv)
  flags.DEFINE_integer('client_lr_decay_rounds', 100,
                       'exp_decay / inv_sqrt_decay time scale.', **fv)
  flags.DEFINE_integer('client_lr_warmup_rounds', 10,
                       'linear_warmup length in rounds.', **fv)


def config_from_flags(flag_values: flags.FlagValues) -> Config:
  f = flag_values
  return Config(
      client_optimizer=optimizer_flags.config_from_flags('client', f),
      client_lr_schedule=f.client_lr_schedule,
      decay_rate=f.client_lr_decay_rate,
      decay_rounds=f.client_lr_decay_rounds,
      warmup_rounds=f.client_lr_warmup_rounds)


def client_rule(config: Config) -> client_update.ClientUpdate:
  """The cohort's client side; ValueError naming what it cannot batch."""
  if config.client_lr_schedule != 'constant':
    raise ValueError(f'--client_lr_schedule={config.client_lr_schedule} '
                     'runs on TFF\'s sequential path only (its state is the '
                     'round number of TFF\'s schedule FedAvg).')
  return client_update.LocalTraining(
      optimizers.build_optimizer(config.client_optimizer))


def build_sequential(task, config: Config, settings):
  """TFF's own FedAvg builder for these settings."""
  server = optimizers.build_optimizer(settings.server_optimizer)
  aggregator = settings.weighted_model_aggregator()
  if config.client_lr_schedule == 'constant':
    return tff.learning.algorithms.build_weighted_fed_avg(
        task.model_fn,
        client_optimizer_fn=optimizers.build_optimizer(config.client_optimizer),
        server_optimizer_fn=server,
        client_weighting=settings.tff_client_weighting(),
        model_aggregator=aggregator)
  if settings.client_weighting != 'num_examples' and not (
      settings.unweighted_aggregator):
    raise ValueError('TFF applies client learning-rate schedules to '
                     'example-weighted FedAvg only (or with an unweighted '
                     'aggregator such as DP): use '
                     '--client_weighting=num_examples.')
  lr_fn = schedules.build_schedule(
      config.client_lr_schedule, config.client_optimizer.learning_rate,
      decay_rate=config.decay_rate, decay_rounds=config.decay_rounds,
      warmup_rounds=config.warmup_rounds)
  return tff.learning.algorithms.build_weighted_fed_avg_with_optimizer_schedule(
      task.model_fn,
      client_learning_rate_fn=lr_fn,
      client_optimizer_fn=lambda lr: optimizers.build_optimizer(
          config.client_optimizer, learning_rate=lr),
      server_optimizer_fn=server,
      model_aggregator=aggregator)
