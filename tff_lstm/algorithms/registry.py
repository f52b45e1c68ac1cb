"""The federated algorithms by name.

Each algorithm is one module of this package with:
  NAME                the --algorithm value;
  FLAGS               every flag it reads (any of them given with another
                      --algorithm is refused, naming the flag);
  Config              its validated, frozen config dataclass;
  define_flags(fv)    defines the flags it owns;
  config_from_flags(fv) -> Config;
  client_rule(config) -> client_update.ClientUpdate, its client side on the
                      vectorized cohort (ValueError saying why, if it has none);
  build_sequential(task, config, settings) -> its LearningProcess on TFF's
                      client-by-client path;
  check_settings(config, settings), optional: refuses settings it cannot use.
Adding an algorithm is that module plus its name in `_MODULES`.
"""

import types

from tff_lstm.algorithms import fedavg
from tff_lstm.algorithms import fedprox
from tff_lstm.algorithms import fedsgd
from tff_lstm.algorithms import mime_lite
from tff_lstm.algorithms import scaffold

_MODULES = (fedavg, fedprox, fedsgd, scaffold, mime_lite)

ALGORITHMS: dict[str, types.ModuleType] = {m.NAME: m for m in _MODULES}
NAMES = tuple(ALGORITHMS)


def get(name: str) -> types.ModuleType:
  if name not in ALGORITHMS:
    raise ValueError(f'Unknown --algorithm {name!r}; valid: '
                     f'{", ".join(NAMES)}.')
  return ALGORITHMS[name]


def for_config(config) -> types.ModuleType:
  """The algorithm whose Config `config` is."""
  for module in _MODULES:
    if type(config) is module.Config:  # pylint: disable=unidiomatic-typecheck
      return module
  raise TypeError(f'{config!r} is not the Config of a registered algorithm '
                  f'({", ".join(NAMES)}).')


def foreign_flags(name: str, given) -> list[str]:
  """The flags in `given` that belong to algorithms other than `name` only."""
  own = set(get(name).FLAGS)
  others = {f for m in _MODULES for f in m.FLAGS} - own
  return sorted(f for f in given if f in others)


def owners(flag: str) -> list[str]:
  return [m.NAME for m in _MODULES if flag in m.FLAGS]
