"""Writing an experiment dir: hparams (and the resume rule), metrics, checkpoints.

The dir's layout is layout.py's. Everything is written with TFF's
`tff.program` release and state managers. The CSV manager deletes rows at or
after a round before writing it, so a run resumed from a checkpoint never
duplicates a round.
"""

import csv
import json
import os
from typing import Any, Callable, Optional

import tensorflow_federated as tff

from tff_lstm.training import layout

# The resume rule. A run resumes when everything that decides what is
# trained is unchanged: task, data (by content), model, algorithm, optimizers,
# aggregation, clients per round, local epochs and batches, seeds. What may
# change is how long it trains (extending a run, or evaluating it at its last
# checkpoint, is still the same run), how often it evaluates, checkpoints or
# restarts its worker, how many clients the periodic and personalization
# evaluations use, where its rounds run (the paths give the same model), and
# how it reports. A flag added after a run was recorded compares at its
# default (see `write_hparams`).
RESUMABLE_CHANGES = frozenset({
    # How long: federated rounds, the centralized budgets.
    'total_rounds', 'num_epochs', 'num_steps', 'max_examples_seen',
    'match_examples_of',
    # How often, and how many evaluation clients.
    'rounds_per_eval', 'rounds_per_checkpoint', 'rounds_per_worker_restart',
    'clients_per_eval', 'final_eval_clients', 'personalization_clients',
    'personalization_epochs', 'personalization_learning_rate',
    # Where the rounds run and where the files are.
    'worker_addresses', 'worker_tls_dir', 'worker_timeout_s',
    'allow_exposed_worker', 'client_parallelism',
    'resolved_client_parallelism',
    'root_output_dir', 'experiment_name',
    # Reporting; the delta of a DP run's (epsilon, delta) is reporting too:
    # it changes what is said about the noise, not the noise.
    'progress_bar', 'verbose', 'dp_delta',
})
# The data's identity (file -> content hash), recorded with the flags.
DATA_IDENTITY_KEY = 'data_identity'
# Recorded for readers, and derived from flags that are compared: the
# aggregation chain in words (its wording may change between versions), and a
# DP run's accounting (the delta it reports at, and what the epsilon assumes).
DESCRIPTIVE_KEYS = frozenset({'aggregation', 'privacy_accounting'})
# Where the data is read from may change when its identity is recorded and
# unchanged; without a recorded identity the location is all there is.
DATA_LOCATION_FLAGS = frozenset({'cache_dir', 'database_path'})


class HparamsMismatchError(ValueError):
  """The experiment dir belongs to a run with different settings."""


def experiment_dir(root_output_dir: str, experiment_name: str) -> str:
  if (not experiment_name or os.sep in experiment_name
      or experiment_name in (os.curdir, os.pardir)):
    raise ValueError(f'--experiment_name must be a plain name, got '
                     f'{experiment_name!r}.')
  return os.path.join(os.path.expanduser(root_output_dir), experiment_name)


def _atomic_write(path: str, text: str) -> None:
  tmp = f'{path}.tmp'
  with open(tmp, 'w') as f:
    f.write(text)
  os.replace(tmp, path)


def read_hparams(exp_dir: str) -> Optional[dict[str, Any]]:
  """The flags an earlier run in `exp_dir` recorded (None: no run yet)."""
  path = os.path.join(exp_dir, layout.HPARAMS_JSON)
  if not os.path.exists(path):
    return None
  with open(path) as f:
    try:
      return json.load(f)
    except json.JSONDecodeError as e:
      raise ValueError(f'{path} is damaged ({e}); the run\'s settings are '
                       'unknown, so it cannot resume. Pick a new '
                       '--experiment_name.') from e


def write_hparams(exp_dir: str, hparams: dict[str, Any],
                  defaults: Optional[dict[str, Any]] = None,
                  upgrade: Optional[Callable[[dict[str, Any]],
                                             dict[str, Any]]] = None) -> None:
  """Records the flags; refuses a dir whose earlier run used other settings.

  `defaults` holds each flag's default. A flag added after the earlier run
  started is missing from its record; that run used what the flag's default
  does, so it resumes as long as the flag is left at its default. (A new flag
  must therefore default to the old behaviour.) `upgrade` restates an earlier
  record in today's terms where a flag's meaning changed (e.g.
  `aggregation.flags.upgrade_record`) before it is compared.
  """
  defaults = defaults or {}
  os.makedirs(exp_dir, exist_ok=True)
  path = os.path.join(exp_dir, layout.HPARAMS_JSON)
  if os.path.exists(path):
    previous = read_hparams(exp_dir)
    if upgrade is not None:
      previous = upgrade(previous)
    _check_same_data(exp_dir, previous, hparams)
    free = set(RESUMABLE_CHANGES) | {DATA_IDENTITY_KEY} | DESCRIPTIVE_KEYS
    if DATA_IDENTITY_KEY in previous:
      free |= DATA_LOCATION_FLAGS
    before = lambda k: previous[k] if k in previous else defaults.get(k)
    changed = sorted(
        k for k in set(previous) | set(hparams)
        if k not in free and before(k) != hparams.get(k))
    if changed:
      details = ', '.join(
          f'--{k}: {before(k)!r} before, {hparams.get(k)!r} now'
          for k in changed)
      raise HparamsMismatchError(
          f'{exp_dir} holds a run with other settings ({details}). Resume it '
          'with the same flags, or pick a new --experiment_name.')
  _atomic_write(path, json.dumps(hparams, indent=2, sort_keys=True) + '\n')
  rows = [[k, json.dumps(v)] for k, v in sorted(hparams.items())]
  csv_path = os.path.join(exp_dir, layout.HPARAMS_CSV)
  with open(f'{csv_path}.tmp', 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(['name', 'value'])
    writer.writerows(rows)
  os.replace(f'{csv_path}.tmp', csv_path)


def _check_same_data(exp_dir: str, previous: dict[str, Any],
                     hparams: dict[str, Any]) -> None:
  """Refuses a resume on other data than the run's record names.

  A record from before identities were kept has none; it resumes on the
  location flags alone.
  """
  if DATA_IDENTITY_KEY not in previous or DATA_IDENTITY_KEY not in hparams:
    return
  old, new = previous[DATA_IDENTITY_KEY], hparams[DATA_IDENTITY_KEY]
  if old == new:
    return
  differences = [
      f'{name}: {old.get(name, "absent")} before, {new.get(name, "absent")} '
      'now' for name in sorted(set(old) | set(new))
      if old.get(name) != new.get(name)]
  raise HparamsMismatchError(
      f'{exp_dir} was trained on other data ({"; ".join(differences)}; '
      'content sha256). The file at --database_path / --cache_dir was '
      'replaced since: resume on the data the run started on, or pick a new '
      '--experiment_name.')


def metrics_release_managers(exp_dir: str) -> list[tff.program.ReleaseManager]:
  """CSV (rewritten atomically each round) and TensorBoard release managers."""
  return [
      tff.program.CSVFileReleaseManager(
          os.path.join(exp_dir, layout.METRICS_CSV),
          save_mode=tff.program.CSVSaveMode.WRITE,
          key_fieldname=layout.ROUND_KEY),
      tff.program.TensorBoardReleaseManager(
          os.path.join(exp_dir, layout.TENSORBOARD_DIR)),
  ]


def program_state_manager(exp_dir: str) -> tff.program.FileProgramStateManager:
  """Checkpoints: TFF writes each to a temp dir and renames it into place."""
  return tff.program.FileProgramStateManager(
      layout.checkpoint_dir(exp_dir), prefix=layout.PROGRAM_STATE_PREFIX,
      keep_total=3, keep_first=False)


def write_final_metrics(exp_dir: str, metrics: dict[str, Any]) -> str:
  path = os.path.join(exp_dir, layout.FINAL_METRICS_JSON)
  _atomic_write(path, json.dumps(metrics, indent=2, sort_keys=True) + '\n')
  return path


def drop_rounds_after(exp_dir: str, last_round: int) -> int:
  """Removes metrics rows of rounds after `last_round` (the resumed checkpoint).

  Those rounds' model states were lost with the interrupted run; the resumed
  run writes them again (TFF's CSV manager would also replace them when it
  re-releases them, but not if the resumed run stops earlier). Returns how
  many rows were dropped.
  """
  path = os.path.join(exp_dir, layout.METRICS_CSV)
  if not os.path.exists(path):
    return 0
  with open(path, newline='') as f:
    reader = csv.DictReader(f)
    fieldnames, rows = reader.fieldnames, list(reader)
  kept = [r for r in rows if int(r[layout.ROUND_KEY]) <= last_round]
  if len(kept) < len(rows):
    with open(f'{path}.tmp', 'w', newline='') as f:
      writer = csv.DictWriter(f, fieldnames=fieldnames)
      writer.writeheader()
      writer.writerows(kept)
    os.replace(f'{path}.tmp', path)
  return len(rows) - len(kept)


def restate_round_metrics(exp_dir: str,
                           round_metrics_fn: Callable[[int], dict[str, Any]]
                           ) -> int:
  """Rewrites the kept rows' round-only metrics as `round_metrics_fn` gives them.

  Metrics that depend only on the round number (a DP run's epsilon and delta)
  follow the resumed command's reporting settings (`--dp_delta`), so that one
  metrics.csv never mixes two deltas. Returns how many rows changed.
  (TensorBoard events already written keep their values.)
  """
  path = os.path.join(exp_dir, layout.METRICS_CSV)
  if not os.path.exists(path):
    return 0
  with open(path, newline='') as f:
    reader = csv.DictReader(f)
    fieldnames, rows = list(reader.fieldnames or []), list(reader)
  changed = 0
  for row in rows:
    values = {k: str(v) for k, v in _flatten(
        round_metrics_fn(int(row[layout.ROUND_KEY]))).items()}
    new = {**row, **values}
    if new != row:
      changed += 1
    row.update(values)
    fieldnames += [k for k in values if k not in fieldnames]
  if changed:
    with open(f'{path}.tmp', 'w', newline='') as f:
      writer = csv.DictWriter(f, fieldnames=fieldnames)
      writer.writeheader()
      writer.writerows(rows)
    os.replace(f'{path}.tmp', path)
  return changed


def _flatten(metrics: dict[str, Any], prefix: str = '') -> dict[str, Any]:
  """{'a': {'b': 1}} -> {'a/b': 1}, the keys TFF's CSV manager writes."""
  flat = {}
  for key, value in metrics.items():
    name = f'{prefix}{key}'
    if isinstance(value, dict):
      flat.update(_flatten(value, f'{name}/'))
    else:
      flat[name] = value
  return flat


def read_metrics_csv(exp_dir: str) -> list[dict[str, str]]:
  with open(os.path.join(exp_dir, layout.METRICS_CSV), newline='') as f:
    return list(csv.DictReader(f))
