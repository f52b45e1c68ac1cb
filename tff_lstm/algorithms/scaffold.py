"""SCAFFOLD (Karimireddy et al. 2020, "SCAFFOLD: Stochastic Controlled
Averaging for Federated Learning", Algorithm 1 with option II).

Client drift under heterogeneous data is corrected with control variates: the
server keeps c, each client keeps its own c_i across rounds (zeros until it
first trains), and every local SGD step follows g(y) - c_i + c instead of
g(y). After its K local steps a client sets
    c_i+ = c_i - c + (x - y) / (K * lr)
and reports c_i+ - c_i; the server moves c by |S| / N times the round's mean
report (|S| the round's clients, N all training clients), and applies the
mean model update with the server optimizer (SGD at learning rate 1 is the
paper's global step size 1).

The client state costs one model's worth of float32 per training client; the
training loop refuses a run whose client states would not fit in memory.
"""

import collections
import dataclasses

from absl import flags
import tensorflow as tf

from tff_lstm.algorithms import client_update
from tff_lstm.algorithms import optimizer_flags
from tff_lstm.algorithms import optimizers
from tff_lstm.algorithms import rule_client_work

NAME = 'scaffold'
FLAGS = ('client_optimizer', 'client_learning_rate')


@dataclasses.dataclass(frozen=True)
class Config:
  """SCAFFOLD's client side: plain SGD at `client_learning_rate`."""

  client_learning_rate: float = 1.0

  def __post_init__(self):
    optimizers.OptimizerConfig(learning_rate=self.client_learning_rate)


def define_flags(flag_values: flags.FlagValues) -> None:
  del flag_values  # --client_learning_rate is shared (optimizer_flags).


def config_from_flags(flag_values: flags.FlagValues) -> Config:
  client = optimizer_flags.config_from_flags('client', flag_values)
  if client.name != 'sgd':
    raise ValueError('--algorithm=scaffold corrects plain SGD steps: use '
                     f'--client_optimizer=sgd, not {client.name}.')
  return Config(client_learning_rate=client.learning_rate)


def _like(tensor, column):
  """[K] -> [K, 1, ..., 1] broadcasting against `tensor` [K, ...]."""
  return tf.reshape(column, [-1] + [1] * (len(tensor.shape) - 1))


class ControlledSGD(client_update.ClientUpdate):
  """SCAFFOLD's client: SGD corrected by c - c_i."""

  def __init__(self, learning_rate: float):
    self._lr = learning_rate

  def client_state(self, weight_specs):
    return list(weight_specs)

  def server_state(self, global_weights):
    return [tf.zeros_like(w) for w in global_weights]

  def next_server_state(self, server_state, mean_report, num_participants,
                        population):
    share = tf.cast(num_participants, tf.float32) / population
    return [c + share * r for c, r in zip(server_state, mean_report)]

  def initialize(self, global_weights, num_clients, server_state=(),
                 client_state=None):
    return collections.OrderedDict(
        weights=client_update.repeat_for_clients(global_weights, num_clients),
        control=list(client_state),
        steps=tf.zeros([num_clients])), list(server_state)

  def step(self, per_client, shared, gradients, batch_rows, global_weights):
    del batch_rows, global_weights
    weights = [w - self._lr * (g - c_i + c[tf.newaxis]) for w, g, c_i, c in
               zip(per_client['weights'], gradients, per_client['control'],
                   shared)]
    return collections.OrderedDict(
        weights=weights, control=per_client['control'],
        steps=per_client['steps'] + 1.0), shared

  def update(self, per_client, shared, global_weights, num_examples):
    del num_examples
    steps = per_client['steps']
    trained = steps > 0
    deltas = [w0[tf.newaxis] - w
              for w0, w in zip(global_weights, per_client['weights'])]
    # A client without data keeps its control variate and reports nothing.
    reports = [tf.where(_like(d, trained),
                        d / _like(d, tf.maximum(steps, 1.0) * self._lr)
                        - c[tf.newaxis], tf.zeros_like(d))
               for d, c in zip(deltas, shared)]
    controls = [c_i + r for c_i, r in zip(per_client['control'], reports)]
    return client_update.ClientOutput(deltas, client_state=controls,
                                      report=reports)


def client_rule(config: Config) -> client_update.ClientUpdate:
  return ControlledSGD(config.client_learning_rate)


def check_settings(config: Config, settings) -> None:
  del config
  if settings.unweighted_aggregator:
    raise ValueError('--algorithm=scaffold sends its control-variate '
                     'reports in the clear; DP and the trimmed mean apply to '
                     'model updates only, so they cannot be combined with it.')


def build_sequential(task, config: Config, settings):
  return rule_client_work.build_for_task(task, client_rule(config), settings)
