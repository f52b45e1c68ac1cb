"""What mutual TLS costs a round: two loopback workers, plaintext against TLS.

Both pairs of workers run in their own network namespaces behind our relay
(tff_lstm/worker_sandbox.py); one pair's relay speaks plaintext, the other's
mutual TLS. Rounds alternate between the two on the same clients, so the
ratio is taken round by round on one machine:

  .venv/bin/python benchmarks/worker_channels.py --rounds=12

Writes results/benchmarks/worker_channels.{json,md}.
"""

import datetime
import os
import statistics
import sys
import tempfile
import time

from tff_lstm import runtime  # first: quiets TensorFlow before it is imported
from tff_lstm.runtime import remote
from tff_lstm.runtime import certificates

# pylint: disable=g-bad-import-order
from absl import app
from absl import flags
import tensorflow_federated as tff

from tff_lstm.algorithms import fedavg
from tff_lstm.algorithms import learning_process
from tff_lstm.algorithms import optimizers
from tff_lstm.tasks import model_config
from tff_lstm.tasks import shakespeare_char
from tff_lstm.training import selection

import report

_ROUNDS = flags.DEFINE_integer('rounds', 12, 'Timed rounds per channel (after '
                               'one warm-up round each).')
_UNITS = flags.DEFINE_integer('units', 256, 'LSTM units per layer.')
_LAYERS = flags.DEFINE_integer('layers', 2, 'LSTM layers.')
_CLIENTS = flags.DEFINE_integer('clients', 10, 'Clients per round.')
_OUTPUT_DIR = flags.DEFINE_string('output_dir', 'results/benchmarks',
                                  'Where the JSON and markdown go.')


def _workers(tls):
  workers = [runtime.LocalWorker(runtime.WorkerSettings(), tcp=True, tls=tls)
             for _ in range(2)]
  for worker in workers:
    worker.stub()
  return workers


def main(argv):
  del argv
  runtime.quiet_logging()
  task = shakespeare_char.create_task(
      tff.simulation.baselines.ClientSpec(num_epochs=1, batch_size=4,
                                          max_elements=16),
      model_config=model_config.ModelConfig(units=_UNITS.value,
                                            num_layers=_LAYERS.value, seed=0))
  process = learning_process.build_learning_process(
      task, fedavg.Config(optimizers.OptimizerConfig(learning_rate=1.0)),
      client_parallelism='sequential', client_batch_size=4)
  clients = selection.build_dataset_selection_fn(
      task.datasets.train_data, task.datasets.train_preprocess_fn,
      clients_per_round=_CLIENTS.value, seed=0)
  with tempfile.TemporaryDirectory() as certs:
    certificates.make_certificates(certs, ['127.0.0.1'])
    paths = certificates.worker_paths(certs)
    channels = {
        'plaintext': (_workers(None), None),
        'mutual_tls': (_workers(runtime.TlsFiles(
            cert=paths.cert, key=paths.key, client_ca=paths.ca)),
                       certificates.controller_paths(certs)),
    }
    contexts = {name: remote.RemoteRuntime(
        [f'127.0.0.1:{w.port}' for w in workers], tls=tls)
                for name, (workers, tls) in channels.items()}
    seconds = {name: [] for name in channels}
    try:
      states = {}
      for name, connection in contexts.items():
        with tff.framework.get_context_stack().install(connection.context):
          states[name] = process.initialize()
      for round_num in range(_ROUNDS.value + 1):  # round 0 warms up
        data = clients(round_num)
        for name, connection in contexts.items():
          with tff.framework.get_context_stack().install(connection.context):
            started = time.monotonic()
            states[name] = process.next(states[name], data).state
            seconds[name].append(time.monotonic() - started)
          print(f'round {round_num} {name}: {seconds[name][-1]:.2f} s',
                flush=True)
    finally:
      for connection in contexts.values():
        connection.close()
      for workers, _ in channels.values():
        for worker in workers:
          worker.stop()
  timed = {name: s[1:] for name, s in seconds.items()}
  ratios = [t / p for t, p in zip(timed['mutual_tls'], timed['plaintext'])]
  results = {
      'meta': {'date': datetime.date.today().isoformat(),
               'cpu': report.cpu_description(), 'cpus': os.cpu_count(),
               'rounds': _ROUNDS.value, 'units': _UNITS.value,
               'layers': _LAYERS.value, 'clients': _CLIENTS.value},
      'round_s': seconds,
      'median_s': {name: statistics.median(s) for name, s in timed.items()},
      'tls_over_plaintext': {'median_ratio': statistics.median(ratios),
                             'tls_faster': sum(r < 1 for r in ratios),
                             'rounds': len(ratios)}}
  command = ' '.join(['.venv/bin/python', 'benchmarks/worker_channels.py',
                      *sys.argv[1:]])
  cmp = results['tls_over_plaintext']
  lines = [
      '# Mutual TLS against plaintext: two loopback workers', '',
      f'Command: `{command}` ({results["meta"]["date"]}, '
      f'{results["meta"]["cpus"]} CPUs, {results["meta"]["cpu"]}). FedAvg, '
      f'Shakespeare, {_LAYERS.value}x{_UNITS.value} LSTM, {_CLIENTS.value} '
      'clients of at most 16 examples, batch 4; rounds alternate between the '
      'two pairs of workers; medians of the timed rounds.', '',
      '| channel | median s/round |', '| --- | --- |',
      *[f'| {name} | {s:.2f} |' for name, s in results['median_s'].items()],
      '',
      f'Round by round, TLS took {cmp["median_ratio"]:.3f}x the plaintext '
      f'round (median of per-round ratios); faster in {cmp["tls_faster"]} of '
      f'{cmp["rounds"]} rounds.']
  report.write(_OUTPUT_DIR.value, 'worker_channels', results, lines)
  print('\n'.join(lines))
  return 0


if __name__ == '__main__':
  runtime.register_exit_hook()
  app.run(main)
