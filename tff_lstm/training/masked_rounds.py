"""Runs masked secure aggregation's key rounds before each TFF round.

The loop's selection hands a round its clients; for a process with masked
SecAgg (`process.secagg`), this wrapper runs the protocol's key exchange
among them (`secagg_protocol`, seeded by the run's --seed and the round),
leaves out the clients that drop after it, gives each survivor its mask seeds
as the last part of its input, and puts the server's unmasking rows in the
aggregator state the TFF round reads (with distributed DP, also the round's
rotation seed, drawn from the same seed). The round's metrics gain the
protocol's counts and traffic.
"""

import collections
import dataclasses
from typing import Any

import tensorflow_federated as tff

from tff_lstm.aggregation import masked

# Separate the protocol's generators from the run's others of a round.
_PROTOCOL_STREAM = 25
_ROTATION_STREAM = 26  # distributed DP's random rotation (public)


@dataclasses.dataclass(frozen=True)
class Round:
  """One round's clients as `client_id_inputs.round_inputs` gives them."""
  round_num: int
  clients: list[Any]


class MaskedRoundsProcess:
  """`process` (a composed process with `secagg` set), fed by `Round`s."""

  def __init__(self, process, seed: int):
    self._process = process
    self._settings = process.secagg
    self._seed = int(seed)
    self.initialize = process.initialize
    self.get_model_weights = process.get_model_weights
    self.set_model_weights = process.set_model_weights

  def next(self, state, data: Round):
    keys = self._settings.key_rounds(
        len(data.clients), seed=[self._seed, data.round_num, _PROTOCOL_STREAM])
    inputs = []
    for position, (client, seeds, signs) in enumerate(zip(
        [data.clients[i] for i in keys.survivors], keys.client_seeds,
        keys.client_signs)):
      inputs.append((position, *client[1:], (seeds, signs)))
    rotation = (masked.rotation_seed(
        [self._seed, data.round_num, _ROTATION_STREAM])
                if self._settings.distributed_dp is not None else None)
    state = state._replace(aggregator=self._settings.state_for(keys,
                                                               rotation))
    output = self._process.next(state, inputs)
    metrics = dict(output.metrics)
    aggregator = dict(metrics.get('aggregator') or {})
    survivors = keys.survivors
    aggregator['secagg_dropped'] = len(keys.dropped)
    aggregator['secagg_client_key_bytes_sent'] = sum(
        keys.clients[i].traffic.bytes_sent for i in survivors) / len(survivors)
    aggregator['secagg_server_key_bytes_received'] = (
        keys.server.traffic.bytes_received)
    metrics['aggregator'] = collections.OrderedDict(sorted(aggregator.items()))
    return tff.learning.templates.LearningProcessOutput(output.state, metrics)
