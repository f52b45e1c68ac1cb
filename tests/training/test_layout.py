"""layout.py: the one spelling of a run's files, shared by writers and readers."""

import subprocess
import sys

from tff_lstm.training import layout
from tff_lstm.training import metrics_files
from tff_lstm.training import outputs

# The readers of runs start without TensorFlow because layout.py and
# metrics_files.py need none.
_READERS_IMPORT_NO_TF = '''
import sys
from tff_lstm.training import layout, metrics_files, plotting, summary
assert 'tensorflow' not in sys.modules, sorted(
    m for m in sys.modules if m.startswith('tensorflow'))[:3]
print('ok')
'''


def test_the_readers_import_no_tensorflow():
  result = subprocess.run([sys.executable, '-c', _READERS_IMPORT_NO_TF],
                          capture_output=True, text=True, timeout=120,
                          check=False)
  assert result.stdout.strip() == 'ok', result.stderr[-2000:]


def test_what_the_writers_write_the_readers_find(tmp_path):
  exp_dir = str(tmp_path / 'run')
  outputs.write_hparams(exp_dir, {'lr': 0.5})
  outputs.write_final_metrics(exp_dir, {'rounds': 3})
  files = metrics_files.experiment_files(exp_dir)
  assert metrics_files.read_json(files.hparams_json) == {'lr': 0.5}
  assert metrics_files.read_json(files.final_metrics_json) == {'rounds': 3}
  assert (tmp_path / 'run' / layout.HPARAMS_CSV).is_file()
