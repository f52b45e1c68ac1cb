"""The algorithm layer's flags: each algorithm reads its own, refuses others'."""

from absl import flags
import pytest

from tff_lstm.algorithms import fedavg
from tff_lstm.algorithms import fedprox
from tff_lstm.algorithms import fedsgd
from tff_lstm.algorithms import flags as algorithm_flags
from tff_lstm.algorithms import mime_lite
from tff_lstm.algorithms import registry
from tff_lstm.algorithms import scaffold


def _parse(*argv):
  values = flags.FlagValues()
  algorithm_flags.define_algorithm_flags(values)
  values(['test', *argv])
  return values


def test_every_registered_algorithm_builds_its_config_from_flags():
  expected = {'fedavg': fedavg.Config, 'fedprox': fedprox.Config,
              'fedsgd': fedsgd.Config, 'scaffold': scaffold.Config,
              'mime_lite': mime_lite.Config}
  assert set(registry.NAMES) == set(expected)
  for name, config_class in expected.items():
    config = algorithm_flags.algorithm_config_from_flags(
        _parse(f'--algorithm={name}'))
    assert type(config) is config_class  # pylint: disable=unidiomatic-typecheck
    assert registry.for_config(config).NAME == name


def test_flags_reach_the_config():
  config = algorithm_flags.algorithm_config_from_flags(_parse(
      '--algorithm=fedprox', '--fedprox_mu=0.25', '--client_optimizer=sgdm',
      '--client_momentum=0.5', '--client_learning_rate=0.1'))
  assert config.mu == 0.25
  assert (config.client_optimizer.name, config.client_optimizer.momentum,
          config.client_optimizer.learning_rate) == ('sgdm', 0.5, 0.1)
  assert algorithm_flags.algorithm_config_from_flags(_parse(
      '--client_lr_schedule=linear_warmup',
      '--client_lr_warmup_rounds=3')).warmup_rounds == 3
  shared = algorithm_flags.process_flags_from_flags(_parse(
      '--server_optimizer=adam', '--server_learning_rate=0.01',
      '--client_weighting=uniform', '--bf16'))
  assert shared.server_optimizer.name == 'adam'
  assert (shared.client_weighting, shared.mixed_precision) == ('uniform', True)


@pytest.mark.parametrize('argv, message', [
    (['--fedprox_mu=0.1'],
     '--fedprox_mu applies to --algorithm=fedprox, not to --algorithm=fedavg'),
    (['--algorithm=fedsgd', '--client_optimizer=adam'],
     '--client_optimizer applies to --algorithm=fedavg, --algorithm=fedprox, '
     '--algorithm=scaffold, --algorithm=mime_lite, not to --algorithm=fedsgd'),
    (['--algorithm=fedprox', '--client_lr_schedule=exp_decay'],
     '--client_lr_schedule applies to --algorithm=fedavg'),
    (['--algorithm=scaffold', '--client_optimizer=adam'],
     'corrects plain SGD steps'),
    (['--algorithm=fedprox', '--fedprox_mu=-1'], 'fedprox_mu must be >= 0'),
])
def test_settings_that_do_not_apply_are_refused(argv, message):
  with pytest.raises(ValueError, match=message):
    algorithm_flags.algorithm_config_from_flags(_parse(*argv))


def test_flags_left_at_their_defaults_are_not_refused():
  # --client_learning_rate is fedavg's too, but FedSGD refuses it only if given.
  values = _parse('--algorithm=fedsgd', '--server_learning_rate=0.5')
  assert algorithm_flags.algorithm_config_from_flags(values) == fedsgd.Config()
