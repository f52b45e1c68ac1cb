"""Robustness to broken clients: zeroing of enormous updates, adaptive clipping.

Zeroing replaces a client's update by zeros when its largest coordinate exceeds
an adaptive threshold, so one corrupt client cannot wreck the model; clipping
bounds every update's L2 norm near a high quantile of the cohort's norms. Both
are TFF's (`tff.aggregators.zeroing_factory`, `clipping_factory`, with norms
estimated by `PrivateQuantileEstimationProcess` without noise), with
`tff.learning.robust_aggregator`'s settings.

Non-finite updates are TFF's client work's job: every TFF learning algorithm
zeroes an update with a NaN or inf (and gives it weight 0) before aggregation.
The zeroing here does not catch NaN by itself (NaN > threshold is false); it
catches the finite but enormous updates the client work lets through.
"""

import math

import tensorflow_federated as tff

# The settings of tff.learning.robust_aggregator (model_update_aggregator.py):
# the zeroing threshold quickly adapts to a little above the largest values
# seen; the clip adapts relatively quickly to a moderately high norm.
_ZEROING = dict(initial_estimate=10.0, target_quantile=0.98,
                learning_rate=math.log(10.0), multiplier=2.0, increment=1.0)
_CLIPPING = dict(initial_estimate=1.0, target_quantile=0.8, learning_rate=0.2)


def robust_mean(*, weighted: bool) -> tff.aggregators.AggregationFactory:
  """TFF's robust mean: zeroing, then adaptive clipping, then the mean."""
  return tff.learning.robust_aggregator(zeroing=True, clipping=True,
                                        weighted=weighted)


def _secure_count():
  return tff.aggregators.SecureSumFactory(upper_bound_threshold=1,
                                          lower_bound_threshold=0)


def add_zeroing(inner: tff.aggregators.AggregationFactory, *,
                secure_estimation: bool = False):
  """Zeroes updates above an adaptive max-abs threshold before `inner`.

  With `secure_estimation`, the counts that adapt the threshold are summed
  securely too, as `tff.learning.ddp_secure_aggregator` does.
  """
  norm = tff.aggregators.PrivateQuantileEstimationProcess.no_noise(
      secure_estimation=secure_estimation, **_ZEROING)
  if secure_estimation:
    return tff.aggregators.zeroing_factory(
        norm, inner, zeroed_count_sum_factory=_secure_count())
  return tff.aggregators.zeroing_factory(norm, inner)


def add_clipping(inner: tff.aggregators.AggregationFactory, *,
                 secure_estimation: bool = False):
  """Clips updates to an adaptive L2 norm (a high quantile) before `inner`."""
  norm = tff.aggregators.PrivateQuantileEstimationProcess.no_noise(
      secure_estimation=secure_estimation, **_CLIPPING)
  if secure_estimation:
    return tff.aggregators.clipping_factory(
        norm, inner, clipped_count_sum_factory=_secure_count())
  return tff.aggregators.clipping_factory(norm, inner)


def add_robustness(inner: tff.aggregators.AggregationFactory, *,
                   secure_estimation: bool = False):
  """`tff.learning.robust_aggregator`'s zeroing and clipping around `inner`.

  For inner means TFF's builder cannot take (e.g. a compressed mean).
  """
  return add_zeroing(
      add_clipping(inner, secure_estimation=secure_estimation),
      secure_estimation=secure_estimation)
