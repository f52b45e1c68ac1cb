"""Last step of `make setup`: proves the pinned stack imports together."""

import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

# pylint: disable=g-import-not-at-top,unused-import
import dp_accounting
import tensorflow as tf
import tensorflow_federated as tff
import tensorflow_privacy

import tff_lstm

print(
    f'set-up OK: tensorflow {tf.__version__}, tensorflow_federated '
    f'{tff.__version__}, tensorflow_privacy {tensorflow_privacy.__version__}, '
    'dp_accounting imported'
)
