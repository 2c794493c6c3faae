"""``insecure=True`` reaches nodes run ``--insecure`` in plaintext whatever the environment
exports for the commands (a CA, a user), and refuses TLS or credentials given with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from eventlog import Client, NewEvent, TLSConfig
from eventlog.errors import ConfigError
from eventraft.certs import create_tls_dir
from tests.cluster.harness import local_cluster


def test_insecure_ignores_a_ca_the_environment_exports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_tls_dir(tmp_path / "tls", [1], clients=["admin"])
    with local_cluster(tmp_path / "cluster") as cluster:
        cluster.leader(timeout=20)
        monkeypatch.setenv("EVENTRAFT_TLS_CA", str(tmp_path / "tls" / "ca.pem"))
        with Client(cluster.addresses, insecure=True) as client:
            assert client.append("s", [NewEvent("T", b"")]).last_position == 1
        with Client(cluster.addresses) as exported:
            assert exported._async.tls is not None, "without it, the export is taken"


def test_insecure_takes_no_tls_and_no_credentials(tmp_path: Path) -> None:
    create_tls_dir(tmp_path / "tls", [1], clients=["admin"])
    tls = TLSConfig.from_dir(tmp_path / "tls", "admin")
    with pytest.raises(ConfigError, match="insecure= is plaintext"):
        Client("127.0.0.1:1", insecure=True, tls=tls)
    with pytest.raises(ConfigError, match="insecure= is plaintext"):
        Client("127.0.0.1:1", insecure=True, credentials=("ann", "secret"))
