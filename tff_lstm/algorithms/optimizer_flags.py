"""absl flags of one side's optimizer (--client_* or --server_*), and the
`OptimizerConfig` they give."""

from absl import flags

from tff_lstm.algorithms import optimizers

_FIELDS = ('optimizer', 'learning_rate', 'momentum', 'beta_1', 'beta_2',
           'epsilon', 'initial_accumulator_value')


def flag_names(side: str) -> tuple[str, ...]:
  return tuple(f'{side}_{field}' for field in _FIELDS)


def define_flags(side: str, flag_values: flags.FlagValues) -> None:
  """Defines --<side>_optimizer, --<side>_learning_rate, ... ."""
  fv = dict(flag_values=flag_values)
  title = side.capitalize()
  flags.DEFINE_enum(f'{side}_optimizer', 'sgd', optimizers.OPTIMIZERS,
                    f'{title} optimizer.', **fv)
  flags.DEFINE_float(f'{side}_learning_rate', 1.0, f'{title} learning rate.',
                     **fv)
  flags.DEFINE_float(f'{side}_momentum', 0.0,
                     f'{title} SGD momentum (server: FedAvgM).', **fv)
  flags.DEFINE_float(f'{side}_beta_1', 0.9, 'Adam/Yogi beta_1.', **fv)
  flags.DEFINE_float(f'{side}_beta_2', 0.999, 'Adam/Yogi beta_2.', **fv)
  flags.DEFINE_float(
      f'{side}_epsilon', 1e-3,
      'Adam/Yogi/Adagrad epsilon (adaptivity, tau in Reddi et al.).', **fv)
  flags.DEFINE_float(f'{side}_initial_accumulator_value', 0.0,
                     'Yogi/Adagrad initial preconditioner (0: TFF default).',
                     **fv)


def config_from_flags(side: str,
                      flag_values: flags.FlagValues
                      ) -> optimizers.OptimizerConfig:
  f = flag_values
  return optimizers.OptimizerConfig(
      name=f[f'{side}_optimizer'].value,
      learning_rate=f[f'{side}_learning_rate'].value,
      momentum=f[f'{side}_momentum'].value,
      beta_1=f[f'{side}_beta_1'].value,
      beta_2=f[f'{side}_beta_2'].value,
      epsilon=f[f'{side}_epsilon'].value,
      initial_accumulator_value=f[f'{side}_initial_accumulator_value'].value)
