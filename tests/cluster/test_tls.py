"""TLS on every link of a cluster of processes: clients verify the nodes against the CA, a
node hears a peer only with that peer's own certificate, and one that cannot prove who it is
(another CA, another node's certificate) takes no part while the others serve."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from eventlog import AuthenticationFailed, Client, NewEvent, TLSError
from eventlog.security.tls import TLSConfig
from eventraft.certs import create_tls_dir
from tests.cluster.harness import dump_logs, free_ports, local_cluster, wait_for


def test_a_tls_cluster_serves_a_client_that_trusts_its_ca_and_no_plaintext_one(
    tmp_path: Path,
) -> None:
    with local_cluster(tmp_path, tls=True) as cluster, cluster.client(timeout=30) as client:
        client.append("s", [NewEvent("E", b"over tls")])
        assert [e.data for e in client.read_stream("s")] == [b"over tls"]
        assert all(n.tls_dir is not None for n in cluster.nodes.values())
        only_ca = TLSConfig(ca=str(tmp_path / "tls" / "ca.pem"))
        with (
            Client(cluster.addresses, timeout=60, tls=only_ca) as anonymous,
            pytest.raises(AuthenticationFailed, match="signs clients in"),
        ):
            anonymous.read_stream("s")
        # Typed once every node was tried: a retry until the 60 s deadline would raise
        # Unavailable instead.
        with (
            Client(cluster.addresses, timeout=60) as plaintext,
            pytest.raises(TLSError, match="requires TLS: give the cluster's CA"),
        ):
            plaintext.read_stream("s")
        other = create_tls_dir(tmp_path / "other", [1], clients=["admin"])[0].parent
        stranger = TLSConfig.from_dir(other, "admin")
        with (
            Client(cluster.addresses, timeout=60, tls=stranger) as untrusting,
            pytest.raises(TLSError, match="does not verify against the CA"),
        ):
            untrusting.read_stream("s")
        assert cluster.wait_converged(timeout=20)


def test_a_tls_client_at_an_insecure_node_is_told_so_at_once(tmp_path: Path) -> None:
    with local_cluster(tmp_path) as cluster:
        cluster.leader(timeout=20)
        ca = create_tls_dir(tmp_path / "tls", [1])[0]
        with (
            Client(cluster.addresses, timeout=60, tls=TLSConfig(ca=str(ca))) as client,
            pytest.raises(TLSError, match="does not speak TLS"),
        ):
            client.status()
        with cluster.client() as plaintext:
            assert plaintext.status().role in ("leader", "follower")


@pytest.mark.parametrize("impostor", ["another CA", "another node's certificate"])
def test_a_node_that_cannot_prove_who_it_is_takes_no_part(tmp_path: Path, impostor: str) -> None:
    with local_cluster(tmp_path, tls=True) as cluster:
        node = cluster.nodes[3]
        node.kill()
        fake = tmp_path / "fake"
        if impostor == "another CA":
            create_tls_dir(fake, [3])
        else:  # node 2's certificate and key, under node 3's name
            fake.mkdir()
            shutil.copy(tmp_path / "tls" / "ca.pem", fake / "ca.pem")
            shutil.copy(tmp_path / "tls" / "node-2.pem", fake / "node-3.pem")
            shutil.copy(tmp_path / "tls" / "node-2.key", fake / "node-3.key")
        shutil.rmtree(node.data_dir, ignore_errors=True)
        node.tls_dir = fake
        node.start()
        try:
            with cluster.client(timeout=30) as client:
                for n in range(10):
                    client.append("s", [NewEvent("E", str(n).encode())])
            others = [cluster.nodes[1], cluster.nodes[2]]
            refused = ("certificate", "CERTIFICATE")
            wait_for(
                lambda: any(
                    word in line
                    for n in others
                    for line in n.log_path.read_text().splitlines()
                    if "node 3" in line or '"peer": 3' in line
                    for word in refused
                ),
                30,
                "the members to refuse node 3",
            )
            # Its own certificate signs in as a node, which may ask for status.
            with Client([node.address], timeout=10, tls=TLSConfig.from_dir(fake, "node-3")) as c:
                assert c.status().last_position == 0, "node 3 was sent nothing"
            del cluster.nodes[3]
            statuses = cluster.wait_converged(timeout=20)
            assert {s.last_position for s in statuses.values()} == {10}
        except BaseException:
            print(dump_logs(cluster))
            raise


def test_the_commands_take_the_tls_files_from_options_or_the_environment(tmp_path: Path) -> None:
    with local_cluster(tmp_path, tls=True) as cluster:
        cluster.leader(timeout=20)
        tls = tmp_path / "tls"
        status = subprocess.run(
            [
                sys.executable,
                "-m",
                "eventraft",
                "status",
                "--cluster",
                cluster.addresses,
                "--json",
                "--tls-ca",
                str(tls / "ca.pem"),
                "--tls-cert",
                str(tls / "admin.pem"),
                "--tls-key",
                str(tls / "admin.key"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert status.returncode == 0, status.stderr
        assert len([json.loads(line) for line in status.stdout.splitlines()]) == 3
        with cluster.client() as admin:
            admin.add_user("ops", "ops password", ["operator"])
        (tmp_path / "ops-password").write_text("ops password\n")
        environment = {
            **os.environ,
            "EVENTRAFT_TLS_CA": str(tls / "ca.pem"),
            "EVENTRAFT_USER": "ops",
            "EVENTRAFT_PASSWORD_FILE": str(tmp_path / "ops-password"),
        }
        members = subprocess.run(
            [sys.executable, "-m", "eventraft", "member", "list", "--cluster", cluster.addresses],
            capture_output=True,
            text=True,
            timeout=60,
            env=environment,
        )
        assert members.returncode == 0, members.stderr
        assert "voter" in members.stdout


def test_a_node_without_tls_files_refuses_to_start_unless_insecure(tmp_path: Path) -> None:
    [port] = free_ports(1)
    node = [
        sys.executable,
        "-m",
        "eventraft",
        "node",
        "--id",
        "1",
        "--cluster",
        f"1=127.0.0.1:{port}",
        "--data-dir",
        str(tmp_path / "d"),
    ]
    refused = subprocess.run(node, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2
    assert "a node runs with TLS" in refused.stderr and "--insecure" in refused.stderr
    assert not (tmp_path / "d").exists()


def served_certificate(address: str, ca: Path) -> str:
    """The serial number of the certificate a node presents now."""
    host, port = address.rsplit(":", 1)
    context = ssl.create_default_context(cafile=str(ca))
    context.check_hostname = False
    with (
        socket.create_connection((host, int(port)), timeout=10) as raw,
        context.wrap_socket(raw) as wrapped,
    ):
        certificate = wrapped.getpeercert()
    assert certificate is not None
    return str(certificate["serialNumber"])


def test_certificates_rotated_on_disk_are_served_after_sighup_without_a_restart(
    tmp_path: Path,
) -> None:
    with local_cluster(tmp_path, tls=True) as cluster, cluster.client(timeout=30) as client:
        client.append("s", [NewEvent("E", b"before")])
        tls, node = tmp_path / "tls", cluster.nodes[1]
        before = served_certificate(node.address, tls / "ca.pem")
        create_tls_dir(tls, [1])  # new keys and certificates from the same CA
        assert served_certificate(node.address, tls / "ca.pem") == before, "not before SIGHUP"
        assert node.process is not None
        node.process.send_signal(signal.SIGHUP)
        wait_for(lambda: '"tls_reloaded"' in node.log_path.read_text(), 10, "the reload")
        assert served_certificate(node.address, tls / "ca.pem") != before
        assert node.running
        client.append("s", [NewEvent("E", b"after")])
        assert cluster.wait_converged(timeout=20)


def test_garbage_before_and_after_the_handshake_closes_one_connection_only(
    tmp_path: Path,
) -> None:
    with local_cluster(tmp_path, tls=True) as cluster, cluster.client(timeout=30) as client:
        client.append("s", [NewEvent("E", b"kept")])
        host, port = cluster.nodes[1].address.rsplit(":", 1)
        context = ssl.create_default_context(cafile=str(tmp_path / "tls" / "ca.pem"))
        context.check_hostname = False
        # Before TLS: bytes that are no TLS record, and a whole handshake record of noise
        # (a record cut short waits for its end, up to the node's handshake timeout).
        for garbage in (b"\x00" + os.urandom(4095), b"\x16\x03\x01\x00\x40" + os.urandom(64)):
            with socket.create_connection((host, int(port)), timeout=10) as raw:
                raw.sendall(garbage)
                raw.settimeout(10)
                with contextlib.suppress(ConnectionError):
                    assert raw.recv(1 << 16) == b"", "the node closes what is not TLS"
        for garbage in (os.urandom(4096), b"\xff\xff\xff\xff" + os.urandom(64)):  # inside TLS
            with (
                socket.create_connection((host, int(port)), timeout=10) as raw,
                context.wrap_socket(raw) as wrapped,
            ):
                wrapped.sendall(garbage)
                with contextlib.suppress(ConnectionError, ssl.SSLError):
                    assert wrapped.recv(1 << 16) == b"", "the node closes a bad frame"
        assert [e.data for e in client.read_stream("s")] == [b"kept"]
        client.append("s", [NewEvent("E", b"after")])
        assert {s.last_position for s in cluster.wait_converged(timeout=20).values()} == {2}


def expired(tls: Path, name: str, out: Path) -> Path:
    """``name``'s certificate again, signed by the same CA, valid only until yesterday."""
    ca_key = serialization.load_pem_private_key((tls / "ca.key").read_bytes(), password=None)
    ca = x509.load_pem_x509_certificate((tls / "ca.pem").read_bytes())
    current = x509.load_pem_x509_certificate((tls / f"{name}.pem").read_bytes())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(current.subject)
        .issuer_name(ca.subject)
        .public_key(current.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=10))
        .not_valid_after(now - datetime.timedelta(days=1))
    )
    for extension in current.extensions:
        builder = builder.add_extension(extension.value, critical=extension.critical)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    out.mkdir(parents=True, exist_ok=True)
    for suffix in ("key",):
        shutil.copy(tls / f"{name}.{suffix}", out / f"{name}.{suffix}")
    shutil.copy(tls / "ca.pem", out / "ca.pem")
    signed = builder.sign(ca_key, hashes.SHA256())
    (out / f"{name}.pem").write_bytes(signed.public_bytes(serialization.Encoding.PEM))
    return out


def test_an_expired_certificate_lets_no_client_in_and_no_node_take_part(tmp_path: Path) -> None:
    with local_cluster(tmp_path, tls=True) as cluster, cluster.client(timeout=30) as client:
        client.append("s", [NewEvent("E", b"kept")])
        tls = tmp_path / "tls"
        old = expired(tls, "admin", tmp_path / "expired-client")
        with (
            Client(cluster.addresses, timeout=60, tls=TLSConfig.from_dir(old, "admin")) as late,
            pytest.raises(TLSError, match="refused this client's certificate"),
        ):
            late.status()
        node = cluster.nodes[3]
        node.kill()
        node.tls_dir = expired(tls, "node-3", tmp_path / "expired-node")
        node.start()
        client.append("s", [NewEvent("E", b"without node 3")])
        others = [cluster.nodes[1], cluster.nodes[2]]
        wait_for(
            lambda: any("expired" in n.log_path.read_text() for n in others),
            30,
            "the members to refuse node 3's expired certificate",
        )
        del cluster.nodes[3]
        assert {s.last_position for s in cluster.wait_converged(timeout=20).values()} == {2}
        node.kill()
