"""The local development CA and the certificates of the gateway and the broker.

Created on first use under ``$CERC_CACHE/tls`` (``~/.cache/cercollettiva/tls``),
never in the repository: a CA key is a secret even in development, and each
machine has its own. Envoy (the gateway's HTTPS listener) and Mosquitto (the
devices' MQTTS listener) serve the leaf certificates; the simulator, the
end-to-end tests and ``curl --cacert`` trust ``ca.crt``. In Kubernetes the
certificates come from cert-manager instead (deploy/k8s/base/tls).

    python -m cerc_shared.dev_tls        # ensure, print the directory

Safe to run again: existing files are kept while they have more than 30 days
left; a leaf is reissued when it is near its end or its CA changed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# The names the local servers answer to; a leaf covers all of them.
LOCAL_NAMES = ("localhost",)
LOCAL_ADDRESSES = ("127.0.0.1", "::1")
LEAVES = ("gateway", "mqtt")
CA_DAYS = 3650
LEAF_DAYS = 397
RENEW_BEFORE = dt.timedelta(days=30)


@dataclass(frozen=True)
class DevPki:
    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.crt"

    def cert(self, leaf: str) -> Path:
        return self.directory / f"{leaf}.crt"

    def key(self, leaf: str) -> Path:
        return self.directory / f"{leaf}.key"


def default_directory() -> Path:
    cache = os.environ.get("CERC_CACHE") or str(Path.home() / ".cache" / "cercollettiva")
    return Path(cache) / "tls"


def _write_private(path: Path, data: bytes) -> None:
    # Written whole under a temporary name: a reader never sees half a key.
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    tmp.replace(path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _fresh(cert_path: Path, now: dt.datetime) -> x509.Certificate | None:
    with contextlib.suppress(FileNotFoundError, ValueError):
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        if cert.not_valid_after_utc - now > RENEW_BEFORE:
            return cert
    return None


def _ca(pki: DevPki, now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key_path = pki.directory / "ca.key"
    cert = _fresh(pki.ca, now)
    if cert is not None and key_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return cert, key
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "CerCollettiva development"),
            x509.NameAttribute(NameOID.COMMON_NAME, "CerCollettiva development CA"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(key_path, _key_pem(key))
    pki.ca.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _leaf(
    pki: DevPki,
    leaf: str,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    now: dt.datetime,
) -> None:
    cert = _fresh(pki.cert(leaf), now)
    if cert is not None and pki.key(leaf).exists():
        # Kept only while the current CA signed it (a new CA reissues every leaf).
        with contextlib.suppress(ValueError, TypeError, InvalidSignature):
            cert.verify_directly_issued_by(ca_cert)
            return
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in LOCAL_NAMES]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in LOCAL_ADDRESSES]
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"cercollettiva-{leaf}.local")])
        )
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(pki.key(leaf), _key_pem(key))
    # The chain the server sends: the leaf, then the CA.
    pki.cert(leaf).write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + ca_cert.public_bytes(serialization.Encoding.PEM)
    )


def ensure_dev_pki(directory: Path | None = None) -> DevPki:
    """The development CA and leaves, created or renewed as needed."""
    pki = DevPki(directory or default_directory())
    pki.directory.mkdir(parents=True, exist_ok=True)
    os.chmod(pki.directory, 0o700)
    now = dt.datetime.now(dt.UTC)
    ca_cert, ca_key = _ca(pki, now)
    for leaf in LEAVES:
        _leaf(pki, leaf, ca_cert, ca_key, now)
    return pki


if __name__ == "__main__":
    sys.stdout.write(f"{ensure_dev_pki().directory}\n")
