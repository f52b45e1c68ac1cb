"""tff_lstm.runtime's public names, and what importing it does and does not do."""

import signal
import subprocess
import sys

from tff_lstm import runtime

# The sandbox launcher starts with every local worker; the TF-only helpers
# load with every model. None of them may pay for importing TFF.
_IMPORTS_NO_TFF = '''
import sys
import tff_lstm.runtime
from tff_lstm.runtime import processes, sandbox
assert 'tensorflow_federated' not in sys.modules, 'runtime imported TFF'
assert 'tensorflow' not in sys.modules, 'runtime imported TensorFlow'
print('ok')
'''


def test_importing_the_package_or_its_launcher_imports_no_tff():
  result = subprocess.run([sys.executable, '-c', _IMPORTS_NO_TFF],
                          capture_output=True, text=True, timeout=60,
                          check=False)
  assert result.stdout.strip() == 'ok', result.stderr[-2000:]


def test_every_public_name_resolves():
  for name in runtime.__all__:
    assert getattr(runtime, name) is not None, name


def test_configure_installs_no_signal_handler_unless_asked(federated_runtime):
  """The session's worker was configured as a library caller does."""
  assert runtime.active_worker() is federated_runtime
  from tff_lstm.runtime import default_context  # pylint: disable=g-import-not-at-top
  assert signal.getsignal(signal.SIGTERM) is not (
      default_context._exit_on_sigterm)  # pylint: disable=protected-access
