"""User-level differential privacy for model updates: TFF's DP aggregators.

Each client's whole update is clipped in L2 norm and Gaussian noise calibrated
to the clip is added to the sum, which is then divided by the cohort size
(`tff.aggregators.DifferentiallyPrivateFactory`, tensorflow-privacy queries):

* 'gaussian_fixed': a fixed clip (DP-FedAvg, McMahan et al. 2018).
* 'gaussian_adaptive': the clip tracks a quantile of update norms, estimated
  privately too (Andrew et al. 2021); `noise_multiplier` is the effective total.
* 'tree': DP-FTRL (Kairouz et al. 2021): the noise of round t is the tree
  aggregation noise of the cumulative sum, so with a server SGD optimizer the
  model is a privately noised prefix sum. Its privacy does not come from client
  sampling (see `accounting.py` for what it assumes).

These factories are unweighted: a clipped update must count once, so they need
uniform client weighting.
"""

from typing import Optional

import tensorflow_federated as tff
from tensorflow_federated.python.core.impl.types import type_conversions

MECHANISMS = ('gaussian_fixed', 'gaussian_adaptive', 'tree')
# tff.aggregators.DifferentiallyPrivateFactory.gaussian_adaptive's defaults.
DEFAULT_INITIAL_CLIP = 0.1
DEFAULT_TARGET_UNCLIPPED_QUANTILE = 0.5
DEFAULT_CLIP_LEARNING_RATE = 0.2


def dp_mean(
    mechanism: str,
    *,
    noise_multiplier: float,
    clients_per_round: int,
    clip: Optional[float] = None,
    target_unclipped_quantile: float = DEFAULT_TARGET_UNCLIPPED_QUANTILE,
    clip_learning_rate: float = DEFAULT_CLIP_LEARNING_RATE,
    noise_seed: Optional[int] = None,
) -> tff.aggregators.UnweightedAggregationFactory:
  """The clipped, noised mean of client updates for `mechanism`.

  Args:
    mechanism: one of `MECHANISMS`.
    noise_multiplier: noise stddev on the sum / clip norm.
    clients_per_round: the cohort size; the noised sum is divided by it.
    clip: the L2 clip ('gaussian_adaptive': initial clip, default 0.1).
    target_unclipped_quantile: 'gaussian_adaptive' only.
    clip_learning_rate: 'gaussian_adaptive' only.
    noise_seed: 'tree' only: seed of the tree's noise (None: random).
  """
  z, k = float(noise_multiplier), float(clients_per_round)
  if mechanism == 'gaussian_fixed':
    return tff.aggregators.DifferentiallyPrivateFactory.gaussian_fixed(
        noise_multiplier=z, clients_per_round=k, clip=float(clip))
  if mechanism == 'gaussian_adaptive':
    return tff.aggregators.DifferentiallyPrivateFactory.gaussian_adaptive(
        noise_multiplier=z, clients_per_round=k,
        initial_l2_norm_clip=float(clip or DEFAULT_INITIAL_CLIP),
        target_unclipped_quantile=float(target_unclipped_quantile),
        learning_rate=float(clip_learning_rate))
  if mechanism == 'tree':
    return TreeAggregationFactory(z, k, float(clip), noise_seed=noise_seed)
  raise ValueError(f'Unknown DP mechanism {mechanism!r}; valid: '
                   f'{", ".join(MECHANISMS)}.')


class TreeAggregationFactory(tff.aggregators.UnweightedAggregationFactory):
  """DP-FTRL's tree aggregation, built once the update's tensor specs are known.

  TFF's `DifferentiallyPrivateFactory.tree_aggregation` needs the record specs
  up front; the learning process only reveals them when it calls `create`.
  """

  def __init__(self, noise_multiplier: float, clients_per_round: float,
               clip: float, noise_seed: Optional[int] = None):
    self._args = dict(noise_multiplier=noise_multiplier,
                      clients_per_round=clients_per_round, l2_norm_clip=clip,
                      noise_seed=noise_seed)
    # Fails early (e.g. a negative clip) with TFF's own checks.
    tff.aggregators.DifferentiallyPrivateFactory.tree_aggregation(
        record_specs=[], **self._args)

  def create(self, value_type):
    specs = type_conversions.type_to_tf_tensor_specs(value_type)
    return tff.aggregators.DifferentiallyPrivateFactory.tree_aggregation(
        record_specs=specs, **self._args).create(value_type)
