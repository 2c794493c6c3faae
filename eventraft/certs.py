"""Development certificates: a cluster CA, a certificate per node, one per client user.

Made with ``cryptography`` (production users bring their own CA; the identities are what
matter, see ``identity``). The layout of a TLS directory:

    ca.pem, ca.key               the CA (its key stays with whoever makes certificates)
    node-<id>.pem, node-<id>.key each node's, for both ends of its links
    <name>.pem, <name>.key       each client's; its name is the user it authenticates as

Keys are written owner-readable only (0600).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from eventlog.security.identity import CLIENT_UNIT, NODE_UNIT, node_name

__all__ = [
    "DEFAULT_HOSTS",
    "VALID_DAYS",
    "create_tls_dir",
    "local_cluster_tls",
]

DEFAULT_HOSTS = ("127.0.0.1", "localhost", "::1")
VALID_DAYS = 825
"""The longest validity browsers and most tools accept for a leaf certificate."""


def create_tls_dir(
    out: Path,
    nodes: Iterable[int],
    *,
    hosts: Sequence[str] = DEFAULT_HOSTS,
    clients: Iterable[str] = (),
    valid_days: int = VALID_DAYS,
) -> list[Path]:
    """A CA in ``out`` (made if missing, else reused) and a certificate for each node and
    client; the files written."""
    out.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = _ca(out, valid_days)
    written: list[Path] = []
    for node in nodes:
        written += _leaf(out, node_name(node), NODE_UNIT, ca_key, ca_cert, hosts, valid_days)
    for name in clients:
        written += _leaf(out, name, CLIENT_UNIT, ca_key, ca_cert, (), valid_days)
    return [out / "ca.pem", *written]


def local_cluster_tls(out: Path, nodes: int, host: str) -> Path:
    """The TLS directory of a local cluster: made with a CA, node certificates for ``host``
    and the client ``admin`` the first time; what is missing (a node more) is added later."""
    missing = [n for n in range(1, nodes + 1) if not (out / f"{node_name(n)}.pem").exists()]
    hosts = tuple(dict.fromkeys((host, *DEFAULT_HOSTS)))
    clients = [] if (out / "admin.pem").exists() else ["admin"]
    if missing or clients or not (out / "ca.pem").exists():
        create_tls_dir(out, missing, hosts=hosts, clients=clients)
    return out


def _ca(out: Path, valid_days: int) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key_path, cert_path = out / "ca.key", out / "ca.pem"
    if key_path.exists() and cert_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key, x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "eventraft development CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    _write_key(key_path, key)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert


def _leaf(
    out: Path,
    name: str,
    unit: str,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    hosts: Sequence[str],
    valid_days: int,
) -> list[Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
    if unit == NODE_UNIT:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    builder = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
                    x509.NameAttribute(NameOID.COMMON_NAME, name),
                ]
            )
        )
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    )
    if hosts:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_general_name(host) for host in hosts]), critical=False
        )
    cert = builder.sign(ca_key, hashes.SHA256())
    key_path, cert_path = out / f"{name}.key", out / f"{name}.pem"
    _write_key(key_path, key)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return [cert_path, key_path]


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    raw = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(raw)
