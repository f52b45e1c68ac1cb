"""FedSGD (McMahan et al. 2017): each client sends its gradient at the global
model, averaged over its examples; the server optimizer applies the
example-weighted mean as one step.

Sequentially this is TFF's `build_fed_sgd`; on the cohort the client side
below accumulates the same example-weighted gradient sum.
"""

import collections
import dataclasses

from absl import flags
import tensorflow as tf
import tensorflow_federated as tff

from tff_lstm.algorithms import client_update
from tff_lstm.algorithms import optimizers

NAME = 'fedsgd'
FLAGS = ()


@dataclasses.dataclass(frozen=True)
class Config:
  """FedSGD has no client-side settings: clients take no local steps."""


def define_flags(flag_values: flags.FlagValues) -> None:
  del flag_values


def config_from_flags(flag_values: flags.FlagValues) -> Config:
  del flag_values
  return Config()


class GradientAverage(client_update.ClientUpdate):
  """The client's mean gradient over its examples at the global model."""

  def initialize(self, global_weights, num_clients, server_state=(),
                 client_state=None):
    del server_state, client_state
    stacked = client_update.repeat_for_clients(global_weights, num_clients)
    return collections.OrderedDict(
        weights=stacked,
        gradient_sum=[tf.zeros_like(w) for w in stacked]), ()

  def step(self, per_client, shared, gradients, batch_rows, global_weights):
    del global_weights
    scale = lambda g: batch_rows[(...,) + (tf.newaxis,) * (len(g.shape) - 1)]
    return collections.OrderedDict(
        weights=per_client['weights'],
        gradient_sum=[s + scale(g) * g for s, g in
                      zip(per_client['gradient_sum'], gradients)]), shared

  def update(self, per_client, shared, global_weights, num_examples):
    del shared, global_weights
    return client_update.ClientOutput([tf.math.divide_no_nan(
        s, num_examples[(...,) + (tf.newaxis,) * (len(s.shape) - 1)])
                                       for s in per_client['gradient_sum']])


def client_rule(config: Config) -> client_update.ClientUpdate:
  del config
  return GradientAverage()


def check_settings(config: Config, settings) -> None:
  del config
  if settings.client_weighting != 'num_examples' and not (
      settings.unweighted_aggregator):
    raise ValueError('FedSGD averages gradients over all examples, so it '
                     'weighs clients by example count: use '
                     '--client_weighting=num_examples (or an unweighted '
                     'aggregator such as DP, which counts clients uniformly).')


def build_sequential(task, config: Config, settings):
  del config
  return tff.learning.algorithms.build_fed_sgd(
      task.model_fn,
      server_optimizer_fn=optimizers.build_optimizer(settings.server_optimizer),
      model_aggregator=settings.weighted_model_aggregator())
