"""Builds the training LearningProcess from TFF's algorithms, by name.

Every algorithm here is TFF's own builder; this module only maps our flags
onto them, and takes the model aggregator as an argument so that privacy,
secure and compressed aggregation plug in without touching the binaries.
"""

from typing import Optional

import tensorflow_federated as tff

from tff_lstm.algorithms import optimizers
from tff_lstm.algorithms import schedules

ALGORITHMS = ('fedavg', 'fedprox', 'fedsgd')
CLIENT_WEIGHTINGS = ('num_examples', 'uniform')


def check_choice(kind: str, value: str, valid) -> str:
  if value not in valid:
    raise ValueError(f'Unknown {kind} {value!r}; valid: {", ".join(valid)}.')
  return value


def client_weighting(name: str) -> tff.learning.ClientWeighting:
  check_choice('client weighting', name, CLIENT_WEIGHTINGS)
  if name == 'uniform':
    return tff.learning.ClientWeighting.UNIFORM
  return tff.learning.ClientWeighting.NUM_EXAMPLES


def build_learning_process(
    model_fn,
    *,
    algorithm: str = 'fedavg',
    client_optimizer: optimizers.OptimizerConfig = optimizers.OptimizerConfig(
        learning_rate=1.0),
    server_optimizer: optimizers.OptimizerConfig = optimizers.OptimizerConfig(
        learning_rate=1.0),
    weighting: str = 'num_examples',
    model_aggregator: Optional[tff.aggregators.AggregationFactory] = None,
    proximal_strength: float = 0.0,
    client_lr_schedule: str = 'constant',
    schedule_kwargs: Optional[dict[str, float]] = None,
) -> tff.learning.templates.LearningProcess:
  """The LearningProcess for `algorithm` with the given optimizers and aggregator.

  Args:
    model_fn: no-arg callable returning a `tff.learning.models.VariableModel`.
    algorithm: 'fedavg' (FedAvg/FedOpt), 'fedprox' or 'fedsgd'.
    client_optimizer: client optimizer (unused by FedSGD).
    server_optimizer: server optimizer; SGD with lr 1 is plain FedAvg.
    weighting: 'num_examples' (McMahan et al.) or 'uniform'.
    model_aggregator: a TFF aggregation factory; None means TFF's default
      (weighted mean). An unweighted factory (e.g. DP) counts every client
      once, so it needs weighting='uniform'.
    proximal_strength: FedProx mu (algorithm 'fedprox' only).
    client_lr_schedule: name from `schedules.SCHEDULES` ('constant' keeps the
      plain builders; others use TFF's optimizer-schedule FedAvg).
    schedule_kwargs: decay_rate / decay_rounds / warmup_rounds.
  """
  check_choice('algorithm', algorithm, ALGORITHMS)
  weighting_enum = client_weighting(weighting)
  uniform_aggregator = isinstance(
      model_aggregator, tff.aggregators.UnweightedAggregationFactory)
  if uniform_aggregator:
    if weighting_enum != tff.learning.ClientWeighting.UNIFORM:
      raise ValueError('An unweighted model aggregator (e.g. DP) counts every '
                       "client once: use weighting='uniform'.")
    # As TFF's build_unweighted_fed_avg does: the client weights are ignored.
    model_aggregator = tff.aggregators.as_weighted_aggregator(model_aggregator)
  server = optimizers.build_optimizer(server_optimizer)
  if algorithm != 'fedprox' and proximal_strength:
    raise ValueError('proximal_strength (FedProx mu) only applies to '
                     "algorithm 'fedprox'.")
  if algorithm != 'fedavg' and client_lr_schedule != 'constant':
    raise ValueError('Client learning-rate schedules apply to fedavg only.')

  if algorithm == 'fedsgd':
    if (weighting_enum != tff.learning.ClientWeighting.NUM_EXAMPLES
        and not uniform_aggregator):
      raise ValueError('TFF FedSGD weights clients by example count only '
                       '(uniformly with an unweighted aggregator).')
    return tff.learning.algorithms.build_fed_sgd(
        model_fn, server_optimizer_fn=server,
        model_aggregator=model_aggregator)

  client = optimizers.build_optimizer(client_optimizer)
  if algorithm == 'fedprox':
    if proximal_strength < 0:
      raise ValueError(f'FedProx mu must be >= 0, got {proximal_strength}.')
    return tff.learning.algorithms.build_weighted_fed_prox(
        model_fn, proximal_strength=proximal_strength,
        client_optimizer_fn=client, server_optimizer_fn=server,
        client_weighting=weighting_enum, model_aggregator=model_aggregator)

  if client_lr_schedule != 'constant':
    if (weighting_enum != tff.learning.ClientWeighting.NUM_EXAMPLES
        and not uniform_aggregator):
      raise ValueError('TFF applies client learning-rate schedules to '
                       'example-weighted FedAvg only (or with an unweighted '
                       'aggregator).')
    lr_fn = schedules.build_schedule(client_lr_schedule,
                                     client_optimizer.learning_rate,
                                     **(schedule_kwargs or {}))
    return tff.learning.algorithms.build_weighted_fed_avg_with_optimizer_schedule(
        model_fn,
        client_learning_rate_fn=lr_fn,
        client_optimizer_fn=lambda lr: optimizers.build_optimizer(
            client_optimizer, learning_rate=lr),
        server_optimizer_fn=server,
        model_aggregator=model_aggregator)

  return tff.learning.algorithms.build_weighted_fed_avg(
      model_fn, client_optimizer_fn=client, server_optimizer_fn=server,
      client_weighting=weighting_enum, model_aggregator=model_aggregator)
