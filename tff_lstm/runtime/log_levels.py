"""What the user sees on the terminal: warnings and errors, not INFO noise."""

import logging as py_logging
import warnings

from absl import logging
import tensorflow as tf


def quiet_logging(verbose: bool = False) -> None:
  """Shows the user what matters: warnings and errors, not TF/TFF INFO noise."""
  level = logging.INFO if verbose else logging.WARNING
  logging.set_verbosity(level)
  tf.get_logger().setLevel(py_logging.INFO if verbose else py_logging.ERROR)
  if not verbose:
    warnings.filterwarnings('ignore', category=DeprecationWarning)
    warnings.filterwarnings('ignore', category=FutureWarning)
