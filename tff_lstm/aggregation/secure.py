"""Secure aggregation: the server learns only the sum of the cohort's updates.

Updates are clipped to a known range and quantized to integers, summed with
TFF's `federated_secure_sum_bitwidth` (Bonawitz et al. 2017 in a deployment),
and mapped back on the server (`tff.learning.secure_aggregator`). With DP this
becomes distributed DP (`DistributedDpSumFactory`, the mechanism of
`tff.learning.ddp_secure_aggregator`): each client adds its share of discrete
(Skellam) noise after a random rotation, so even the sum the server decodes is
noised, and the server never needs to be trusted with noiseless data.

What simulation does and does not show: TFF's local runtime has no secure-sum
protocol, so `runtime.simulation_compiler` lowers secure sums to plain
sums of the very same clipped, quantized integers (TFF's test lowering). Results, quantization
error and clipping counts are those of the protocol; nothing is hidden from
anyone in simulation, there are no dropouts and no cryptography. Secure
aggregation hides individual updates, not the sum (nor the model it trains):
protecting what the sum reveals is DP's job. See docs/privacy.md.
"""

import tensorflow_federated as tff
from tensorflow_federated.python.aggregators import distributed_dp

from tff_lstm import runtime
from tff_lstm.aggregation import dp


class _CallDominantFactory(tff.aggregators.UnweightedAggregationFactory):
  """`inner`'s aggregation processes, flattened (see `runtime.call_dominant`)."""

  def __init__(self, inner: tff.aggregators.UnweightedAggregationFactory):
    self._inner = inner

  def create(self, value_type):
    process = self._inner.create(value_type)
    return tff.templates.AggregationProcess(
        runtime.call_dominant(process.initialize),
        runtime.call_dominant(process.next))


def secure_mean(*, weighted: bool,
                robust: bool = True) -> tff.aggregators.AggregationFactory:
  """TFF's secure mean; `robust` adds its zeroing and clipping (secure too)."""
  return tff.learning.secure_aggregator(zeroing=robust, clipping=robust,
                                        weighted=weighted)


def distributed_dp_mean(
    *,
    noise_multiplier: float,
    clients_per_round: int,
    bits: int,
    adaptive: bool,
    clip: float = dp.DEFAULT_INITIAL_CLIP,
    target_unclipped_quantile: float = dp.DEFAULT_TARGET_UNCLIPPED_QUANTILE,
    clip_learning_rate: float = dp.DEFAULT_CLIP_LEARNING_RATE,
) -> tff.aggregators.UnweightedAggregationFactory:
  """Distributed DP: clip, rotate, quantize, add Skellam noise, secure sum.

  `tff.learning.ddp_secure_aggregator` composed the same way, but with our clip
  settings (it fixes an adaptive clip starting at 0.1); its zeroing is added by
  the caller.

  Args:
    noise_multiplier: central noise stddev / (initial) clip; each client adds
      its 1/clients_per_round share of the variance.
    clients_per_round: the cohort size.
    bits: SecAgg field bit-width (1..22, >= log2(clients_per_round)).
    adaptive: adapt the clip to a quantile of update norms (Andrew et al.).
    clip: the L2 clip (adaptive: its initial value).
    target_unclipped_quantile: adaptive only.
    clip_learning_rate: adaptive only.
  """
  value_sum = distributed_dp.DistributedDpSumFactory(
      noise_multiplier=float(noise_multiplier),
      expected_clients_per_round=int(clients_per_round),
      bits=int(bits),
      l2_clip=float(clip),
      mechanism='distributed_skellam',
      rotation_type='hd',
      auto_l2_clip=adaptive,
      auto_l2_target_quantile=float(target_unclipped_quantile),
      auto_l2_lr=float(clip_learning_rate))
  return _CallDominantFactory(tff.aggregators.UnweightedMeanFactory(
      value_sum_factory=value_sum,
      count_sum_factory=tff.aggregators.SecureSumFactory(
          upper_bound_threshold=1, lower_bound_threshold=0)))
