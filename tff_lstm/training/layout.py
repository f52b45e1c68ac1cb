"""The files of an experiment dir, and of a run's copies in results/.

  <root_output_dir>/<experiment_name>/
    hparams.json, hparams.csv   the flags of the run
    metrics.csv                 one row per round: train metrics, test metrics
                                every --rounds_per_eval rounds, round time
    tensorboard/                the same metrics as TensorBoard events
    checkpoints/                federated runs: tff.program.FileProgramStateManager
                                states program_state_<round>/; centralized
                                runs: tf.train checkpoints round-<round>
    client_states/              per-client state beside each checkpoint
                                (algorithms that keep one, e.g. SCAFFOLD)
    final_metrics.json          evaluation of the final model: on the full test
                                split (final_test) or on a seeded sample of
                                test clients (final_test_sample)
    .lock                       held by the run writing here (one at a time)

results/<folder>/ keeps a finished run's files as NAME.metrics.csv,
NAME.final_metrics.json and NAME.hparams.json (experiments/record_runs.py).

The one place these names are spelled. Imports nothing beyond the standard
library, so the tools that read runs (tables, plots, the recording check)
start without TensorFlow.
"""

import os

HPARAMS_JSON = 'hparams.json'
HPARAMS_CSV = 'hparams.csv'
METRICS_CSV = 'metrics.csv'
FINAL_METRICS_JSON = 'final_metrics.json'
TENSORBOARD_DIR = 'tensorboard'
CHECKPOINT_DIR = 'checkpoints'
# A federated checkpoint: CHECKPOINT_DIR/<PROGRAM_STATE_PREFIX><round>/.
PROGRAM_STATE_PREFIX = 'program_state_'
# A centralized checkpoint: CHECKPOINT_DIR/<MODEL_CHECKPOINT_NAME>-<round>.*
MODEL_CHECKPOINT_NAME = 'round'
# Per-client state of algorithms that keep one (training/client_states.py).
CLIENT_STATES_DIR = 'client_states'
LOCK_FILE = '.lock'
# final_metrics.json's test metrics: FULL_TEST_KEY when every test client was
# evaluated, and only then, so that a table comparing runs on the full test
# split never picks up a sample's; else SAMPLE_TEST_KEY, beside the sample's
# size.
FULL_TEST_KEY = 'final_test'
SAMPLE_TEST_KEY = 'final_test_sample'
SAMPLE_CLIENTS_KEY = 'final_test_sample_clients'
# metrics.csv's key column: the round (a centralized run's rounds are
# --steps_per_eval steps).
ROUND_KEY = 'round'

# A copy in results/ is NAME + the suffix of the file it copies.
RECORDED_SUFFIXES = {METRICS_CSV: '.metrics.csv',
                     FINAL_METRICS_JSON: '.final_metrics.json',
                     HPARAMS_JSON: '.hparams.json'}


def checkpoint_dir(exp_dir: str) -> str:
  return os.path.join(exp_dir, CHECKPOINT_DIR)


def client_states_dir(exp_dir: str) -> str:
  return os.path.join(exp_dir, CLIENT_STATES_DIR)
