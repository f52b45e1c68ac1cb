"""Builds the training LearningProcess from TFF's algorithms, by name.

Every algorithm here is TFF's own builder; this module only maps our flags
onto them, and takes the model aggregator as an argument so that privacy,
secure and compressed aggregation plug in without touching the binaries.
"""

from typing import Optional

import tensorflow_federated as tff

from tff_lstm.algorithms import cohort_model
from tff_lstm.algorithms import optimizers
from tff_lstm.algorithms import schedules
from tff_lstm.algorithms import vectorized_cohort

ALGORITHMS = ('fedavg', 'fedprox', 'fedsgd')
CLIENT_WEIGHTINGS = ('num_examples', 'uniform')
# sequential: TFF trains the sampled clients one by one (its own builders).
# vectorized: the whole cohort as one batched computation (FedAvg/FedOpt with
# local SGD on Embedding -> LSTM -> Dense models; see vectorized_cohort).
CLIENT_PARALLELISMS = ('sequential', 'vectorized')


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
    client_parallelism: str = 'sequential',
    keras_model_fn=None,
    client_batch_size: Optional[int] = None,
    mixed_precision: bool = False,
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
    client_parallelism: 'sequential' or 'vectorized' (then the process takes
      `vectorized_cohort.indexed_client_data(datasets)` as client data).
    keras_model_fn: the Keras model behind `model_fn` ('vectorized' only).
    client_batch_size: the clients' batch size ('vectorized' only).
    mixed_precision: bfloat16 compute with float32 weights ('vectorized' only).
  """
  check_choice('algorithm', algorithm, ALGORITHMS)
  check_choice('client parallelism', client_parallelism, CLIENT_PARALLELISMS)
  if mixed_precision and client_parallelism != 'vectorized':
    raise ValueError('bfloat16 mixed precision is implemented for '
                     'client_parallelism=vectorized only.')
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

  if client_parallelism == 'vectorized':
    _check_vectorizable(algorithm, client_optimizer, client_lr_schedule)
    return vectorized_cohort.build_vectorized_fed_avg(
        model_fn, keras_model_fn,
        client_learning_rate=client_optimizer.learning_rate,
        server_optimizer=server, batch_size=client_batch_size,
        uniform_weighting=(
            weighting_enum == tff.learning.ClientWeighting.UNIFORM),
        model_aggregator=model_aggregator, mixed_precision=mixed_precision)

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


def auto_client_parallelism(keras_model_fn, *, algorithm: str,
                            client_optimizer: optimizers.OptimizerConfig,
                            client_lr_schedule: str) -> str:
  """'vectorized' when the cohort path supports this setting, else 'sequential'."""
  try:
    _check_vectorizable(algorithm, client_optimizer, client_lr_schedule)
    cohort_model.build_forward(keras_model_fn())
  except ValueError:
    return 'sequential'
  return 'vectorized'


def _check_vectorizable(algorithm, client_optimizer, client_lr_schedule):
  """The vectorized cohort runs FedAvg/FedOpt with plain local SGD only.

  Client momentum or adaptive client optimizers would need their state masked
  per client too, which the cohort does not do.
  """
  problems = []
  if algorithm != 'fedavg':
    problems.append(f'algorithm {algorithm!r} (needs fedavg)')
  if client_optimizer.name != 'sgd' or client_optimizer.momentum:
    problems.append(f'client optimizer {client_optimizer.name!r} with momentum '
                    f'{client_optimizer.momentum} (needs sgd, momentum 0)')
  if client_lr_schedule != 'constant':
    problems.append(f'client lr schedule {client_lr_schedule!r} (needs '
                    'constant)')
  if problems:
    raise ValueError('client_parallelism=vectorized does not support '
                     + '; '.join(problems)
                     + '. Use client_parallelism=sequential.')
