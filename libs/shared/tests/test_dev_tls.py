"""The development CA: made once, leaves signed by it for the local names."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

from cerc_shared.dev_tls import LEAVES, ensure_dev_pki
from cryptography import x509


def test_the_ca_signs_a_leaf_per_server_for_the_loopback_names(tmp_path: Path) -> None:
    pki = ensure_dev_pki(tmp_path / "tls")
    ca = x509.load_pem_x509_certificate(pki.ca.read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for leaf in LEAVES:
        cert = x509.load_pem_x509_certificate(pki.cert(leaf).read_bytes())
        cert.verify_directly_issued_by(ca)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert "localhost" in names.get_values_for_type(x509.DNSName)
        assert ipaddress.ip_address("127.0.0.1") in names.get_values_for_type(x509.IPAddress)
        # Private keys are readable by their owner only.
        assert stat.S_IMODE(pki.key(leaf).stat().st_mode) == 0o600


def test_a_second_run_keeps_the_files_and_a_new_ca_reissues_the_leaves(tmp_path: Path) -> None:
    pki = ensure_dev_pki(tmp_path / "tls")
    first = {p.name: p.read_bytes() for p in pki.directory.iterdir()}
    ensure_dev_pki(pki.directory)
    assert {p.name: p.read_bytes() for p in pki.directory.iterdir()} == first

    pki.ca.unlink()  # a lost CA: a new one, and leaves it signed
    ensure_dev_pki(pki.directory)
    ca = x509.load_pem_x509_certificate(pki.ca.read_bytes())
    for leaf in LEAVES:
        assert pki.cert(leaf).read_bytes() != first[f"{leaf}.crt"]
        x509.load_pem_x509_certificate(pki.cert(leaf).read_bytes()).verify_directly_issued_by(ca)
