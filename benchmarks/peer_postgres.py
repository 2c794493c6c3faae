"""A throwaway PostgreSQL server for the peers that need one: Debian's packages, a temporary
data directory, a port of its own, fsync and synchronous commit at their defaults (on).

PostgreSQL refuses to run as root; as root the server runs as the ``postgres`` user that the
Debian package makes.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import attrs

from eventraft.localcluster import free_ports

USER = "eventraft"
PASSWORD = "bench"  # a throwaway server on loopback, gone when the benchmark ends


@attrs.frozen
class Postgres:
    host: str
    port: int
    user: str = USER
    password: str = PASSWORD
    dbname: str = "bench"

    def environment(self, **extra: str) -> dict[str, str]:
        """The ``eventsourcing`` library's settings for this server."""
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": self.dbname,
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
            **extra,
        }


def binaries() -> Path | None:
    """The newest installed server's bin directory, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def missing() -> str | None:
    """Why no server can be started here, or None."""
    if binaries() is None:
        return "PostgreSQL is not installed (apt-get install postgresql)"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[bench]')"
    return None


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@contextlib.contextmanager
def postgres_server() -> Iterator[Postgres]:
    bin_dir = binaries()
    if bin_dir is None:
        raise RuntimeError(missing())
    port = free_ports(1)[0]
    with tempfile.TemporaryDirectory(prefix="eventraft-bench-pg-") as tmp:
        data = Path(tmp) / "data"
        socket_dir = Path(tmp) / "socket"
        password_file = Path(tmp) / "password"
        for path in (data, socket_dir):
            path.mkdir()
        password_file.write_text(PASSWORD)
        if os.geteuid() == 0:
            shutil.chown(tmp, "postgres")
            for path in (data, socket_dir, password_file):
                shutil.chown(path, "postgres")
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        subprocess.run(
            _as_server_user(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    USER,
                    "--auth=scram-sha-256",
                    f"--pwfile={password_file}",
                ]
            ),
            check=True,
            **quiet,  # type: ignore[arg-type]
        )
        server = subprocess.Popen(
            _as_server_user(
                [
                    str(bin_dir / "postgres"),
                    "-D",
                    str(data),
                    "-p",
                    str(port),
                    "-k",
                    str(socket_dir),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "max_connections=200",
                ]
            ),
            **quiet,  # type: ignore[arg-type]
        )
        try:
            _wait_ready(bin_dir, port)
            subprocess.run(
                [
                    str(bin_dir / "createdb"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-U",
                    USER,
                    "bench",
                ],
                check=True,
                env={**os.environ, "PGPASSWORD": PASSWORD},
                **quiet,  # type: ignore[arg-type]
            )
            yield Postgres("127.0.0.1", port)
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _wait_ready(bin_dir: Path, port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = subprocess.run(
            [str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if ready.returncode == 0:
            return
        time.sleep(0.1)
    raise RuntimeError(f"PostgreSQL did not accept connections on port {port} in {timeout:.0f} s")
