"""One TFF configuration of the round benchmark, driven over stdin/stdout.

Reads `round <r>` lines, trains round r of the benchmark data with
--algorithm (FedAvg by default) and answers one JSON line
{"round": r, "seconds": t}. Started by round_speed.py, one process (plus its
TFF worker) per configuration.

Configurations:
  stock:      TFF as a tutorial runs it: Keras LSTM, build_weighted_fed_avg
              client by client, TensorFlow's default thread pools.
  sequential: our defaults with TFF's client-by-client round (fused LSTM,
              one thread per op / one op per core).
  vectorized: the whole cohort as one batched computation.
  vectorized_bf16: the same with bfloat16 compute (--bf16).
  ours:       what run_federated.py's default (--client_parallelism=auto)
              picks for this setting.
"""

import json
import sys
import time

import numpy as np

from tff_lstm import runtime  # pylint: disable=g-bad-import-order

from absl import app
from absl import flags
import tensorflow as tf
import tensorflow_federated as tff

import round_data
from tff_lstm.algorithms import fedavg
from tff_lstm.algorithms import fedprox
from tff_lstm.algorithms import learning_process
from tff_lstm.algorithms import optimizers
from tff_lstm.algorithms import scaffold
from tff_lstm.algorithms import vectorized_cohort
from tff_lstm.tasks import model_config
from tff_lstm.tasks import shakespeare_char

CONFIGS = ('stock', 'sequential', 'vectorized', 'vectorized_bf16', 'ours')
_CONFIG = flags.DEFINE_enum('config', 'ours', CONFIGS, 'Configuration.')
_DATA = flags.DEFINE_string('data', None, 'round_data .npz file.',
                            required=True)
_UNITS = flags.DEFINE_integer('units', 256, 'LSTM width.')
_BATCH = flags.DEFINE_integer('batch_size', 4, 'Client batch size.')
_ALGORITHM = flags.DEFINE_enum(
    'algorithm', 'fedavg', ('fedavg', 'fedprox', 'scaffold'),
    'fedavg (client SGD lr 1), fedprox (mu 0.01) or scaffold (lr 1); each '
    'round gives SCAFFOLD zero client states (their values cost nothing).')


def _algorithm():
  sgd = optimizers.OptimizerConfig(learning_rate=1.0)
  return {'fedavg': lambda: fedavg.Config(sgd),
          'fedprox': lambda: fedprox.Config(sgd, mu=0.01),
          'scaffold': lambda: scaffold.Config(client_learning_rate=1.0),
          }[_ALGORITHM.value]()


def _datasets(clients, batch_size):
  return [tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)
          for x, y in clients]


def main(argv):
  del argv
  runtime.quiet_logging()
  config = _CONFIG.value
  spec = tff.simulation.baselines.ClientSpec(num_epochs=1,
                                             batch_size=_BATCH.value)
  task = shakespeare_char.create_task(spec, model_config=model_config.ModelConfig(
      cell_type='keras_lstm' if config == 'stock' else 'lstm',
      units=_UNITS.value, seed=0))
  algorithm = _algorithm()
  parallelism = {'stock': 'sequential', 'sequential': 'sequential',
                 'vectorized': 'vectorized',
                 'vectorized_bf16': 'vectorized'}.get(config)
  if config == 'ours':
    parallelism, _ = learning_process.resolve_client_parallelism(
        task, algorithm, 'auto')
  # TF reads 0 as "choose the default" for both pools.
  settings = (runtime.WorkerSettings(intra_op_threads=0, inter_op_threads=0)
              if config == 'stock' else runtime.WorkerSettings())
  rounds = round_data.load(_DATA.value)
  with runtime.federated_runtime(settings):
    process = learning_process.build_learning_process(
        task,
        algorithm,
        client_parallelism=parallelism,
        client_batch_size=_BATCH.value,
        mixed_precision=config == 'vectorized_bf16')
    state = process.initialize()
    print(json.dumps({'ready': True, 'parallelism': parallelism}), flush=True)
    for line in sys.stdin:
      round_num = int(line.split()[1])
      data = _datasets(rounds[round_num], _BATCH.value)
      specs = getattr(process, 'client_state_specs', None)
      if specs is not None:
        zeros = [[np.zeros(s.shape, np.float32) for s in specs]] * len(data)
        data = vectorized_cohort.indexed_client_data(data, zeros)
      elif parallelism == 'vectorized':
        data = vectorized_cohort.indexed_client_data(data)
      started = time.perf_counter()
      state = process.next(state, data).state
      seconds = time.perf_counter() - started
      print(json.dumps({'round': round_num, 'seconds': seconds}), flush=True)


if __name__ == '__main__':
  app.run(main)
