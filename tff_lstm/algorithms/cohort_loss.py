"""The task's own loss and metrics, evaluated for a stack of clients at once.

The vectorized cohort pads each client's short last batch to the batch size so
that every client's batch stacks into one [K, B, ...] tensor. The padded rows
must not count: a client's loss is the task's loss over its real rows only,
and the metrics are the task's Keras metrics over every real row of the round,
exactly as TFF's sequential path reports them (it sums each client's metric
state and finalizes once, so one metric state over all real rows is the same
sum).

A Keras loss is a mean of per-element values with per-element weights. Keras'
own wrapped losses (`tf.keras.losses.MeanSquaredError`, ...) weigh every
element 1; a task loss with its own mask (the masked cross-entropy of the
language models) says so with a `weighted_terms(y_true, y_pred)` method. A loss
that is neither cannot be split into per-row terms, and the cohort refuses it
with its name instead of computing a different loss.
"""

import collections
from collections.abc import Callable, Sequence

from keras.src.losses import LossFunctionWrapper
import tensorflow as tf
import tensorflow_federated as tff

# Keras' mean over all elements of the batch; any other reduction would have
# the sequential path report another quantity than the cohort computes.
_MEAN_REDUCTIONS = (tf.keras.losses.Reduction.AUTO,
                    tf.keras.losses.Reduction.SUM_OVER_BATCH_SIZE)

PerClientLoss = Callable[[tf.Tensor, tf.Tensor, tf.Tensor], tf.Tensor]


def _weighted_terms_fn(loss: tf.keras.losses.Loss):
  """(y_true, y_pred) -> (values, weights) whose weighted mean is `loss`."""
  if hasattr(loss, 'weighted_terms'):
    return loss.weighted_terms
  if (isinstance(loss, LossFunctionWrapper)
      and loss.reduction in _MEAN_REDUCTIONS):
    def terms(y_true, y_pred):
      kwargs = loss._fn_kwargs  # pylint: disable=protected-access
      values = loss.fn(y_true, y_pred, **kwargs)
      return values, tf.ones_like(values)
    return terms
  raise ValueError(
      f'The vectorized cohort cannot split the loss {type(loss).__name__!r} '
      'into per-example terms (it needs a Keras loss function wrapper with '
      'mean reduction, or a loss with a weighted_terms method); use '
      '--client_parallelism=sequential.')


def per_client_loss(loss: tf.keras.losses.Loss) -> PerClientLoss:
  """`fn(y [K,B,...], pred [K,B,...], real_rows [K,B] bool) -> loss [K]`.

  Each client's entry is the task loss over that client's real rows: what
  TFF computes on the client's unpadded batch.
  """
  terms = _weighted_terms_fn(loss)

  def fn(y_true, y_pred, real_rows):
    num_clients, rows = tf.shape(y_true)[0], tf.shape(y_true)[1]
    flat = lambda t: tf.reshape(t, tf.concat([[-1], tf.shape(t)[2:]], 0))
    values, weights = terms(flat(y_true), flat(y_pred))
    real = tf.reshape(tf.cast(real_rows, values.dtype), [-1])
    weights = weights * tf.reshape(
        real, tf.concat([[-1], tf.ones([tf.rank(weights) - 1], tf.int32)], 0))
    per_row = lambda t: tf.reshape(t, [num_clients, rows, -1])
    return tf.math.divide_no_nan(
        tf.reduce_sum(per_row(values * weights), [1, 2]),
        tf.reduce_sum(per_row(weights), [1, 2]))

  return fn


class CohortMetrics:
  """The task's Keras metrics as pure functions of an explicit state.

  TFF's `create_functional_metric_fns` turns each Keras metric into
  (initialize, update, finalize) over the metric's variables as tensors; the
  cohort carries that state through its training loop.
  """

  def __init__(self,
               metrics_fns: Sequence[Callable[[], tf.keras.metrics.Metric]]):
    constructors = collections.OrderedDict()
    for make in metrics_fns:
      name = make().name
      if name in ('loss', 'num_examples', 'num_batches'):
        raise ValueError(f'Task metric name {name!r} is reserved by TFF.')
      constructors[name] = make
    self.names = tuple(constructors)
    if constructors:
      initialize, update, finalize = (
          tff.learning.metrics.create_functional_metric_fns(constructors))
      # Called inline rather than as tf.functions: a function call per local
      # step costs more than the metric itself.
      self._initialize, self._update, self._finalize = (
          initialize, update.python_function, finalize)
    else:
      self._initialize, self._update = (lambda: ()), None
      self._finalize = lambda state: collections.OrderedDict()

  def initial_state(self):
    return self._initialize()

  def update(self, state, y_true, y_pred, real_rows):
    """Adds the real rows of a [K, B, ...] step to `state`."""
    if not self.names:
      return state
    flat = lambda t: tf.reshape(t, tf.concat([[-1], tf.shape(t)[2:]], 0))
    keep = tf.reshape(real_rows, [-1])
    y_true, y_pred = flat(y_true), flat(y_pred)
    # Most steps have no padding: copy out the real rows only when needed.
    y_true, y_pred = tf.cond(
        tf.reduce_all(keep), lambda: (y_true, y_pred),
        lambda: (tf.boolean_mask(y_true, keep), tf.boolean_mask(y_pred, keep)))
    return self._update(state, y_true,
                        tff.learning.models.BatchOutput(predictions=y_pred))

  def finalize(self, state) -> collections.OrderedDict:
    return collections.OrderedDict(
        (name, tf.cast(value, tf.float32))
        for name, value in self._finalize(state).items())
