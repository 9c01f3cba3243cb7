"""Certificates for tests of TLS: made on the spot with the ``cryptography`` package, never checked in.

:meth:`Pki.create` writes PEM files: a CA that signs a server certificate for
127.0.0.1 and localhost, a certificate for another host name (to prove a name
mismatch is refused), a client certificate, and a second CA that signs nothing
(the "wrong CA"). EC P-256 keys: creating all of them takes a few milliseconds.
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Pki:
    """PEM files of one test session's certificates (see the module docstring)."""

    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def other_ca(self) -> Path:
        return self.directory / "other-ca.pem"

    @property
    def server_cert(self) -> Path:
        return self.directory / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.directory / "server-key.pem"

    @property
    def wrong_host_cert(self) -> Path:
        return self.directory / "wrong-host.pem"

    @property
    def wrong_host_key(self) -> Path:
        return self.directory / "wrong-host-key.pem"

    @property
    def client_cert(self) -> Path:
        return self.directory / "client.pem"

    @property
    def client_key(self) -> Path:
        return self.directory / "client-key.pem"

    @classmethod
    def create(cls, directory: Path) -> Pki:
        directory.mkdir(parents=True, exist_ok=True)
        pki = cls(directory)
        ca_key, ca_cert = _self_signed_ca("ticketctl test CA")
        _, other_cert = _self_signed_ca("ticketctl test CA that signed nothing here")
        _write_cert(pki.ca, ca_cert)
        _write_cert(pki.other_ca, other_cert)
        leaves: tuple[tuple[Path, Path, list[str], list[str], x509.ObjectIdentifier], ...] = (
            (pki.server_cert, pki.server_key, ["localhost"], [LOOPBACK], ExtendedKeyUsageOID.SERVER_AUTH),
            (pki.wrong_host_cert, pki.wrong_host_key, ["db.example.internal"], [], ExtendedKeyUsageOID.SERVER_AUTH),
            (pki.client_cert, pki.client_key, ["ticketctl-client"], [], ExtendedKeyUsageOID.CLIENT_AUTH),
        )
        for cert_path, key_path, names, addresses, usage in leaves:
            key, cert = _leaf(ca_key, ca_cert, names, addresses, usage)
            _write_cert(cert_path, cert)
            _write_key(key_path, key)
        return pki

    def copy_to(self, directory: Path) -> Pki:
        """The same files in another directory (a server's own, readable by its user)."""
        directory.mkdir(parents=True, exist_ok=True)
        for path in self.directory.glob("*.pem"):
            shutil.copy(path, directory / path.name)
            (directory / path.name).chmod(0o644)
        return Pki(directory)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _validity(builder: x509.CertificateBuilder) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return builder.not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(
        now + datetime.timedelta(days=2)
    )


def _self_signed_ca(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _validity(x509.CertificateBuilder())
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
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
    )
    return key, builder.sign(key, hashes.SHA256())


def _leaf(
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    names: list[str],
    addresses: list[str],
    usage: x509.ObjectIdentifier,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    alternative: list[x509.GeneralName] = [x509.DNSName(name) for name in names]
    alternative += [x509.IPAddress(ipaddress.ip_address(address)) for address in addresses]
    builder = (
        _validity(x509.CertificateBuilder())
        .subject_name(_name(names[0]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(alternative), critical=False)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    return key, builder.sign(ca_key, hashes.SHA256())


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    )
