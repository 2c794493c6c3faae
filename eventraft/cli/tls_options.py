"""The TLS options of the commands: a node's (``--tls-dir`` or the three files, or
``--insecure``) and a client's (the CA, and a certificate of its own if it has one). Each has
an environment variable, so scripts carry no paths or secrets on their command lines."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import click

from eventlog.errors import ConfigError
from eventlog.security.identity import node_name
from eventlog.security.tls import TLSConfig

__all__ = [
    "client_tls",
    "client_tls_options",
    "node_tls",
    "node_tls_options",
]

_FILE = click.Path(path_type=Path, dir_okay=False)


def _files(f: Any, whose: str) -> Any:
    for name, what in (
        ("key", f"{whose} private key (PEM)"),
        ("cert", f"{whose} certificate (PEM)"),
        ("ca", "the CA certificate (PEM) that signs every node's certificate"),
    ):
        f = click.option(
            f"--tls-{name}",
            f"tls_{name}",
            type=_FILE,
            envvar=f"EVENTRAFT_TLS_{name.upper()}",
            show_envvar=True,
            help=f"File of {what}.  [default: none]",
        )(f)
    return f


def node_tls_options(f: Any) -> Any:
    f = click.option(
        "--insecure",
        is_flag=True,
        help="Run without TLS: anyone who reaches the port reads and writes everything. "
        "For a machine of your own only; logged loudly on every start.",
    )(f)
    f = _files(f, "this node's")
    return click.option(
        "--tls-dir",
        type=click.Path(path_type=Path, file_okay=False),
        envvar="EVENTRAFT_TLS_DIR",
        show_envvar=True,
        help="A directory of `eventraft certs create`'s layout: ca.pem, node-ID.pem and "
        "node-ID.key.  [default: none; TLS is required unless --insecure]",
    )(f)


def client_tls_options(f: Any) -> Any:
    """The three options, handed to the command as one ``tls`` (a ``TLSConfig`` or None)."""

    @functools.wraps(f)
    def command(
        *args: Any,
        tls_ca: Path | None = None,
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
        **kwargs: Any,
    ) -> Any:
        return f(*args, tls=client_tls(tls_ca, tls_cert, tls_key), **kwargs)

    return _files(command, "this client's")


def node_tls(
    node_id: int,
    tls_dir: Path | None,
    tls_ca: Path | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    insecure: bool,
) -> TLSConfig | None:
    """A node's TLS files as its options give them; ``UsageError`` if they give none and
    no ``--insecure``, or both."""
    files = (tls_ca, tls_cert, tls_key)
    given = tls_dir is not None or any(path is not None for path in files)
    if insecure and given:
        raise click.UsageError("--insecure goes without TLS files")
    if insecure:
        return None
    if tls_dir is not None:
        config = TLSConfig.from_dir(tls_dir, node_name(node_id))
    elif all(path is not None for path in files):
        config = TLSConfig(ca=str(tls_ca), cert=str(tls_cert), key=str(tls_key))
    elif given:
        raise click.UsageError("give --tls-ca, --tls-cert and --tls-key together (or --tls-dir)")
    else:
        raise click.UsageError(
            "a node runs with TLS: give --tls-dir DIR (see `eventraft certs create`) or "
            "--tls-ca, --tls-cert and --tls-key; or --insecure, on a machine of your own"
        )
    try:
        return config.check()
    except ConfigError as error:
        raise click.BadParameter(str(error), param_hint="--tls-*") from None


def client_tls(
    tls_ca: Path | None, tls_cert: Path | None, tls_key: Path | None
) -> TLSConfig | None:
    """A client's TLS files; None (plaintext) without a CA."""
    if tls_ca is None:
        if tls_cert is not None or tls_key is not None:
            raise click.UsageError("a client certificate goes with --tls-ca")
        return None
    try:
        cert, key = (str(tls_cert) if tls_cert else None), (str(tls_key) if tls_key else None)
        return TLSConfig(ca=str(tls_ca), cert=cert, key=key).check()
    except ConfigError as error:
        raise click.BadParameter(str(error), param_hint="--tls-*") from None
