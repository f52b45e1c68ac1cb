"""Builds the training LearningProcess of a registered algorithm.

An algorithm (`registry`) brings its client side; this module adds what every
algorithm shares (`ProcessSettings`: server optimizer, client weighting, model
aggregator, and how a round's clients are trained) and picks the path: TFF's
client-by-client round, or the vectorized cohort running the algorithm's
client rule with all clients stacked.
"""

import dataclasses
from typing import Optional

import tensorflow_federated as tff

from tff_lstm.aggregation import ckks as ckks_lib
from tff_lstm.aggregation import config as aggregation_config
from tff_lstm.aggregation import homomorphic
from tff_lstm.aggregation import masked
from tff_lstm.aggregation import plain_mean
from tff_lstm.algorithms import cohort_loss
from tff_lstm.algorithms import cohort_model
from tff_lstm.algorithms import fedavg
from tff_lstm.algorithms import optimizers
from tff_lstm.algorithms import registry
from tff_lstm.algorithms import vectorized_cohort

CLIENT_WEIGHTINGS = aggregation_config.CLIENT_WEIGHTINGS
# sequential: TFF trains the sampled clients one by one.
# vectorized: the whole cohort as one batched computation (vectorized_cohort).
CLIENT_PARALLELISMS = ('sequential', 'vectorized')


def check_choice(kind: str, value: str, valid) -> str:
  if value not in valid:
    raise ValueError(f'Unknown {kind} {value!r}; valid: {", ".join(valid)}.')
  return value


@dataclasses.dataclass(frozen=True)
class ProcessSettings:
  """What every algorithm's process shares.

  Attributes:
    server_optimizer: applied to the aggregated update (SGD lr 1: FedAvg).
    client_weighting: 'num_examples' (McMahan et al.) or 'uniform'.
    model_aggregator: a TFF aggregation factory; None: the weighted mean. An
      unweighted factory (DP, trimmed mean) counts every client once, so it
      needs client_weighting='uniform'.
    client_parallelism: 'sequential' or 'vectorized'.
    client_batch_size: the clients' batch size (needed by 'vectorized').
    mixed_precision: bfloat16 compute with float32 weights ('vectorized').
    ckks: CKKS parameters: client updates are summed encrypted
      (`homomorphic.HomomorphicProcess`); None: in the clear. Its model
      aggregator is `homomorphic.ClientUpdatesFactory` (set if None).
  """

  server_optimizer: optimizers.OptimizerConfig = optimizers.OptimizerConfig(
      learning_rate=1.0)
  client_weighting: str = 'num_examples'
  model_aggregator: Optional[tff.aggregators.AggregationFactory] = None
  client_parallelism: str = 'sequential'
  client_batch_size: Optional[int] = None
  mixed_precision: bool = False
  ckks: Optional[ckks_lib.CkksParameters] = None

  def __post_init__(self):
    check_choice('client weighting', self.client_weighting, CLIENT_WEIGHTINGS)
    check_choice('client parallelism', self.client_parallelism,
                 CLIENT_PARALLELISMS)
    if self.mixed_precision and self.client_parallelism != 'vectorized':
      raise ValueError('bfloat16 mixed precision is implemented for '
                       'client_parallelism=vectorized only.')
    if self.ckks is not None:
      if self.model_aggregator is None:
        object.__setattr__(self, 'model_aggregator',
                           homomorphic.ClientUpdatesFactory())
      elif not isinstance(self.model_aggregator,
                          homomorphic.ClientUpdatesFactory):
        raise ValueError('CKKS encryption sums the client updates itself; '
                         'it takes no other model aggregator.')
    if self.unweighted_aggregator and self.client_weighting != 'uniform':
      raise ValueError('An unweighted model aggregator (e.g. DP) counts every '
                       "client once: use client_weighting='uniform'.")

  @property
  def unweighted_aggregator(self) -> bool:
    return isinstance(self.model_aggregator,
                      tff.aggregators.UnweightedAggregationFactory)

  def weighted_model_aggregator(self):
    """The aggregator as TFF's weighted builders take it (None: their mean).

    An unweighted one ignores the client weights, as in TFF's
    `build_unweighted_fed_avg`.
    """
    if self.unweighted_aggregator:
      return tff.aggregators.as_weighted_aggregator(self.model_aggregator)
    return self.model_aggregator

  def tff_client_weighting(self) -> tff.learning.ClientWeighting:
    if self.client_weighting == 'uniform':
      return tff.learning.ClientWeighting.UNIFORM
    return tff.learning.ClientWeighting.NUM_EXAMPLES


def _check(algorithm, settings):
  module = registry.for_config(algorithm)
  if hasattr(module, 'check_settings'):
    module.check_settings(algorithm, settings)
  return module


def build_learning_process(
    task,
    algorithm=None,
    settings: Optional[ProcessSettings] = None,
    **settings_kwargs,
) -> tff.learning.templates.LearningProcess:
  """The LearningProcess of `algorithm` on `task`.

  Args:
    task: a `tff_lstm.tasks.task.Task` (model, loss and metrics).
    algorithm: a registered algorithm's Config (default: FedAvg's).
    settings: the shared settings; or give their fields as keywords.

  Returns:
    For 'sequential', a process taking the task's preprocessed datasets; for
    'vectorized' (and algorithms that keep state per client), an
    `indexed_process.IndexedClientsProcess`. With `settings.ckks`, that
    process inside a `homomorphic.HomomorphicProcess`.

  Raises:
    ValueError: settings that do not combine, or 'vectorized' for an
      algorithm, model, loss or metric the cohort cannot batch (naming it).
  """
  if algorithm is None:
    algorithm = fedavg.Config()
  if settings is None:
    settings = ProcessSettings(**settings_kwargs)
  elif settings_kwargs:
    raise TypeError('Give settings or their fields, not both.')
  module = _check(algorithm, settings)
  if settings.ckks is not None:
    homomorphic.check_algorithm(module.NAME)
    process = build_learning_process(
        task, algorithm, dataclasses.replace(settings, ckks=None))
    return homomorphic.HomomorphicProcess(
        process, settings.ckks,
        optimizers.build_optimizer(settings.server_optimizer))
  if isinstance(settings.model_aggregator, masked.MaskedSecureMean) and (
      settings.client_parallelism != 'vectorized'):
    raise ValueError('--secure_aggregation=masked runs in the vectorized '
                     'cohort, which gives each client its mask seeds: use '
                     '--client_parallelism=vectorized (or auto).')
  if settings.client_parallelism == 'sequential':
    return module.build_sequential(task, algorithm, settings)
  reason = cohort_unsupported_reason(task, algorithm)
  if reason:
    raise ValueError(f'client_parallelism=vectorized does not support this '
                     f'run: {reason} Use client_parallelism=sequential.')
  return vectorized_cohort.build_cohort_process(
      task, module.client_rule(algorithm),
      server_optimizer=optimizers.build_optimizer(settings.server_optimizer),
      batch_size=settings.client_batch_size,
      uniform_weighting=settings.client_weighting == 'uniform',
      model_aggregator=settings.weighted_model_aggregator(),
      mean_at_server=plain_mean.is_plain_mean(settings.model_aggregator),
      mixed_precision=settings.mixed_precision)


def cohort_unsupported_reason(task, algorithm) -> Optional[str]:
  """Why the cohort cannot run `algorithm` on `task`; None if it can."""
  module = registry.for_config(algorithm)
  try:
    module.client_rule(algorithm)
    cohort_model.build_forward(task.keras_model_fn())
    cohort_loss.per_client_loss(task.loss_fn())
    cohort_loss.CohortMetrics(task.metrics_fns)
  except ValueError as e:
    return str(e)
  return None


def resolve_client_parallelism(task, algorithm,
                               requested: str) -> tuple[str, Optional[str]]:
  """`requested` ('auto', 'sequential' or 'vectorized') made concrete.

  Returns the parallelism and, when 'auto' fell back to 'sequential', why.
  """
  check_choice('client parallelism', requested,
               ('auto',) + CLIENT_PARALLELISMS)
  if requested != 'auto':
    return requested, None
  reason = cohort_unsupported_reason(task, algorithm)
  return ('sequential', reason) if reason else ('vectorized', None)
