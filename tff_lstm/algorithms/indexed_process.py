"""The process type that says each client's input is (position, data[, state]).

The vectorized cohort needs each client's position in the round to hand it its
slice of the stacked updates, and an algorithm that keeps state per client
needs the client's state in and its new state back (with its position, since
TFF does not keep clients in order). The loop must build such inputs itself,
so it must know: the type says so, never the shape of the input (another
algorithm's clients may well take pairs of their own).
"""

from typing import Optional

import tensorflow as tf
import tensorflow_federated as tff

# Where such a process reports the round's new client states:
# metrics['client_work'][CLIENT_STATES_KEY] = (positions [K], states [K, ...]).
CLIENT_STATES_KEY = 'client_states'


class IndexedClientsProcess(tff.learning.templates.LearningProcess):
  """A LearningProcess whose client data are (position in the round, data),
  or (position, data, client state) when `client_state_specs` is set."""

  def __init__(self, *args,
               client_state_specs: Optional[list[tf.TensorSpec]] = None,
               secagg=None, **kwargs):
    super().__init__(*args, **kwargs)
    self.client_state_specs = client_state_specs
    # Masked secure aggregation's settings (aggregation/masked.py), when its
    # clients' inputs end with their mask seeds; None otherwise.
    self.secagg = secagg

  @classmethod
  def wrapping(cls, process: tff.learning.templates.LearningProcess,
               client_state_specs=None,
               next_fn=None) -> 'IndexedClientsProcess':
    """`process` (with `next_fn` instead of its own, if given) as this type."""
    return cls(process.initialize, next_fn or process.next,
               process.get_model_weights, process.set_model_weights,
               get_hparams_fn=process.get_hparams,
               set_hparams_fn=process.set_hparams,
               client_state_specs=client_state_specs,
               secagg=getattr(process, 'secagg', None))

  @classmethod
  def over_algorithm_state(cls, initialize, next_fn, weights_type,
                           client_state_specs=None,
                           secagg=None) -> 'IndexedClientsProcess':
    """A process whose state is a `LearningAlgorithmState`, with the model
    weights accessors TFF's composed processes have."""
    state_type = initialize.type_signature.result.member

    @tff.tensorflow.computation(state_type)
    def get_model_weights(state):
      return state.global_model_weights

    @tff.tensorflow.computation(state_type, weights_type)
    def set_model_weights(state, weights):
      return tff.learning.templates.LearningAlgorithmState(
          global_model_weights=weights, distributor=state.distributor,
          client_work=state.client_work, aggregator=state.aggregator,
          finalizer=state.finalizer)

    return cls(initialize, next_fn, get_model_weights, set_model_weights,
               client_state_specs=client_state_specs, secagg=secagg)
