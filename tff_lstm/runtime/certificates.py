"""Certificates for mutual TLS between a controller and its TFF workers.

A worker runs any TensorFlow graph its controller sends, so each side must
prove who it is: the worker accepts only controllers whose certificate our CA
signed, and the controller talks only to workers whose certificate our CA
signed for the host it dialled. One CA per deployment; keep `ca.key` offline
(it is needed again only to make or rotate certificates).

  <dir>/ca.pem                 the CA certificate (both sides trust it)
  <dir>/ca.key                 the CA's key (0600; not needed to run)
  <dir>/worker.pem, .key       for run_worker.py --tls_dir=<dir>
  <dir>/controller.pem, .key   for run_federated.py --worker_tls_dir=<dir>

Keys are ECDSA P-256; certificates last `days` (default a year).
"""

import dataclasses
import datetime
import ipaddress
import os
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.oid import NameOID

CA_CERT, CA_KEY = 'ca.pem', 'ca.key'
WORKER_CERT, WORKER_KEY = 'worker.pem', 'worker.key'
CONTROLLER_CERT, CONTROLLER_KEY = 'controller.pem', 'controller.key'
# Always valid for loopback, so a deployment's certificates also serve local
# tests of it.
_LOOPBACK_NAMES = ('localhost', '127.0.0.1', '::1')


@dataclasses.dataclass(frozen=True)
class TlsPaths:
  """The PEM files one side uses: its certificate and key, and the CA."""

  cert: str
  key: str
  ca: str

  def read(self) -> tuple[bytes, bytes, bytes]:
    """(certificate chain, private key, CA certificate) bytes."""
    def load(path):
      with open(path, 'rb') as f:
        return f.read()
    return load(self.cert), load(self.key), load(self.ca)


def _paths(directory: str, cert: str, key: str) -> TlsPaths:
  paths = TlsPaths(os.path.join(directory, cert), os.path.join(directory, key),
                   os.path.join(directory, CA_CERT))
  missing = [p for p in (paths.cert, paths.key, paths.ca)
             if not os.path.isfile(p)]
  if missing:
    raise FileNotFoundError(
        f'{", ".join(missing)} missing; make the certificates with '
        '`.venv/bin/python experiments/make_worker_certificates.py '
        f'--out_dir={directory} --worker_hosts=HOST,...`.')
  return paths


def worker_paths(directory: str) -> TlsPaths:
  return _paths(directory, WORKER_CERT, WORKER_KEY)


def controller_paths(directory: str) -> TlsPaths:
  return _paths(directory, CONTROLLER_CERT, CONTROLLER_KEY)


def _write(path: str, data: bytes, private: bool) -> None:
  fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
               0o600 if private else 0o644)
  with os.fdopen(fd, 'wb') as f:
    f.write(data)


def _key_pem(key) -> bytes:
  return key.private_bytes(serialization.Encoding.PEM,
                           serialization.PrivateFormat.PKCS8,
                           serialization.NoEncryption())


def _subject_names(hosts: Sequence[str]) -> list[x509.GeneralName]:
  names = []
  for host in dict.fromkeys([*hosts, *_LOOPBACK_NAMES]):
    try:
      names.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
      names.append(x509.DNSName(host))
  return names


def _certificate(subject: str, key, issuer: x509.Name, issuer_key, days: int,
                 *, ca: bool, usage=None, hosts: Sequence[str] = ()):
  now = datetime.datetime.now(datetime.timezone.utc)
  builder = (x509.CertificateBuilder()
             .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                         subject)]))
             .issuer_name(issuer)
             .public_key(key.public_key())
             .serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(minutes=5))
             .not_valid_after(now + datetime.timedelta(days=days))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None),
                            critical=True))
  if usage is not None:
    builder = builder.add_extension(x509.ExtendedKeyUsage([usage]),
                                    critical=False)
  if hosts:
    builder = builder.add_extension(
        x509.SubjectAlternativeName(_subject_names(hosts)), critical=False)
  return builder.sign(issuer_key, hashes.SHA256())


def make_certificates(out_dir: str, worker_hosts: Sequence[str],
                      days: int = 365) -> None:
  """Writes a new CA and the worker and controller certificates it signs.

  Args:
    out_dir: where to write (created 0700); existing files are replaced.
    worker_hosts: the host names or IPs controllers dial the workers by (the
      controller checks the worker's certificate against the address).
    days: validity of every certificate.
  """
  if days < 1:
    raise ValueError(f'days must be >= 1, got {days}.')
  os.makedirs(out_dir, mode=0o700, exist_ok=True)
  ca_key = ec.generate_private_key(ec.SECP256R1())
  ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                          'tff-lstm worker CA')])
  ca_cert = _certificate('tff-lstm worker CA', ca_key, ca_name, ca_key, days,
                         ca=True)
  _write(os.path.join(out_dir, CA_KEY), _key_pem(ca_key), private=True)
  _write(os.path.join(out_dir, CA_CERT),
         ca_cert.public_bytes(serialization.Encoding.PEM), private=False)
  for subject, cert_name, key_name, usage, hosts in (
      ('tff-lstm worker', WORKER_CERT, WORKER_KEY,
       ExtendedKeyUsageOID.SERVER_AUTH, worker_hosts),
      ('tff-lstm controller', CONTROLLER_CERT, CONTROLLER_KEY,
       ExtendedKeyUsageOID.CLIENT_AUTH, ())):
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate(subject, key, ca_name, ca_key, days, ca=False,
                        usage=usage, hosts=hosts)
    _write(os.path.join(out_dir, key_name), _key_pem(key), private=True)
    _write(os.path.join(out_dir, cert_name),
           cert.public_bytes(serialization.Encoding.PEM), private=False)
