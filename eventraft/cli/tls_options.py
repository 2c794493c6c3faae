"""The TLS and sign-in options of the commands: a node's (``--tls-dir`` or the three files,
or ``--insecure``; the first admin's ``--admin-password-file``) and a client's (the CA, a
certificate of its own if it has one, or ``--user`` with ``--password-file``). Each has an
environment variable, so scripts carry no paths or secrets on their command lines."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import click

from eventlog.errors import ConfigError
from eventlog.security.identity import node_name
from eventlog.security.passwords import hash_password, read_password_file
from eventlog.security.tls import TLSConfig

__all__ = [
    "admin_password_hash",
    "client_options",
    "client_tls",
    "credentials_of",
    "node_tls",
    "node_tls_options",
    "password_file_option",
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


def password_file_option(name: str, help: str, envvar: str) -> Any:
    return click.option(
        name,
        type=_FILE,
        envvar=envvar,
        show_envvar=True,
        help=f"{help}  [default: none]",
    )


def node_tls_options(f: Any) -> Any:
    f = password_file_option(
        "--admin-password-file",
        "A file holding the password of the user admin, set when the cluster is created "
        "(the admin client certificate signs in as admin too); ignored once it has one.",
        "EVENTRAFT_ADMIN_PASSWORD_FILE",
    )(f)
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


def client_options(f: Any) -> Any:
    """The TLS files, handed to the command as one ``tls`` (a ``TLSConfig`` or None), and the
    user with its password file, as ``credentials`` (``(user, password)`` or None)."""

    @functools.wraps(f)
    def command(
        *args: Any,
        tls_ca: Path | None = None,
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
        user: str | None = None,
        password_file: Path | None = None,
        **kwargs: Any,
    ) -> Any:
        tls = client_tls(tls_ca, tls_cert, tls_key)
        credentials = credentials_of(user, password_file)
        if credentials is not None and tls is None:
            raise click.UsageError("--user signs in over TLS only: give --tls-ca too")
        return f(*args, tls=tls, credentials=credentials, **kwargs)

    command = password_file_option(
        "--password-file", "A file holding the password of --user.", "EVENTRAFT_PASSWORD_FILE"
    )(command)
    command = click.option(
        "--user",
        envvar="EVENTRAFT_USER",
        show_envvar=True,
        help="Sign in as this user, with --password-file (over TLS).  [default: the client "
        "certificate's user]",
    )(command)
    return _files(command, "this client's")


def credentials_of(user: str | None, password_file: Path | None) -> tuple[str, str] | None:
    """``(user, password)`` as the options give them; ``UsageError`` for half of them."""
    if user is None and password_file is None:
        return None
    if user is None or password_file is None:
        raise click.UsageError("--user and --password-file go together")
    try:
        return user, read_password_file(password_file)
    except ConfigError as error:
        raise click.BadParameter(str(error), param_hint="--password-file") from None


def admin_password_hash(path: Path | None) -> str | None:
    """The first admin's password, hashed as soon as it is read: only the hash is kept."""
    if path is None:
        return None
    try:
        return hash_password(read_password_file(path))
    except ConfigError as error:
        raise click.BadParameter(str(error), param_hint="--admin-password-file") from None


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
