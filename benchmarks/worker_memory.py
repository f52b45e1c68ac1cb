"""`make bench-memory`: memory growth and round time over many rounds, by input path.

A 1,200-round run must not outgrow the machine. This trains the same seeded
rounds of real Shakespeare (10 clients, each client's first `--max_elements`
sequences, so that per-round overhead, not training, dominates) in one process
per configuration, rounds interleaved across configurations, and records after
every round the resident memory of the Python process and of its TFF worker.

Configurations:
  datasets:        the vectorized cohort fed tf.data datasets built in Python
                   each round (how run_federated.py fed it before client ids).
  ids:             the same process fed client ids; the worker builds the
                   datasets (tff_lstm/algorithms/client_id_inputs.py, today's
                   run_federated.py). Its default plain mean is taken over
                   the stacked updates where they are computed.
  ids_per_client:  ids with TFF's own `MeanFactory` as the aggregator, which
                   the cohort treats like any other (DP, secure sum,
                   compression): each client is sent its own update
                   (`tff.federated_select`) and the aggregator runs per client.
  ids_restart:     ids, plus a fresh worker every --restart_every rounds
                   (run_federated.py's --rounds_per_worker_restart).
  ids_dp:          ids with user-level DP (adaptive clipping, noise
                   multiplier 0.5, uniform weighting): the per-client path with
                   the aggregator state a private run carries.
  tff_sequential:  TFF's client-by-client FedAvg fed datasets (a reference).

Growth is the least-squares slope of RSS over rounds after the warm-up (MB per
round); the round time is the median after round 1. Writes
results/benchmarks/worker_memory.json and worker_memory.md.

  .venv/bin/python benchmarks/worker_memory.py [--rounds=60]
"""

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

from tff_lstm import runtime  # pylint: disable=g-bad-import-order

from absl import app
from absl import flags
import psutil

import report

CONFIGS = ('datasets', 'ids', 'ids_per_client', 'ids_restart', 'ids_dp',
           'tff_sequential')
_ROUNDS = flags.DEFINE_integer('rounds', 60, 'Rounds per configuration.')
_MAX_ELEMENTS = flags.DEFINE_integer('max_elements', 8,
                                     'Sequences per client per round.')
_RESTART_EVERY = flags.DEFINE_integer('restart_every', 20,
                                      'ids_restart: rounds per worker.')
_OUT = flags.DEFINE_string('output_dir', 'results/benchmarks',
                           'Where the JSON and markdown go.')
_CHILD = flags.DEFINE_enum('child', None, CONFIGS,
                           'Internal: run one configuration, driven by stdin.')
_CONFIGS = flags.DEFINE_list('configs', list(CONFIGS),
                             f'Which of {", ".join(CONFIGS)} to run.')
_WARMUP = 5  # rounds left out of the slope (start-up allocations)


def _rss_mb(pid) -> float:
  """Resident memory of `pid` and its descendants: the worker runs under a
  small sandbox process, so its own pid is a child's."""
  root = psutil.Process(pid)
  total = 0
  for process in [root, *root.children(recursive=True)]:
    try:
      total += process.memory_info().rss
    except psutil.NoSuchProcess:
      pass
  return total / 2**20


def run_child(config: str) -> None:
  """One configuration: answers `round r` with a JSON line of time and RSS."""
  # pylint: disable=g-import-not-at-top
  import tensorflow_federated as tff
  from tff_lstm.aggregation import config as aggregation_config
  from tff_lstm.algorithms import client_id_inputs
  from tff_lstm.algorithms import learning_process
  from tff_lstm.algorithms import vectorized_cohort
  from tff_lstm.tasks import shakespeare_char
  from tff_lstm.training import loop
  from tff_lstm.training import selection
  # pylint: enable=g-import-not-at-top
  runtime.quiet_logging()
  task = shakespeare_char.create_task(tff.simulation.baselines.ClientSpec(
      num_epochs=1, batch_size=4, max_elements=_MAX_ELEMENTS.value))
  train = task.datasets.train_data
  parallelism = 'sequential' if config == 'tff_sequential' else 'vectorized'
  sample_ids = selection.build_client_id_sampler(train.client_ids, 10, seed=0)
  select_datasets = selection.build_dataset_selection_fn(
      train, task.datasets.train_preprocess_fn, 10, seed=0)
  aggregator, weighting = None, 'num_examples'
  if config == 'ids_per_client':
    aggregator = tff.aggregators.MeanFactory()
  elif config == 'ids_dp':
    aggregator, weighting = aggregation_config.build_aggregator(
        aggregation_config.AggregationConfig(
            dp_mechanism='gaussian_adaptive', dp_noise_multiplier=0.5),
        clients_per_round=10, weighting='uniform'), 'uniform'
  with runtime.federated_runtime():
    process = learning_process.build_learning_process(
        task,
        client_parallelism=parallelism,
        client_batch_size=4,
        client_weighting=weighting,
        model_aggregator=aggregator)
    if config.startswith('ids'):
      process = client_id_inputs.compose(process, train,
                                         task.datasets.train_preprocess_fn)

    def round_inputs(round_num):
      if config.startswith('ids'):
        return client_id_inputs.round_inputs(process, sample_ids(round_num))
      datasets = select_datasets(round_num)
      if parallelism == 'vectorized':
        return vectorized_cohort.indexed_client_data(datasets)
      return datasets

    # run_federated.py's own restart schedule (0: never), kept out of the
    # timed round; building the inputs stays in it (it is the datasets' cost).
    restart_if_due = loop.restarting_worker(
        lambda round_num: None, first_round=1,
        every=_RESTART_EVERY.value if config == 'ids_restart' else 0)
    state = process.initialize()
    print(json.dumps({'ready': True}), flush=True)
    for line in sys.stdin:
      round_num = int(line.split()[1])
      restart_if_due(round_num)
      started = time.perf_counter()
      state = process.next(state, round_inputs(round_num)).state
      seconds = time.perf_counter() - started
      print(json.dumps({
          'round': round_num, 'seconds': seconds,
          'python_mb': psutil.Process().memory_info().rss / 2**20,
          'worker_mb': _rss_mb(runtime.active_worker().pid)}), flush=True)


def _slope(xs, ys) -> float:
  mx, my = statistics.fmean(xs), statistics.fmean(ys)
  return (sum((x - mx) * (y - my) for x, y in zip(xs, ys))
          / sum((x - mx) ** 2 for x in xs))


def _summary(rows) -> dict:
  late = [r for r in rows if r['round'] > _WARMUP]
  rounds = [r['round'] for r in late]
  return {
      'median_s': statistics.median(r['seconds'] for r in rows[1:]),
      'python_mb_per_round': _slope(rounds, [r['python_mb'] for r in late]),
      'worker_mb_per_round': _slope(rounds, [r['worker_mb'] for r in late]),
      'python_mb_last': rows[-1]['python_mb'],
      'worker_mb_last': rows[-1]['worker_mb'],
      'worker_mb_peak': max(r['worker_mb'] for r in rows),
      'rounds': rows,
  }


def _write(results, out_dir, command):
  meta = results['meta']
  lines = [
      '# Memory growth by input path',
      '',
      f'`{command}` on {meta["date"]} ({meta["machine"]}): {meta["rounds"]} '
      f'rounds of 10 real Shakespeare clients, {meta["max_elements"]} '
      'sequences each, 2x256 LSTM, rounds interleaved across configurations. '
      f'Growth: least-squares slope after round {_WARMUP}.',
      '',
      '| configuration | median s/round | Python MB/round | worker MB/round '
      '| Python MB at end | worker MB at end | worker MB peak |',
      '|---|---|---|---|---|---|---|']
  for key in results['meta']['configs']:
    r = results[key]
    lines.append(
        f'| {key} | {r["median_s"]:.2f} | {r["python_mb_per_round"]:+.1f} | '
        f'{r["worker_mb_per_round"]:+.1f} | {r["python_mb_last"]:.0f} | '
        f'{r["worker_mb_last"]:.0f} | {r["worker_mb_peak"]:.0f} |')
  report.write(out_dir, 'worker_memory', results, lines)
  print('\n'.join(lines))


def main(argv):
  del argv
  if _CHILD.value:
    run_child(_CHILD.value)
    return
  flags_ = [f'--rounds={_ROUNDS.value}', f'--max_elements={_MAX_ELEMENTS.value}',
            f'--restart_every={_RESTART_EVERY.value}']
  configs = _CONFIGS.value
  unknown = sorted(set(configs) - set(CONFIGS))
  if unknown:
    raise app.UsageError(f'--configs: unknown {", ".join(unknown)}; valid: '
                         f'{", ".join(CONFIGS)}.')
  children = {}
  try:
    for key in configs:
      children[key] = subprocess.Popen(
          [sys.executable, os.path.abspath(__file__), f'--child={key}', *flags_],
          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
      json.loads(children[key].stdout.readline())  # ready
    rows = {key: [] for key in configs}
    for round_num in range(1, _ROUNDS.value + 1):
      for key, child in children.items():
        child.stdin.write(f'round {round_num}\n')
        child.stdin.flush()
        line = child.stdout.readline()
        if not line:
          raise RuntimeError(f'configuration {key} ended at round {round_num}')
        rows[key].append(json.loads(line))
      print(f'round {round_num}: ' + ', '.join(
          f'{k} {v[-1]["seconds"]:.2f}s' for k, v in rows.items()), flush=True)
  finally:
    for child in children.values():
      child.stdin.close()
      try:
        child.wait(timeout=60)
      except subprocess.TimeoutExpired:
        child.kill()
  results = {key: _summary(rows[key]) for key in configs}
  results['meta'] = {
      'configs': configs,
      'date': datetime.date.today().isoformat(), 'rounds': _ROUNDS.value,
      'max_elements': _MAX_ELEMENTS.value,
      'restart_every': _RESTART_EVERY.value,
      'machine': f'{os.cpu_count()} CPUs, {report.cpu_description()}, '
                 f'Python {platform.python_version()}'}
  _write(results, _OUT.value,
         'make bench-memory' if not sys.argv[1:] else ' '.join(
             ['benchmarks/worker_memory.py', *sys.argv[1:]]))


if __name__ == '__main__':
  app.run(main)
