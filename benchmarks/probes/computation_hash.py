"""Probe: does a change alter the computations the TFF worker runs?

A change that moves or renames Python code (a refactor) cannot change the
round's speed on the worker if it leaves the serialized computations the
worker is sent unchanged. This builds the learning process as `make bench`
builds `ours` (benchmarks/tff_round.py: next-character Shakespeare, the fused
LSTM, FedAvg with client SGD at lr 1, batch 4, the parallelism `auto` picks)
and prints a SHA-256 of each computation's deterministic serialization. Run it
from two checkouts (each with its own tree first on PYTHONPATH) and compare
the lines: equal digests mean the worker runs byte-identical graphs, and any
speed difference left is the Python controller's.

  PYTHONPATH=.:benchmarks .venv/bin/python benchmarks/probes/computation_hash.py \\
      [--units=256]

Tracing is deterministic in one TF/TFF install (the same digests from two
runs of one tree); digests from different installs need not be comparable.
"""
import hashlib

from tff_lstm import runtime  # pylint: disable=g-bad-import-order

from absl import app
from absl import flags
import tensorflow_federated as tff

from tff_lstm.algorithms import fedavg
from tff_lstm.algorithms import learning_process
from tff_lstm.algorithms import optimizers
from tff_lstm.tasks import model_config
from tff_lstm.tasks import shakespeare_char

_UNITS = flags.DEFINE_integer('units', 256, 'LSTM width.')
_BATCH = flags.DEFINE_integer('batch_size', 4, 'Client batch size.')


def computation_digest(computation):
  """SHA-256 of a TFF computation's deterministic proto serialization."""
  proto = tff.framework.ConcreteComputation.get_proto(computation)
  return hashlib.sha256(proto.SerializeToString(deterministic=True)).hexdigest()


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  runtime.register_exit_hook()
  spec = tff.simulation.baselines.ClientSpec(num_epochs=1,
                                             batch_size=_BATCH.value)
  task = shakespeare_char.create_task(
      spec, model_config=model_config.ModelConfig(
          cell_type='lstm', units=_UNITS.value, seed=0))
  algorithm = fedavg.Config(optimizers.OptimizerConfig(learning_rate=1.0))
  parallelism, _ = learning_process.resolve_client_parallelism(
      task, algorithm, 'auto')
  process = learning_process.build_learning_process(
      task, algorithm, client_parallelism=parallelism,
      client_batch_size=_BATCH.value)
  for name in ('initialize', 'next'):
    print(f'{name} ({parallelism}): '
          f'{computation_digest(getattr(process, name))}')


if __name__ == '__main__':
  app.run(main)
