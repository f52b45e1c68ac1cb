"""`make bench`: seconds per FedAvg round, TFF configurations vs a PyTorch peer.

All configurations train the same fixed rounds of real Shakespeare clients
(round_data.py). Each runs in its own process (with its own TFF worker);
rounds are interleaved across configurations (round r of every configuration
before round r+1 of any), so machine noise hits them alike and ratios are taken
within one run. Round 0 is the warm-up (tracing; reported as first_round_s);
medians are over the rest. Because rounds are interleaved, `ours` and the
peer also compare round by round (the same clients, moments apart): the
report gives the median of those per-round ratios and how many rounds each
won, which one slow stretch of the machine cannot tip the way it can tip a
ratio of two medians. Peak memory is the largest sum of resident memory
over a configuration's process and all its children (TFF's worker included),
sampled every 50 ms; the peak of its anonymous part (resident memory less the
pages mapped from files, mostly TensorFlow's shared libraries and the
worker's binary, which the page cache holds once however many processes map
them) is recorded beside it. The JSON also records the database's content hash and
every round's sequences per client (`sequences`), which tie the timings to
the rounds they timed.

Writes results/benchmarks/round_speed.json and round_speed.md (with
--peer_comparison_only, ours_vs_peer.json and ours_vs_peer.md).
"""

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from absl import app
from absl import flags
import psutil

import report
import round_data
import step_flops

# The peer's round times moved by a third between runs on this machine
# (uniform medians 2.82 s with 6 rounds and 3.72 s with 16, both make bench on
# 2026-11-30), so the headline comparison takes 15 timed rounds; the scaling
# grid keeps the minimum of 5.
_ROUNDS = flags.DEFINE_integer('rounds', 16, 'Rounds per configuration of the '
                               'uniform and real comparisons (the first is '
                               'the warm-up).')
_SCALING_ROUNDS = flags.DEFINE_integer(
    'scaling_rounds', 6, 'Rounds per configuration of the scaling grid.')
_OUT = flags.DEFINE_string('output_dir', 'results/benchmarks',
                           'Where the JSON and markdown go.')
_TORCH_PYTHON = flags.DEFINE_string(
    'torch_python', 'benchmarks/.venv-torch/bin/python',
    'Python of the PyTorch venv (make bench creates it).')
_ONLY = flags.DEFINE_list(
    'only', None, 'Time only these configurations, on the uniform round (no '
    'real or scaling sections): e.g. vectorized,vectorized_fedprox,'
    'vectorized_scaffold for the algorithms against FedAvg.')
_SCALING = flags.DEFINE_bool('scaling', True,
                             'Also time ours/torch_peer at 20 and 50 clients '
                             'and LSTM widths 128 and 512.')
_YARDSTICK = flags.DEFINE_bool(
    'yardstick', True, 'Also measure the machine\'s float32 matmul rate and '
    'the one-client step (plain TF), and report the rounds\' arithmetic '
    'against that rate.')
_PEER_ONLY = flags.DEFINE_bool(
    'peer_comparison_only', False, 'Time only `ours` and the PyTorch peer, '
    'in every section: the comparisons the performance targets are stated '
    'in, without stock TFF\'s slow rounds. Written as ours_vs_peer.{json,md} '
    'beside the full round_speed.{json,md}, which it leaves alone.')
_PEER_CONFIGS = ('ours', 'torch_peer')
_REDDI_ROUNDS = 1200

HERE = os.path.dirname(os.path.abspath(__file__))


class Config:
  """One configuration's process, answering `round r` with its seconds."""

  def __init__(self, key, argv, env=None, cwd=None):
    self.key = key
    self.proc = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env=env, cwd=cwd or os.getcwd())
    self.peak_rss = 0
    self.peak_anon = 0
    # Each process's own peak, to tell where the total's memory is: the
    # configuration's Python (or PyTorch) process, and what it started (for
    # TFF, the worker and its sandbox).
    self.peak_own_rss = 0
    self.peak_started_rss = 0
    self.seconds = []
    self.info = self._read()
    self._sampling = True
    self._sampler = threading.Thread(target=self._sample, daemon=True)
    self._sampler.start()

  def _read(self):
    line = self.proc.stdout.readline()
    if not line:
      raise RuntimeError(f'benchmark configuration {self.key!r} exited '
                         f'with code {self.proc.wait()}; see its stderr above')
    return json.loads(line)

  def _sample(self):
    root = psutil.Process(self.proc.pid)
    while self._sampling:
      try:
        procs = [root] + root.children(recursive=True)
        infos = [p.memory_info() for p in procs]
        self.peak_rss = max(self.peak_rss, sum(i.rss for i in infos))
        self.peak_own_rss = max(self.peak_own_rss, infos[0].rss)
        self.peak_started_rss = max(self.peak_started_rss,
                                    sum(i.rss for i in infos[1:]))
        # `shared` is RssFile + RssShmem on Linux.
        self.peak_anon = max(self.peak_anon,
                             sum(i.rss - i.shared for i in infos))
      except psutil.Error:
        pass
      time.sleep(0.05)

  def run_round(self, round_num):
    self.proc.stdin.write(f'round {round_num}\n')
    self.proc.stdin.flush()
    self.seconds.append(self._read()['seconds'])

  def close(self):
    self._sampling = False
    self.proc.stdin.close()
    code = self.proc.wait(timeout=120)
    self._sampler.join()
    if code:
      raise RuntimeError(f'configuration {self.key!r} exited with {code}')

  def result(self):
    timed = self.seconds[1:]
    return {'median_s': statistics.median(timed),
            'first_round_s': self.seconds[0],
            'round_s': self.seconds,
            'peak_rss_mb': round(self.peak_rss / 2**20, 1),
            'peak_anon_mb': round(self.peak_anon / 2**20, 1),
            'peak_own_rss_mb': round(self.peak_own_rss / 2**20, 1),
            'peak_started_rss_mb': round(self.peak_started_rss / 2**20, 1),
            **{k: v for k, v in self.info.items() if k != 'ready'}}


def _mb(value) -> str:
  """A table's MB figure; '-' where an older result did not record it."""
  return '-' if value is None else f'{value:.0f}'


def tff_argv(config, data, units=256, algorithm='fedavg'):
  return [sys.executable, os.path.join(HERE, 'tff_round.py'),
          f'--config={config}', f'--data={data}', f'--units={units}',
          f'--algorithm={algorithm}']


def torch_argv(mode, data, units=256):
  return [_TORCH_PYTHON.value, os.path.join(HERE, 'torch_peer.py'),
          f'--mode={mode}', f'--data={data}', f'--units={units}']


def run_interleaved(configs, rounds):
  """Starts every configuration, then runs round r of each in turn.

  configs: (key, argv) pairs, or (key, argv, env) to give one its environment,
  or (key, argv, env, cwd) to also give it its working directory.
  """
  started = []
  try:
    for key, argv, *rest in configs:
      print(f'starting {key}', flush=True)
      started.append(Config(key, argv, *rest))
    for r in range(rounds):
      for config in started:
        config.run_round(r)
        print(f'round {r} {config.key}: {config.seconds[-1]:.2f} s',
              flush=True)
  finally:
    for config in started:
      if config.proc.poll() is None:
        config.close()
  return {config.key: config.result() for config in started}


def paired(measured, key, baseline):
  """Round-by-round comparison of `key` and `baseline` (timed rounds)."""
  ours = measured[key]['round_s'][1:]
  base = measured[baseline]['round_s'][1:]
  return {'median_ratio': statistics.median(o / p for o, p in zip(ours, base)),
          'ours_faster': sum(o < p for o, p in zip(ours, base)),
          'rounds': len(ours)}


def ours_vs_peer(measured):
  return paired(measured, 'ours', 'torch_peer')


def _comparison_line(comparison):
  return (f'Round by round, `ours` took {comparison["median_ratio"]:.2f}x the '
          f'peer\'s time (median of per-round ratios) and was faster in '
          f'{comparison["ours_faster"]} of {comparison["rounds"]} rounds.')


def _write(results, out_dir, command):
  uniform = results['uniform']
  stock = uniform.get('stock', {}).get('median_s')
  lines = [
      '# Round speed: TFF configurations and the PyTorch peer', '',
      f'Command: `{command}` ({results["meta"]["date"]}, '
      f'{results["meta"]["cpus"]} CPUs, {results["meta"]["cpu"]}, '
      f'{results["meta"]["rounds"]} rounds '
      'each, the first a warm-up; medians of the rest).', '',
      'Uniform round: 10 real Shakespeare clients x their first 64 sequences, '
      'batch 4, 1 epoch (160 steps), 2x256 LSTM.', '',
      '| configuration | median s/round | vs stock | first round s | '
      'peak RSS MB (all processes) |', '|---|---|---|---|---|']
  for key, r in uniform.items():
    vs_stock = f'{stock / r["median_s"]:.2f}x' if stock else '-'
    lines.append(f'| `{key}` | {r["median_s"]:.2f} | {vs_stock} | '
                 f'{r["first_round_s"]:.1f} | {r["peak_rss_mb"]:.0f} |')
  if 'uniform' in results['comparison']:
    lines += ['', _comparison_line(results['comparison']['uniform'])]
  if results['comparison'].get('algorithms'):
    lines.append('')
  for key, c in results['comparison'].get('algorithms', {}).items():
    lines.append(f'`{key}` took {c["median_ratio"]:.2f}x `vectorized` '
                 '(FedAvg)\'s time round by round (median of per-round '
                 'ratios).')
  if 'real' in results:
    lines += ['', 'Real round: 10 clients drawn as run_federated.py draws them, '
              'all their data (skewed sizes).', '',
              '| configuration | median s/round | first round s | peak RSS MB | '
              'of it anonymous MB | its own process\'s peak MB | '
              'peak MB of the processes it started |',
              '|---|---|---|---|---|---|---|']
    for key, r in results['real'].items():
      lines.append(f'| `{key}` | {r["median_s"]:.2f} | '
                   f'{r["first_round_s"]:.1f} | {r["peak_rss_mb"]:.0f} | ' +
                   ' | '.join(_mb(r.get(k)) for k in (
                       'peak_anon_mb', 'peak_own_rss_mb',
                       'peak_started_rss_mb')) + ' |')
    lines += ['', _comparison_line(results['comparison']['real'])]
  if 'scaling' in results:
    lines += ['', f'Scaling (uniform rounds, {results["meta"]["scaling_rounds"]}'
              ' rounds each, the first a warm-up):', '',
              '| configuration | clients | units | median s/round | '
              'peak RSS MB |', '|---|---|---|---|---|']
    for key, r in results['scaling'].items():
      lines.append(f'| `{r["config"]}` | {r["clients"]} | {r["units"]} | '
                   f'{r["median_s"]:.2f} | {r["peak_rss_mb"]:.0f} |')
    lines.append('')
    for name, c in results['comparison'].get('scaling', {}).items():
      clients, units = name.split('_')
      lines.append(f'{clients[:-1]} clients x {units[:-1]} units: `ours` took '
                   f'{c["median_ratio"]:.2f}x the peer\'s time round by round '
                   f'(median of per-round ratios), faster in '
                   f'{c["ours_faster"]} of {c["rounds"]}.')
  if 'yardstick' in results:
    lines += yardstick_lines(results)
  stem = _stem()
  if 'ours' not in uniform:
    report.write(out_dir, stem, results, lines)
    return
  ours = uniform['ours']['median_s']
  lines += ['', f'Projected wall time of {_REDDI_ROUNDS} rounds (Reddi et al. '
            f'2021 Shakespeare: 10 clients, batch 4, 1 epoch) at `ours`\' '
            f'uniform-round median: {_REDDI_ROUNDS * ours / 3600:.2f} h '
            '(training only, no evaluation).']
  if 'real' in results:
    real = results['real']['ours']['median_s']
    lines.append(f'At the real-round median: {_REDDI_ROUNDS * real / 3600:.2f} '
                 'h.')
  report.write(out_dir, stem, results, lines)


def _stem():
  return 'ours_vs_peer' if _PEER_ONLY.value else 'round_speed'


def main(argv):
  del argv
  command = 'make bench' + (' BENCH_ARGS="' + ' '.join(sys.argv[1:]) + '"'
                            if len(sys.argv) > 1 else '')
  rounds = _ROUNDS.value
  results = {'meta': {'date': datetime.date.today().isoformat(),
                      'cpus': os.cpu_count(), 'rounds': rounds,
                      'scaling_rounds': _SCALING_ROUNDS.value,
                      'machine': platform.processor() or platform.machine(),
                      'cpu': report.cpu_description(),
                      'data': round_data.database_identity()},
             'sequences': {}}
  with tempfile.TemporaryDirectory() as tmp:

    def data(kind, clients, num_rounds=rounds):
      name = f'{kind}_{clients}_{num_rounds}'
      path = os.path.join(tmp, f'{name}.npz')
      if not os.path.exists(path):
        built = round_data.build_rounds(kind, num_rounds, clients)
        round_data.save(path, built)
        # [round][client] sequences, so a later probe need not rebuild them.
        results['sequences'][name] = round_data.sequence_counts(built)
      return path

    results['comparison'] = {}
    uniform = data('uniform', 10)
    configs = [
        ('stock', tff_argv('stock', uniform)),
        ('ours', tff_argv('ours', uniform)),
        ('vectorized', tff_argv('vectorized', uniform)),
        ('vectorized_bf16', tff_argv('vectorized_bf16', uniform)),
        ('sequential', tff_argv('sequential', uniform)),
        ('torch_peer', torch_argv('sequential', uniform)),
        ('torch_peer_cohort', torch_argv('cohort', uniform)),
        ('vectorized_fedprox',
         tff_argv('vectorized', uniform, algorithm='fedprox')),
        ('vectorized_scaffold',
         tff_argv('vectorized', uniform, algorithm='scaffold')),
    ]
    if _ONLY.value:
      unknown = set(_ONLY.value) - {key for key, _ in configs}
      if unknown:
        raise app.UsageError(f'--only: unknown {", ".join(sorted(unknown))}')
      configs = [c for c in configs if c[0] in _ONLY.value]
    if _PEER_ONLY.value:
      configs = [c for c in configs if c[0] in _PEER_CONFIGS]
    results['uniform'] = run_interleaved(configs, rounds)
    if {'ours', 'torch_peer'} <= results['uniform'].keys():
      results['comparison']['uniform'] = ours_vs_peer(results['uniform'])
    if 'vectorized' in results['uniform']:
      results['comparison']['algorithms'] = {
          key: paired(results['uniform'], key, 'vectorized')
          for key in ('vectorized_fedprox', 'vectorized_scaffold')
          if key in results['uniform']}
    _write(results, _OUT.value, command)   # each section lands as it ends
    if _ONLY.value:
      print(open(os.path.join(_OUT.value, f'{_stem()}.md')).read())
      return
    real = data('real', 10)
    real_configs = [('stock', tff_argv('stock', real)),
                    ('ours', tff_argv('ours', real)),
                    ('torch_peer', torch_argv('sequential', real))]
    results['real'] = run_interleaved(
        [c for c in real_configs
         if not _PEER_ONLY.value or c[0] in _PEER_CONFIGS], rounds)
    results['comparison']['real'] = ours_vs_peer(results['real'])
    _write(results, _OUT.value, command)
    if _SCALING.value:
      scaling = {}
      for clients, units in ((20, 256), (50, 256), (10, 128), (10, 512)):
        path = data('uniform', clients, _SCALING_ROUNDS.value)
        measured = run_interleaved([
            ('ours', tff_argv('ours', path, units)),
            ('torch_peer', torch_argv('sequential', path, units)),
        ], _SCALING_ROUNDS.value)
        for key, r in measured.items():
          scaling[f'{key}_{clients}c_{units}u'] = {
              'config': key, 'clients': clients, 'units': units, **r}
        results['scaling'] = scaling
        results['comparison'].setdefault('scaling', {})[
            f'{clients}c_{units}u'] = ours_vs_peer(measured)
        _write(results, _OUT.value, command)
    if _YARDSTICK.value:
      results['yardstick'] = measure_yardstick()
  _write(results, _OUT.value, command)
  print(open(os.path.join(_OUT.value, f'{_stem()}.md')).read())


def _probe_json(script, *args):
  """The last stdout line of a probe run with --json, parsed."""
  out = subprocess.run(
      [sys.executable, os.path.join(HERE, 'probes', script), '--json', *args],
      check=True, stdout=subprocess.PIPE, text=True).stdout
  return json.loads(out.strip().splitlines()[-1])


def measure_yardstick():
  """The float32 matmul rate and the one-client step (plain TF, the
  worker's thread settings), each in processes of their own."""
  print('measuring the matmul ceiling and the one-client step', flush=True)
  ceiling = _probe_json('cpu_ceiling.py', '--dtypes=float32')['float32']
  step = _probe_json('step_parts.py', '--clients=1')
  return {'ceiling_gflops': ceiling, 'one_client_step_ms': step['full_step'],
          'step_gflop': step_flops.char_lm_step_flops() / 1e9}


def _gflops(gflop, seconds):
  return gflop / seconds if seconds else float('nan')


def yardstick_lines(results):
  """Markdown: the one-client step and the rounds against the ceiling."""
  y = results['yardstick']
  one, two = (y['ceiling_gflops']['one_thread'],
              y['ceiling_gflops']['two_processes'])
  step_rate = _gflops(y['step_gflop'], y['one_client_step_ms'] / 1000)
  lines = ['', 'Against the machine\'s float32 matmul rate '
           '(`benchmarks/probes/cpu_ceiling.py`: large square matmuls, one '
           f'thread {one:.1f} GFLOP/s, two one-thread processes {two:.1f}). '
           f'A client\'s local step is {y["step_gflop"]:.3f} GFLOP of '
           'matmuls (`benchmarks/step_flops.py`).', '',
           '| what | GFLOP | seconds | GFLOP/s | of one thread | '
           'of two cores |', '|---|---|---|---|---|---|',
           f'| one-client step (plain TF, `probes/step_parts.py --clients=1`)'
           f' | {y["step_gflop"]:.2f} | {y["one_client_step_ms"] / 1000:.4f} '
           f'| {step_rate:.1f} | {step_rate / one:.0%} | {step_rate / two:.0%}'
           ' |']
  per_sequence = step_flops.char_lm_step_flops(batch_size=1) / 1e9
  rounds = results['meta']['rounds']
  sections = [(kind, results[kind], f'{kind}_10_{rounds}')
              for kind in ('uniform', 'real') if kind in results]
  for kind, measured, name in sections:
    counts = results['sequences'].get(name)
    for key in ('ours', 'torch_peer'):
      if key not in measured or counts is None:
        continue
      timed = list(zip(counts, measured[key]['round_s']))[1:]
      gflop = statistics.median(per_sequence * sum(c) for c, _ in timed)
      rate = statistics.median(_gflops(per_sequence * sum(c), s)
                               for c, s in timed)
      lines.append(f'| {kind} round, `{key}` (median of rounds) | '
                   f'{gflop:.0f} | {measured[key]["median_s"]:.2f} | '
                   f'{rate:.1f} | {rate / one:.0%} | {rate / two:.0%} |')
  return lines


if __name__ == '__main__':
  app.run(main)
