"""CKKS-encrypted FedAvg on real data: it trains as plain FedAvg does, and
the server is handed ciphertexts and a public context only."""

import numpy as np
import pytest
import tenseal as ts

from absl import flags

from tff_lstm.aggregation import ckks
from tff_lstm.aggregation import config
from tff_lstm.aggregation import flags as aggregation_flags
from tff_lstm.aggregation import homomorphic
from tff_lstm.algorithms import fedavg
from tff_lstm.algorithms import learning_process
from tff_lstm.algorithms import scaffold
from tff_lstm.algorithms import vectorized_cohort


class _RecordingServer(ckks.CiphertextSum):
  """The server's role, keeping everything it is handed."""
  handed = []

  def __init__(self, public_context):
    super().__init__(public_context)
    _RecordingServer.handed.append(('context', public_context, self.context))

  def add(self, ciphertexts):
    ciphertexts = list(ciphertexts)
    _RecordingServer.handed.append(('client', ciphertexts))
    super().add(ciphertexts)


def _train(task, datasets, rounds, *, parallelism, weighting, params):
  process = learning_process.build_learning_process(
      task, client_parallelism=parallelism, client_batch_size=2,
      client_weighting=weighting, ckks=params)
  rows = []
  if params is not None:
    process.server_factory = _RecordingServer
    encrypted_mean = process.encrypted_mean

    def spy(client_rows):  # keeps the plaintexts, to look for in what the server got
      rows.append(np.array(client_rows))
      return encrypted_mean(client_rows)

    process.encrypted_mean = spy
  data = (vectorized_cohort.indexed_client_data(datasets)
          if parallelism == 'vectorized' else datasets)
  state, history = process.initialize(), []
  initial = process.get_model_weights(state).trainable
  for _ in range(rounds):
    state, metrics = process.next(state, data)
    history.append(metrics)
  return process.get_model_weights(state).trainable, history, rows, initial


@pytest.mark.parametrize('parallelism, weighting, rounds', [
    ('vectorized', 'num_examples', 3),
    ('sequential', 'uniform', 2),
])
def test_trains_as_plain_fedavg_and_the_server_sees_only_ciphertexts(
    federated_runtime, char_task, char_datasets, parallelism, weighting,
    rounds):
  del federated_runtime
  datasets = char_datasets(4)
  params = ckks.CkksParameters()
  _RecordingServer.handed.clear()
  plain, plain_metrics, _, _ = _train(char_task, datasets, rounds,
                                   parallelism=parallelism, weighting=weighting,
                                   params=None)
  encrypted, he_metrics, rows, initial = _train(
      char_task, datasets, rounds, parallelism=parallelism,
      weighting=weighting, params=params)
  # The same model, within CKKS error (plain float32 sums differ by ~1e-7).
  for p, e in zip(plain, encrypted):
    np.testing.assert_allclose(e, p, rtol=0, atol=2e-6)
  moved = sum(float(np.abs(e - i).sum()) for e, i in zip(encrypted, initial))
  assert moved > 1e-2  # it trained
  for p, e in zip(plain_metrics, he_metrics):
    np.testing.assert_allclose(e['client_work']['train']['loss'],
                               p['client_work']['train']['loss'], rtol=1e-5)
    assert e['aggregator']['ckks_clients'] == 4
    assert e['aggregator']['ckks_server_bytes_received'] == (
        4 * e['aggregator']['ckks_client_bytes_sent'])
    assert 'ckks_clients' not in p['aggregator']

  # What the server role was handed: per round a public context, then one
  # list of serialized ciphertexts per client; never a plaintext.
  handed = _RecordingServer.handed
  contexts = [h for h in handed if h[0] == 'context']
  sent = [h[1] for h in handed if h[0] == 'client']
  assert len(contexts) == rounds and len(sent) == 4 * rounds
  for _, serialized, context in contexts:
    assert isinstance(serialized, bytes)
    assert not context.is_private()
    assert not ts.context_from(serialized).is_private()
  client_rows = np.concatenate(rows)
  assert client_rows.shape[0] == 4 * rounds
  weights = client_rows[:, -1]
  np.testing.assert_array_equal(weights == 1, weighting == 'uniform')
  for ciphertexts in sent:
    assert ciphertexts and all(isinstance(c, bytes) for c in ciphertexts)
    blob = b''.join(ciphertexts)
    for row in client_rows:
      for plaintext in (row.astype(np.float32), row.astype(np.float64)):
        assert plaintext[:8].tobytes() not in blob
        assert plaintext[-8:].tobytes() not in blob


def _flag_values(*argv):
  values = flags.FlagValues()
  aggregation_flags.define_aggregation_flags(values)
  values(['prog', *argv])
  return values


def test_ckks_flags_build_the_parameters_and_need_ckks():
  cfg = aggregation_flags.aggregation_config_from_flags(_flag_values(
      '--homomorphic_encryption=ckks', '--ckks_poly_modulus_degree=16384',
      '--ckks_coeff_mod_bit_sizes=55,40', '--ckks_scale_bits=35'))
  assert cfg.ckks_parameters == ckks.CkksParameters(16384, (55, 40), 35)
  assert 'CKKS-encrypted' in config.describe_aggregation(cfg)
  assert isinstance(config.build_aggregator(cfg, 10, 'uniform'),
                    homomorphic.ClientUpdatesFactory)
  with pytest.raises(ValueError, match='--ckks_scale_bits needs '
                     '--homomorphic_encryption=ckks'):
    aggregation_flags.aggregation_config_from_flags(
        _flag_values('--ckks_scale_bits=30'))
  with pytest.raises(ValueError, match='--ckks_coeff_mod_bit_sizes must be '
                     'integers'):
    aggregation_flags.aggregation_config_from_flags(_flag_values(
        '--homomorphic_encryption=ckks', '--ckks_coeff_mod_bit_sizes=60,x'))
  with pytest.raises(ValueError, match='allows at most 109'):
    aggregation_flags.aggregation_config_from_flags(_flag_values(
        '--homomorphic_encryption=ckks', '--ckks_poly_modulus_degree=4096',
        '--ckks_coeff_mod_bit_sizes=60,60'))


@pytest.mark.parametrize('kwargs, named', [
    (dict(trimmed_mean_fraction=0.1), '--trimmed_mean_fraction'),
    (dict(robust=True), '--robust_aggregation'),
    (dict(dp_mechanism='gaussian_fixed', dp_noise_multiplier=1.0, dp_clip=1.0),
     '--dp_mechanism'),
    (dict(secure_aggregation=True), '--secure_aggregation'),
    (dict(compression_bits=8), '--compression'),
])
def test_aggregators_it_cannot_carry_are_refused(kwargs, named):
  with pytest.raises(ValueError, match='--homomorphic_encryption=ckks') as e:
    config.AggregationConfig(homomorphic_encryption='ckks', **kwargs)
  assert f'cannot carry {named}' in str(e.value)


def test_a_scale_without_room_for_the_cohort_is_refused_before_building():
  cfg = config.AggregationConfig(
      homomorphic_encryption='ckks',
      ckks=ckks.CkksParameters(scale_bits=52))
  with pytest.raises(ValueError, match='--ckks_scale_bits=52'):
    config.build_aggregator(cfg, 50)


def test_algorithms_that_send_more_than_the_update_are_refused(char_task):
  with pytest.raises(ValueError, match='--algorithm=scaffold'):
    learning_process.build_learning_process(
        char_task, scaffold.Config(), ckks=ckks.CkksParameters())
  with pytest.raises(ValueError, match='takes no other model aggregator'):
    learning_process.ProcessSettings(
        ckks=ckks.CkksParameters(),
        model_aggregator=config.build_aggregator(config.AggregationConfig(),
                                                 3))
  assert fedavg.NAME in homomorphic.SUPPORTED_ALGORITHMS
