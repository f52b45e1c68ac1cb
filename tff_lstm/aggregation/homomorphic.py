"""Homomorphically encrypted FedAvg: the server sums CKKS ciphertexts.

TenSEAL is C++ behind Python, not TF ops, so encryption cannot run inside a
TFF computation on the workers. The round is therefore cut in two around the
aggregation:

1. The learning process (either path: TFF's sequential round or the
   vectorized cohort; any algorithm whose server step is TFF's
   apply-optimizer finalizer) runs with `ClientUpdatesFactory` as its model
   aggregator. That aggregator computes nothing: it hands each client's
   weighted update, flattened and followed by its weight, out of the round.
2. `HomomorphicProcess.next` plays the roles on that output. Each client
   encrypts its own row under the public context (`ckks.ClientEncryptor`);
   the server (`ckks.CiphertextSum`), given only those ciphertexts and the
   public context, adds them; the key holder (`ckks.KeyHolder`) decrypts the
   sum, divides by the summed weight (MeanFactory's weighted mean: with
   uniform weighting every weight is 1), and the mean is applied by the same
   server optimizer (TFF's finalizer) to the state the round started from.

Phase 1 also ran its finalizer, on a zero update; its result is discarded,
so stateful server optimizers (Adam, momentum) step once, on the real mean.
The weights travel encrypted too (the last slot), so the server learns
neither the updates nor how many examples each client had.

What simulation does not protect: this one Python process plays every role,
and phase 1 of the vectorized cohort trains all clients in one computation;
see docs/homomorphic_encryption.md.
"""

import collections
import time

import numpy as np
import tensorflow as tf
import tensorflow_federated as tff

from tff_lstm.runtime import federated_concat
from tff_lstm.aggregation import ckks

# Algorithms whose server step is the apply-optimizer finalizer on the mean
# model update, and whose clients send nothing else to the server.
SUPPORTED_ALGORITHMS = ('fedavg', 'fedprox', 'fedsgd')


def check_algorithm(name: str) -> None:
  """Refuses an algorithm the encrypted round cannot carry, naming the flag."""
  if name not in SUPPORTED_ALGORITHMS:
    raise ValueError(
        f'--homomorphic_encryption=ckks encrypts the model update only; '
        f'--algorithm={name} sends the server more (control variates, full '
        'gradients) or steps the server another way. Supported: '
        f'{", ".join(SUPPORTED_ALGORITHMS)}.')


def _flat_length(value_type) -> int:
  return sum(int(np.prod(s.shape)) for s in tf.nest.flatten(
      tff.types.type_to_tf_tensor_specs(value_type)))


def encrypted_sum(rows, num_clients: int, key_holder: ckks.KeyHolder,
                  encryptor: ckks.ClientEncryptor, server: ckks.CiphertextSum):
  """Plays the roles on the clients' plaintext rows (an iterable, so a caller
  can make each row when its client's turn comes).

  Each client encrypts its row and sends the bytes; the server adds them as
  they arrive; the key holder decrypts the sum. Returns the decrypted sum and
  the measurements (mean per client, totals at the server).
  """
  params = encryptor.params
  # Each client may use an equal share of the headroom of the sum.
  bound = 2.0**params.headroom_bits / max(num_clients, 1)
  client_seconds, client_bytes, length = [], [], None
  for row in rows:
    length = np.size(row)
    start = time.perf_counter()
    ciphertexts = encryptor.encrypt(row, bound)
    client_seconds.append(time.perf_counter() - start)
    client_bytes.append(sum(len(c) for c in ciphertexts))
    server.add(ciphertexts)   # only bytes cross to the server
  start = time.perf_counter()
  encrypted = server.result()
  server_seconds = server.seconds + time.perf_counter() - start
  start = time.perf_counter()
  total = key_holder.decrypt(encrypted, length)
  decrypt_seconds = time.perf_counter() - start
  measurements = collections.OrderedDict(
      ckks_clients=len(client_seconds),
      ckks_ciphertexts_per_client=ckks.num_ciphertexts(length, params),
      ckks_client_bytes_sent=float(np.mean(client_bytes)),
      ckks_client_seconds=float(np.mean(client_seconds)),
      ckks_server_bytes_received=server.bytes_received,
      ckks_server_seconds=server_seconds,
      ckks_decrypt_seconds=decrypt_seconds)
  return total, measurements


class ClientUpdatesFactory(tff.aggregators.WeightedAggregationFactory):
  """Hands every client's [weight * update, weight] out of the round.

  Its result is a zero update (the real one is made from ciphertexts outside
  TFF) and its measurements are the clients' rows, [clients, length + 1],
  which `HomomorphicProcess` takes out of the metrics before anyone records
  them.
  """

  def create(self, value_type, weight_type) -> tff.templates.AggregationProcess:
    specs = tff.types.type_to_tf_tensor_specs(value_type)

    @tff.tensorflow.computation(value_type, weight_type)
    def weighted_row(value, weight):
      w = tf.cast(weight, tf.float32)
      parts = [tf.reshape(tf.cast(v, tf.float32), [-1]) * w
               for v in tf.nest.flatten(value)]
      return tf.concat(parts + [w[tf.newaxis]], axis=0)[tf.newaxis]

    @tff.tensorflow.computation
    def zero_update():
      return tf.nest.map_structure(lambda s: tf.zeros(s.shape, s.dtype), specs)

    @tff.federated_computation
    def initialize():
      return tff.federated_value((), tff.SERVER)

    @tff.federated_computation(initialize.type_signature.result,
                               tff.FederatedType(value_type, tff.CLIENTS),
                               tff.FederatedType(weight_type, tff.CLIENTS))
    def next_fn(state, value, weight):
      rows = federated_concat.federated_concat(
          tff.federated_map(weighted_row, (value, weight)))
      return tff.templates.MeasuredProcessOutput(
          state, tff.federated_eval(zero_update, tff.SERVER), rows)

    return tff.templates.AggregationProcess(initialize, next_fn)


class HomomorphicProcess:
  """A learning process whose model updates are summed under CKKS.

  Built around a process made with `ClientUpdatesFactory` as its model
  aggregator; offers what the training loop uses of a LearningProcess
  (`initialize`, `next`, the model weights accessors), and exposes the inner
  process as `client_process` so `client_id_inputs.compose` can make it take
  client ids.
  """

  def __init__(self, process, params: ckks.CkksParameters, server_optimizer,
               key_holder: ckks.KeyHolder = None, server_factory=None):
    if getattr(process, 'client_state_specs', None) is not None:
      raise ValueError('--homomorphic_encryption=ckks cannot carry clients '
                       'that keep state (their reports reach the server in '
                       'the clear).')
    self.client_process = process
    self.params = params
    self.key_holder = key_holder or ckks.KeyHolder(params)
    self._public = self.key_holder.public_context()
    self._encryptor = ckks.ClientEncryptor(self._public, params)
    self.server_factory = server_factory or ckks.CiphertextSum
    self._server_optimizer = server_optimizer
    self.initialize = process.initialize
    self.get_model_weights = process.get_model_weights
    self.set_model_weights = process.set_model_weights
    self.client_state_specs = None

    weights_type = process.get_model_weights.type_signature.result
    self._trainable_specs = tf.nest.flatten(
        tff.types.type_to_tf_tensor_specs(weights_type.trainable))
    self._length = _flat_length(weights_type.trainable)
    finalizer = tff.learning.templates.build_apply_optimizer_finalizer(
        server_optimizer, weights_type)
    state_type = process.initialize.type_signature.result.member
    expected = finalizer.initialize.type_signature.result.member
    if not state_type.finalizer.is_equivalent_to(expected):
      raise ValueError('--homomorphic_encryption=ckks needs a process whose '
                       'server step is TFF\'s apply-optimizer finalizer.')

    @tff.federated_computation(
        tff.FederatedType(state_type.finalizer, tff.SERVER),
        tff.FederatedType(weights_type, tff.SERVER),
        tff.FederatedType(weights_type.trainable, tff.SERVER))
    def apply_update(finalizer_state, model_weights, update):
      out = finalizer.next(finalizer_state, model_weights, update)
      return out.state, out.result, out.measurements

    self._apply_update = apply_update

  def with_client_process(self, process) -> 'HomomorphicProcess':
    """The same keys and roles around another (e.g. composed) inner process."""
    return HomomorphicProcess(process, self.params, self._server_optimizer,
                              key_holder=self.key_holder,
                              server_factory=self.server_factory)

  def encrypted_mean(self, rows: np.ndarray):
    """The clients' rows through encryption, the server's sum and decryption.

    Returns the weighted mean update (flat) and the round's measurements.
    """
    rows = np.asarray(rows)
    total, measurements = encrypted_sum(
        rows, len(rows), self.key_holder, self._encryptor,
        self.server_factory(self._public))
    weight = total[-1]
    mean = total[:-1] / weight if weight > 0 else np.zeros(self._length)
    return mean, measurements

  def _unflatten(self, flat):
    parts, start = [], 0
    for spec in self._trainable_specs:
      size = int(np.prod(spec.shape))
      parts.append(np.reshape(flat[start:start + size],
                              spec.shape).astype(spec.dtype.as_numpy_dtype))
      start += size
    return parts

  def next(self, state, clients):
    output = self.client_process.next(state, clients)
    metrics = collections.OrderedDict(output.metrics)
    rows = metrics.pop('aggregator')
    mean, metrics['aggregator'] = self.encrypted_mean(rows)
    finalizer_state, model_weights, metrics['finalizer'] = self._apply_update(
        state.finalizer, state.global_model_weights, self._unflatten(mean))
    new = output.state
    new_state = tff.learning.templates.LearningAlgorithmState(
        global_model_weights=model_weights, distributor=new.distributor,
        client_work=new.client_work, aggregator=new.aggregator,
        finalizer=finalizer_state)
    return tff.learning.templates.LearningProcessOutput(new_state, metrics)
