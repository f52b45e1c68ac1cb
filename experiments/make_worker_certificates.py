"""Makes a CA and the mutual-TLS certificates of TFF workers and controllers.

  .venv/bin/python experiments/make_worker_certificates.py --out_dir=certs \
      --worker_hosts=worker1.example.org,10.0.0.5

Copy `ca.pem`, `worker.pem` and `worker.key` to each worker host
(run_worker.py --tls_dir=...), and `ca.pem`, `controller.pem` and
`controller.key` to the controller (run_federated.py --worker_tls_dir=...).
Rerun it to rotate: a new CA replaces the old one everywhere (see
docs/distributed.md).
"""

import sys

from absl import app
from absl import flags

from tff_lstm.runtime import certificates

_OUT_DIR = flags.DEFINE_string('out_dir', None, 'Where to write the files.')
_WORKER_HOSTS = flags.DEFINE_list(
    'worker_hosts', [], 'Host names or IPs the controller dials the workers '
    'by (loopback is always included).')
_DAYS = flags.DEFINE_integer('days', 365, 'Validity of the certificates.')
flags.mark_flag_as_required('out_dir')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  try:
    certificates.make_certificates(_OUT_DIR.value, _WORKER_HOSTS.value,
                                          _DAYS.value)
  except (ValueError, OSError) as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  print(f'wrote the CA, worker and controller certificates to '
        f'{_OUT_DIR.value}', flush=True)
  return 0


if __name__ == '__main__':
  app.run(main)
