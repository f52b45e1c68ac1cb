"""Masked secure aggregation: the protocol's sum, what the server sees,
dropouts, refusals, and training equal to plaintext FedAvg."""

from absl import flags as absl_flags
import numpy as np
import pytest

from tff_lstm.aggregation import config as config_lib
from tff_lstm.aggregation import flags as aggregation_flags
from tff_lstm.aggregation import masked
from tff_lstm.aggregation import masking
from tff_lstm.algorithms import fedavg
from tff_lstm.algorithms import learning_process
from tff_lstm.algorithms import optimizers
from tff_lstm.algorithms import vectorized_cohort
from tff_lstm.training import masked_rounds

_SHAPES = [(40, 30), (30,)]


def _updates(n, seed=0):
  rng = np.random.default_rng(seed)
  return ([[rng.normal(0, 0.05, s).astype(np.float32) for s in _SHAPES]
           for _ in range(n)], rng.integers(1, 9, n).astype(np.float32))


def _settings(n, **kwargs):
  return config_lib.AggregationConfig(
      secure_aggregation='masked', **kwargs).masked_settings(n)


def _plain_mean(updates, weights, clients):
  total = sum(weights[i] for i in clients)
  return [sum(weights[i] * updates[i][j] for i in clients) / total
          for j in range(len(_SHAPES))]


@pytest.mark.parametrize('n,kwargs,dropped', [
    (6, dict(secagg_neighbors=5, secagg_threshold=3), [1, 4, 5]),  # n - t
    (12, dict(secagg_neighbors=4, secagg_threshold=3), [7, 8]),  # SecAgg+
])
def test_sum_is_the_plaintext_mean_and_the_server_sees_only_masks(
    federated_runtime, n, kwargs, dropped):
  settings = _settings(n, **kwargs)
  updates, weights = _updates(n)
  mean, measurements, keys, view = masked.run_round(
      settings, updates, weights, seed=[3, 1], dropped=dropped)
  survivors = [i for i in range(n) if i not in dropped]
  assert keys.survivors == survivors
  want = _plain_mean(updates, weights, survivors)
  # 32-bit quantization of [-1000, 1000]: steps of 4.7e-7 per weighted value.
  for got, expected in zip(mean, want):
    np.testing.assert_allclose(got, expected, atol=1e-6)
  assert int(measurements['secagg_survivors']) == len(survivors)
  assert float(measurements['secagg_clipped_coordinates']) == 0
  # What the server was handed: masked vectors uniform in the ring, each
  # uncorrelated with the quantized update it hides, and their sum.
  size = sum(np.prod(s) for s in _SHAPES) + 2
  modulus = 2**settings.bits
  for p, i in enumerate(survivors):
    hidden = masking.quantize(updates[i], weights[i], settings.bound).numpy()
    sent = np.asarray(view.masked_inputs[p])
    assert sent.shape == (size,) and not np.array_equal(sent, hidden)
    assert abs(np.corrcoef(sent, hidden)[0, 1]) < 5 / np.sqrt(size)
    assert abs(sent.mean() / modulus - 0.5) < 0.05
  np.testing.assert_array_equal(view.masked_sum,
                                np.sum(view.masked_inputs, axis=0))
  kinds = {kind for _, kind, _ in view.protocol_messages}
  assert kinds == {'public_keys', 'encrypted_share', 'unmasking_shares'}
  for _, kind, payload in view.protocol_messages:
    if kind == 'unmasking_shares':  # b's share of survivors, s of dropped
      assert all((owner in survivors) == (k == 'b')
                 for owner, (k, _) in payload.items())


@pytest.mark.parametrize('kwargs,n,match', [
    (dict(secagg_threshold=11), 10, '--secagg_threshold=11 must be in'),
    (dict(secagg_neighbors=4, secagg_threshold=6), 10,
     '--secagg_threshold=6 is above the 5 holders'),
    (dict(secagg_neighbors=9, secagg_threshold=6,
          secagg_dropout_rate=0.5), 10, '--secagg_dropout_rate drops 5'),
    (dict(secagg_neighbors=3), 10, '--secagg_neighbors=3'),
    (dict(secagg_neighbors=12), 10, '--secagg_neighbors=12'),
    (dict(), 1, 'at least 2 clients'),
])
def test_bad_settings_are_refused_naming_the_flag(kwargs, n, match):
  with pytest.raises(ValueError, match=match):
    _settings(n, **kwargs)


@pytest.mark.parametrize('kwargs,match', [
    (dict(secagg_threshold=3), 'needs --secure_aggregation=masked'),
    (dict(secure_aggregation='masked', secagg_dropout_rate=1.0),
     '--secagg_dropout_rate must be in'),
    (dict(secure_aggregation='bogus'), 'Unknown --secure_aggregation'),
])
def test_bad_combinations_are_refused(kwargs, match):
  with pytest.raises(ValueError, match=match):
    config_lib.AggregationConfig(**kwargs)


def test_the_boolean_spellings_mean_simulated_and_off():
  assert config_lib.AggregationConfig(
      secure_aggregation=True).secure_aggregation == 'simulated'
  assert not config_lib.AggregationConfig(
      secure_aggregation=False).secure_enabled


def test_rounds_of_masked_training_equal_plaintext_fedavg(
    federated_runtime, char_task, char_datasets):
  data = vectorized_cohort.indexed_client_data(char_datasets(4))
  algorithm = fedavg.Config(optimizers.OptimizerConfig(learning_rate=0.5))

  def build(aggregator):
    return learning_process.build_learning_process(
        char_task, algorithm, client_parallelism='vectorized',
        client_batch_size=2, model_aggregator=aggregator)

  plain = build(None)
  secure = masked_rounds.MaskedRoundsProcess(
      build(_settings(4, secagg_neighbors=3, secagg_threshold=2)), seed=0)
  plain_state, secure_state = plain.initialize(), secure.initialize()
  for round_num in range(1, 3):
    plain_state = plain.next(plain_state, data).state
    out = secure.next(secure_state, masked_rounds.Round(round_num, data))
    secure_state = out.state
    assert out.metrics['aggregator']['secagg_survivors'] == 4
    assert out.metrics['aggregator']['secagg_clipped_coordinates'] == 0
  before = plain.get_model_weights(plain.initialize()).trainable
  after_plain = plain.get_model_weights(plain_state).trainable
  after_secure = secure.get_model_weights(secure_state).trainable
  assert any(not np.allclose(a, b) for a, b in zip(before, after_plain))
  for a, b in zip(after_plain, after_secure):
    np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize('argv,mode', [
    ([], 'off'), (['--secure_aggregation'], 'simulated'),
    (['--nosecure_aggregation'], 'off'),
    (['--secure_aggregation=true'], 'simulated'),
    (['--secure_aggregation=masked'], 'masked')])
def test_the_flag_keeps_the_boolean_spellings(argv, mode):
  values = absl_flags.FlagValues()
  aggregation_flags.define_aggregation_flags(values)
  values(['binary'] + argv)
  assert aggregation_flags.aggregation_config_from_flags(
      values).secure_aggregation == mode


def test_a_recorded_boolean_resumes_as_its_mode():
  for recorded, mode in ((True, 'simulated'), (False, 'off')):
    record = aggregation_flags.upgrade_record({'secure_aggregation': recorded})
    assert record['secure_aggregation'] == mode
