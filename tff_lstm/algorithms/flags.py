"""absl flags of the algorithm layer, and the configs they give.

A binary calls `define_algorithm_flags()` once at import time, then adopts the
flags as its own (`for m in flag_modules(): flags.adopt_module_key_flags(m)`,
so they count in its hparams), and after parsing reads
`algorithm_config_from_flags()` and `process_flags_from_flags()`.

Each algorithm defines the flags it owns (`registry`); a flag that only other
algorithms read is refused when given, naming the flag and its algorithms, so
that nothing given on the command line is silently ignored.
"""

import dataclasses
import types

from absl import flags

from tff_lstm.algorithms import learning_process
from tff_lstm.algorithms import optimizer_flags
from tff_lstm.algorithms import optimizers
from tff_lstm.algorithms import registry

CLIENT_PARALLELISM_CHOICES = ('auto',) + learning_process.CLIENT_PARALLELISMS


def flag_modules() -> list[types.ModuleType]:
  """The modules whose flags `define_algorithm_flags` defines."""
  import sys  # pylint: disable=g-import-not-at-top
  return [sys.modules[__name__], optimizer_flags] + list(
      registry.ALGORITHMS.values())


def define_algorithm_flags(flag_values: flags.FlagValues = flags.FLAGS) -> None:
  """Defines --algorithm, --client_*/--server_* optimizers, --client_weighting,
  --client_parallelism, --bf16 and every algorithm's own flags."""
  fv = dict(flag_values=flag_values)
  flags.DEFINE_enum('algorithm', 'fedavg', registry.NAMES,
                    'Federated algorithm.', **fv)
  flags.DEFINE_enum('client_weighting', 'num_examples',
                    learning_process.CLIENT_WEIGHTINGS,
                    'Weight client updates by example count or uniformly.',
                    **fv)
  for side in ('client', 'server'):
    optimizer_flags.define_flags(side, flag_values)
  flags.DEFINE_enum(
      'client_parallelism', 'auto', CLIENT_PARALLELISM_CHOICES,
      'How a round trains its clients: sequential (TFF, one client after '
      'another), vectorized (the whole cohort as one batched computation), '
      'auto (vectorized where the algorithm, model, loss and metrics allow '
      'it, else sequential, saying why).', **fv)
  flags.DEFINE_bool(
      'bf16', False, 'bfloat16 mixed precision: compute in bfloat16, keep '
      'weights, updates and loss in float32 (vectorized cohort only).', **fv)
  for module in registry.ALGORITHMS.values():
    module.define_flags(flag_values)


def algorithm_config_from_flags(flag_values: flags.FlagValues = flags.FLAGS):
  """The chosen algorithm's Config; ValueError for another one's flag."""
  name = flag_values.algorithm
  given = [n for n in flag_values if flag_values[n].present]
  for flag in registry.foreign_flags(name, given):
    owners = ', '.join(f'--algorithm={o}' for o in registry.owners(flag))
    raise ValueError(f'--{flag} applies to {owners}, not to '
                     f'--algorithm={name}.')
  return registry.get(name).config_from_flags(flag_values)


@dataclasses.dataclass(frozen=True)
class ProcessFlags:
  """The shared settings as given: parallelism may still be 'auto'."""

  server_optimizer: optimizers.OptimizerConfig
  client_weighting: str
  client_parallelism: str
  mixed_precision: bool


def process_flags_from_flags(
    flag_values: flags.FlagValues = flags.FLAGS) -> ProcessFlags:
  return ProcessFlags(
      server_optimizer=optimizer_flags.config_from_flags('server',
                                                         flag_values),
      client_weighting=flag_values.client_weighting,
      client_parallelism=flag_values.client_parallelism,
      mixed_precision=flag_values.bf16)
