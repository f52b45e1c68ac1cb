"""The vectorized cohort computes the sequential TFF round, batched."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_federated as tff

from tff_lstm.aggregation import compression
from tff_lstm.aggregation import config as aggregation_config
from tff_lstm.algorithms import client_update
from tff_lstm.algorithms import fedavg
from tff_lstm.algorithms import fedprox
from tff_lstm.algorithms import fedsgd
from tff_lstm.algorithms import learning_process
from tff_lstm.algorithms import optimizers
from tff_lstm.algorithms import vectorized_cohort
from tff_lstm.tasks import model_config
from tff_lstm.tasks import shakespeare_char

_BATCH = 4


def _task(client_data, cell_type='lstm'):
  spec = tff.simulation.baselines.ClientSpec(
      num_epochs=1, batch_size=_BATCH, max_elements=None,
      shuffle_buffer_size=1)  # no shuffling: both paths see the same batches
  return shakespeare_char.create_task(
      spec, sequence_length=12, client_data=client_data,
      model_config=model_config.ModelConfig(cell_type=cell_type, units=8,
                                            num_layers=2, seed=5))


def _cohort(task, sizes):
  """Real clients holding the given numbers of lines (unequal batch counts)."""
  train = task.datasets.train_data
  datasets = []
  for size, cid in zip(sizes, sorted(train.client_ids)):
    ds = task.datasets.train_preprocess_fn(train.create_tf_dataset_for_client(
        cid).take(size))
    datasets.append(ds)
  return datasets


_SGD = optimizers.OptimizerConfig(learning_rate=0.5)


def _process(task, parallelism, algorithm=None, **kwargs):
  return learning_process.build_learning_process(
      task, algorithm or fedavg.Config(_SGD), client_parallelism=parallelism,
      client_batch_size=_BATCH, **kwargs)


def _run(process, rounds, data, indexed):
  state = process.initialize()
  metrics = []
  for _ in range(rounds):
    out = process.next(
        state, vectorized_cohort.indexed_client_data(data) if indexed else data)
    state = out.state
    metrics.append(out.metrics)
  return process.get_model_weights(state).trainable, metrics


def _assert_same_rounds(check, task, data, rounds=3, algorithm=None,
                        **kwargs):
  return check(task, data, algorithm or fedavg.Config(_SGD), _BATCH,
               rounds=rounds, **kwargs)


def test_same_global_model_as_sequential_over_rounds(
    assert_cohort_matches_sequential, macbeth_client_data):
  task = _task(macbeth_client_data)
  data = _cohort(task, [9, 1, 13, 0, 2, 6])  # one client without data
  rows = [[int(x.shape[0]) for x, _ in ds] for ds in data]
  assert len({len(r) for r in rows}) > 3              # unequal step counts
  assert any(r[-1] < _BATCH for r in rows)            # short last batches
  initial = task.model_fn().trainable_variables
  weights, metrics = _assert_same_rounds(
      assert_cohort_matches_sequential, task, data,
      server_optimizer=optimizers.OptimizerConfig(name='adam',
                                                  learning_rate=0.05))
  assert metrics[0]['client_work/train/num_examples'] == sum(
      map(sum, rows))
  assert any(not np.allclose(w, v) for w, v in zip(weights, initial))


_ALGORITHMS = {
    'fedavg': fedavg.Config(_SGD),
    'client_momentum': fedavg.Config(optimizers.OptimizerConfig(
        'sgdm', learning_rate=0.3, momentum=0.9)),
    'client_adam': fedavg.Config(optimizers.OptimizerConfig(
        'adam', learning_rate=0.01)),
    'fedprox': fedprox.Config(_SGD, mu=0.5),
    'fedsgd': fedsgd.Config(),
}


_CELLS = ('lstm', 'keras_lstm', 'gru', 'simple_rnn')


# Every cell under FedAvg, every algorithm on the fused LSTM: the cohort's
# forward pass depends on the cell only and its client rule on the algorithm
# only, so the full product would repeat these.
@pytest.mark.parametrize('algorithm, cell_type', [
    *[('fedavg', cell) for cell in _CELLS],
    ('fedprox', 'lstm'), ('fedsgd', 'lstm'), ('fedsgd', 'simple_rnn'),
    ('client_momentum', 'lstm'), ('client_adam', 'lstm'),
    ('client_momentum', 'simple_rnn'),
])
def test_every_algorithm_and_cell_matches_sequential(
    assert_cohort_matches_sequential, macbeth_client_data, algorithm,
    cell_type):
  """New global model and every metric equal TFF's sequential path's over
  two rounds of unequal clients (one without data, short last batches)."""
  task = _task(macbeth_client_data, cell_type=cell_type)
  data = _cohort(task, [9, 1, 13, 0, 2, 6])
  initial = task.model_fn().trainable_variables
  weights, _ = _assert_same_rounds(
      assert_cohort_matches_sequential, task, data, rounds=2,
      algorithm=_ALGORITHMS[algorithm],
      server_optimizer=optimizers.OptimizerConfig(name='adam',
                                                  learning_rate=0.05))
  assert any(not np.allclose(w, v) for w, v in zip(weights, initial))


def test_uniform_weighting_matches_sequential(assert_cohort_matches_sequential,
                                              macbeth_client_data):
  task = _task(macbeth_client_data)
  _assert_same_rounds(assert_cohort_matches_sequential, task,
                      _cohort(task, [2, 11, 5]), rounds=2,
                      client_weighting='uniform')


@pytest.mark.parametrize('config', [
    aggregation_config.AggregationConfig(secure_aggregation=True,
                                         robust=True),
    aggregation_config.AggregationConfig(
        dp_mechanism='gaussian_fixed', dp_noise_multiplier=0.0, dp_clip=0.05),
], ids=['secure', 'dp_clip_only'])
def test_composes_with_deterministic_aggregators(
    assert_cohort_matches_sequential, macbeth_client_data, config):
  task = _task(macbeth_client_data)
  weighting = 'uniform' if config.dp_enabled else 'num_examples'
  aggregator = aggregation_config.build_aggregator(config, 3, weighting)
  _assert_same_rounds(assert_cohort_matches_sequential, task,
                      _cohort(task, [3, 8, 5]), rounds=2,
                      client_weighting=weighting, model_aggregator=aggregator,
                      atol=1e-4, rtol=1e-4)


def test_composes_with_compression(federated_runtime, macbeth_client_data):
  task = _task(macbeth_client_data)
  config = aggregation_config.AggregationConfig(compression_bits=8,
                                                compression_threshold=100)
  process = _process(task, 'vectorized', model_aggregator=(
      aggregation_config.build_aggregator(config, 3)))
  weights, metrics = _run(process, 1, _cohort(task, [3, 8, 5]), indexed=True)
  assert all(np.isfinite(w).all() for w in weights)
  sent = compression.find_bytes_metrics(metrics[0]['aggregator'])
  # 8 of every 28 packed bits for the quantized tensors: ~3x fewer bytes.
  assert 0 < sent['client_to_server_bytes'] < sent['uncompressed_bytes'] / 2


def test_dp_noise_reaches_the_vectorized_model(federated_runtime,
                                               macbeth_client_data):
  task = _task(macbeth_client_data)
  data = _cohort(task, [3, 8, 5])

  def one_round(noise_multiplier):
    aggregator = aggregation_config.build_aggregator(
        aggregation_config.AggregationConfig(
            dp_mechanism='gaussian_fixed', dp_noise_multiplier=noise_multiplier,
            dp_clip=0.05), 3, 'uniform')
    return _run(_process(task, 'vectorized', client_weighting='uniform',
                         model_aggregator=aggregator), 1, data, indexed=True)[0]

  clipped, noisy = one_round(0.0), one_round(1.0)
  diff = np.concatenate([(n - c).ravel() for n, c in zip(noisy, clipped)])
  # Mean of 3 clipped updates plus N(0, (1.0 * 0.05 / 3)^2) per coordinate.
  assert 0.5 * 0.05 / 3 < diff.std() < 2 * 0.05 / 3


def test_unsupported_settings_name_the_problem(macbeth_client_data):
  task = _task(macbeth_client_data)
  with pytest.raises(ValueError, match='client_lr_schedule=exp_decay'):
    _process(task, 'vectorized', fedavg.Config(client_lr_schedule='exp_decay'))
  with pytest.raises(ValueError, match='batch size'):
    learning_process.build_learning_process(task,
                                            client_parallelism='vectorized')


@pytest.mark.parametrize('cell_type, algorithm, expected', [
    ('lstm', fedavg.Config(), 'vectorized'),
    ('keras_lstm', fedavg.Config(), 'vectorized'),
    ('gru', fedavg.Config(), 'vectorized'),
    ('simple_rnn', fedsgd.Config(), 'vectorized'),
    ('lstm', fedprox.Config(mu=0.1), 'vectorized'),
    ('lstm', fedavg.Config(client_lr_schedule='linear_warmup'), 'sequential'),
])
def test_auto_picks_vectorized_where_it_applies(macbeth_client_data, cell_type,
                                                algorithm, expected):
  task = _task(macbeth_client_data, cell_type=cell_type)
  parallelism, reason = learning_process.resolve_client_parallelism(
      task, algorithm, 'auto')
  assert parallelism == expected
  assert (reason is None) == (expected == 'vectorized')


def test_a_loss_the_cohort_cannot_split_falls_back_naming_it(
    macbeth_client_data):
  class OpaqueLoss(tf.keras.losses.Loss):
    def call(self, y_true, y_pred):
      return tf.reduce_mean(y_pred)

  task = dataclasses.replace(_task(macbeth_client_data), loss_fn=OpaqueLoss)
  parallelism, reason = learning_process.resolve_client_parallelism(
      task, fedavg.Config(), 'auto')
  assert parallelism == 'sequential' and "'OpaqueLoss'" in reason
  with pytest.raises(ValueError, match="'OpaqueLoss'"):
    _process(task, 'vectorized')


def test_bf16_mixed_precision_stays_close_to_float32(federated_runtime,
                                                     macbeth_client_data):
  task = _task(macbeth_client_data)
  data = _cohort(task, [3, 8, 5])
  full, full_metrics = _run(_process(task, 'vectorized'), 1, data, True)
  half, half_metrics = _run(_process(task, 'vectorized', mixed_precision=True),
                            1, data, True)
  gap = max(float(np.abs(f - h).max()) for f, h in zip(full, half))
  assert 0 < gap < 0.05        # computed in bfloat16, yet the same training
  assert all(h.dtype == np.float32 for h in half)
  np.testing.assert_allclose(half_metrics[0]['client_work']['train']['loss'],
                             full_metrics[0]['client_work']['train']['loss'],
                             rtol=0.02)


def test_bf16_needs_the_vectorized_path(macbeth_client_data):
  with pytest.raises(ValueError, match='vectorized only'):
    _process(_task(macbeth_client_data), 'sequential', mixed_precision=True)


def test_groups_of_clients_give_the_same_model(federated_runtime,
                                               macbeth_client_data):
  task = _task(macbeth_client_data)
  data = vectorized_cohort.indexed_client_data(_cohort(task, [9, 1, 13, 2, 6]))

  def one_round(group):
    process = vectorized_cohort.build_cohort_process(
        task, client_update.LocalTraining(
            tff.learning.optimizers.build_sgdm(0.5)),
        server_optimizer=tff.learning.optimizers.build_sgdm(1.0),
        batch_size=_BATCH, clients_per_group=group)
    out = process.next(process.initialize(), data)
    return process.get_model_weights(out.state).trainable, out.metrics

  whole, whole_metrics = one_round(None)
  # The default cap leaves the cohort in MIN_GROUPS groups of several clients
  # (the longest client alone when it bounds the round, see the schedule's
  # test below); cap 2 groups of at most two; cap 1 every client alone, on
  # the one-client path.
  for cap in (2, 1):
    grouped, grouped_metrics = one_round(cap)
    for a, b in zip(whole, grouped):
      np.testing.assert_allclose(a, b, atol=1e-6)
    assert (whole_metrics['client_work']['train']['num_examples'] ==
            grouped_metrics['client_work']['train']['num_examples'])


@pytest.mark.parametrize('num_clients,cap,groups,sizes', [
    (10, 8, 2, [5, 5]), (16, 8, 2, [8, 8]), (17, 8, 3, [6, 6, 5]),
    (5, 2, 3, [2, 2, 1]), (0, 8, 0, []),
    # Never fewer groups than MIN_GROUPS (one per core), however large the cap.
    (3, 8, 2, [2, 1]), (10, 20, 2, [5, 5]), (1, 8, 1, [1])])
def test_groups_are_balanced_under_the_cap(num_clients, cap, groups, sizes):
  num_groups = int(vectorized_cohort.number_of_groups(
      tf.constant(num_clients), cap))
  assert num_groups == groups
  members = [vectorized_cohort.group_members(
      g, tf.constant(num_clients), num_groups).numpy().tolist()
             for g in range(num_groups)]
  # Every client in exactly one group, each group long and short clients alike.
  assert sorted(sum(members, [])) == list(range(num_clients))
  assert [m[0] for m in members] == list(range(num_groups))
  assert [len(m) for m in members] == sizes


@pytest.mark.parametrize('steps,cap,members', [
    # Skewed: the longest client is the critical path and trains alone.
    ([76, 30, 20, 15, 12, 10, 8, 8, 6, 5], 8,
     [[0], [1, 3, 5, 7, 9], [2, 4, 6, 8]]),
    ([13, 9, 6, 2, 1], 2, [[0], [1, 3], [2, 4]]),
    # The others would form MIN_GROUPS groups however large the cap.
    ([13, 9, 6, 2, 1], 4, [[0], [1, 3], [2, 4]]),
    ([20, 5, 5], 8, [[0], [1], [2]]),
    # Uniform or mildly skewed: dealt as before.
    ([16] * 10, 8, [[0, 2, 4, 6, 8], [1, 3, 5, 7, 9]]),
    ([40, 35, 30, 25, 20, 15, 10, 9, 8, 7], 8,
     [[0, 2, 4, 6, 8], [1, 3, 5, 7, 9]]),
    ([10, 9, 6, 5, 4], 4, [[0, 2, 4], [1, 3]]),
    ([7], 8, [[0]]), ([], 8, [])])
def test_the_longest_client_trains_alone_when_it_bounds_the_round(
    steps, cap, members):
  steps = tf.constant(steps, tf.int32)
  num_clients = tf.size(steps)
  lone = vectorized_cohort.longest_trains_alone(steps, cap)
  num_groups = int(vectorized_cohort.group_count(num_clients, cap, lone))
  assert [vectorized_cohort.group_members(g, num_clients, num_groups, lone)
          .numpy().tolist() for g in range(num_groups)] == members


def test_default_group_size_follows_the_recurrent_kernels(macbeth_client_data):
  def group_for(units):
    keras_model = shakespeare_char.create_task(
        tff.simulation.baselines.ClientSpec(num_epochs=1, batch_size=4),
        client_data=macbeth_client_data,
        model_config=model_config.ModelConfig(units=units)).keras_model_fn()
    return vectorized_cohort.default_clients_per_group(keras_model)
  # 2 layers x units x 4 units x 4 bytes of recurrent kernel per client.
  assert group_for(256) == 10 * 2**20 // (2 * 256 * 1024 * 4) == 5
  assert group_for(128) == 20 and group_for(512) == 1


def test_the_plain_mean_is_taken_where_the_updates_are(federated_runtime,
                                                       macbeth_client_data):
  """The default mean is taken over the stacked updates; TFF's own
  MeanFactory (which the cohort cannot tell from a mean over other sums) is
  handed each client's update at its client; both give the same model."""
  task = _task(macbeth_client_data)
  data = _cohort(task, [3, 8, 5])
  plain = aggregation_config.build_aggregator(
      aggregation_config.AggregationConfig(), 3)
  processes = {name: _process(task, 'vectorized', model_aggregator=factory)
               for name, factory in (('plain', plain),
                                     ('tff', tff.aggregators.MeanFactory()))}
  selects = {name: str(p.next.to_building_block()).count('federated_select')
             for name, p in processes.items()}
  assert selects == {'plain': 0, 'tff': 1}
  results = {name: _run(p, 1, data, indexed=True)
             for name, p in processes.items()}
  for a, b in zip(results['plain'][0], results['tff'][0]):
    np.testing.assert_allclose(a, b, atol=1e-6)
  assert results['plain'][1][0] == results['tff'][1][0]


def _ops_of_computations_taking_datasets(comp):
  """The TF ops (graph and function library) of every TensorFlow computation
  inside `comp` whose parameter holds a dataset."""
  ops = []

  def holds_sequence(type_spec):
    return type_spec is not None and tff.types.contains(
        type_spec, lambda t: isinstance(t, tff.SequenceType))

  def visit(building_block):
    if (isinstance(building_block, tff.framework.CompiledComputation)
        and building_block.proto.WhichOneof('computation') == 'tensorflow'
        and holds_sequence(building_block.type_signature.parameter)):
      graph = tf.compat.v1.GraphDef()
      building_block.proto.tensorflow.graph_def.Unpack(graph)
      ops.append({node.op for node in graph.node} | {
          node.op for function in graph.library.function
          for node in function.node_def})
    return building_block, False

  tff.framework.transform_postorder(comp.to_building_block(), visit)
  return ops


def test_client_datasets_are_read_without_get_single_element(
    macbeth_client_data):
  """Each client's dataset reaches the worker as a serialized graph, so its
  functions are new in every round; TF's single-element kernel never releases
  the functions it instantiates (the worker grew ~1.8 MB per client per
  round), `reduce` does. So the cohort's client computation reads its
  dataset with `reduce` only."""
  task = _task(macbeth_client_data)
  process = _process(task, 'vectorized')
  ops = _ops_of_computations_taking_datasets(process.next)
  assert ops  # the client computation that turns its dataset into tensors
  for computation_ops in ops:
    assert 'ReduceDataset' in computation_ops
    assert 'DatasetToSingleElement' not in computation_ops
