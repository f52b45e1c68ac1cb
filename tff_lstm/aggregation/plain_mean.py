"""TFF's mean over plain sums, marked so a batched round may take it in one op.

The vectorized cohort trains every client of a round in one computation at the
server, so it already holds all their updates stacked. Any other aggregator
needs those updates placed at the clients (DP clips and noises each one, the
secure sum quantizes each one, the trimmed mean sorts them), which costs a
broadcast of the whole stack and a slice per client. The plain weighted mean
does not: sum(w_i * u_i) / sum(w_i) is the same number computed where the
stack already is. These factories are TFF's own, unchanged; the subclasses
only let `is_plain_mean` tell them from a mean built on other sums (such as a
secure one), which must keep its per-client path.
"""

import tensorflow_federated as tff


class PlainMeanFactory(tff.aggregators.MeanFactory):
  """`tff.aggregators.MeanFactory()`: a weighted mean over plain sums."""

  def __init__(self):
    super().__init__()


class PlainUnweightedMeanFactory(tff.aggregators.UnweightedMeanFactory):
  """`tff.aggregators.UnweightedMeanFactory()` over a plain sum."""

  def __init__(self):
    super().__init__()


def plain_mean(weighted: bool) -> tff.aggregators.AggregationFactory:
  """The default model aggregator: TFF's weighted or unweighted mean."""
  return PlainMeanFactory() if weighted else PlainUnweightedMeanFactory()


def is_plain_mean(factory) -> bool:
  """Whether `factory` is the plain mean (None counts: TFF's default)."""
  return factory is None or isinstance(
      factory, (PlainMeanFactory, PlainUnweightedMeanFactory))
