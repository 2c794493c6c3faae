"""What the environment says about the log, read through the library's ``Environment`` (so
``DOGSCHOOL_EVENTRAFT_CLUSTER`` is read before ``EVENTRAFT_CLUSTER``, as for its own modules).

Either a cluster, ``EVENTRAFT_CLUSTER=HOST:PORT,...``, or an embedded store,
``EVENTRAFT_PATH=DIR``. A cluster is reached over TLS unless ``EVENTRAFT_INSECURE=y`` says
otherwise: the same ``EVENTRAFT_TLS_CA``, ``EVENTRAFT_TLS_CERT`` and ``EVENTRAFT_TLS_KEY`` as
the commands take, and ``EVENTRAFT_USER`` with its password in the file
``EVENTRAFT_PASSWORD_FILE`` (a password is never taken from the environment).
``EVENTRAFT_TIMEOUT`` is the seconds one call may take, retries included (default 10), and
``EVENTRAFT_CLUSTER_ID`` pins the cluster. The TLS settings are for clusters; an embedded
store ignores them (a CA exported for the commands does not stop an embedded application).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import attrs
from eventsourcing.persistence import InfrastructureFactoryError
from eventsourcing.utils import Environment, strtobool

from eventlog import InvalidRequest, TLSConfig, parse_addresses
from eventlog.errors import ConfigError
from eventlog.security.passwords import credentials_from_env
from eventlog.security.tls import client_context
from eventraft.eventsourcing.naming import check_category

__all__ = [
    "CATEGORY",
    "CLUSTER",
    "CLUSTER_ID",
    "DEFAULT_TIMEOUT",
    "INSECURE",
    "PASSWORD_FILE",
    "PATH",
    "TIMEOUT",
    "TLS_CA",
    "TLS_CERT",
    "TLS_KEY",
    "USER",
    "Cluster",
    "Embedded",
    "Settings",
    "SettingsError",
    "read_settings",
]

CLUSTER = "EVENTRAFT_CLUSTER"
PATH = "EVENTRAFT_PATH"
CATEGORY = "EVENTRAFT_CATEGORY"
TIMEOUT = "EVENTRAFT_TIMEOUT"
CLUSTER_ID = "EVENTRAFT_CLUSTER_ID"
INSECURE = "EVENTRAFT_INSECURE"
TLS_CA = "EVENTRAFT_TLS_CA"
TLS_CERT = "EVENTRAFT_TLS_CERT"
TLS_KEY = "EVENTRAFT_TLS_KEY"
USER = "EVENTRAFT_USER"
PASSWORD_FILE = "EVENTRAFT_PASSWORD_FILE"
PASSWORD = "EVENTRAFT_PASSWORD"
"""Refused: a password in the environment is readable by every process the application
starts, and in /proc; it belongs in ``EVENTRAFT_PASSWORD_FILE``."""
DEFAULT_TIMEOUT = 10.0


class SettingsError(InfrastructureFactoryError, OSError):
    """A setting missing, malformed or contradicting another, named in the message (never a
    password). An ``OSError`` too, as the library's SQLite and PostgreSQL factories raise for
    their settings, so code written for them catches it."""


@attrs.frozen(kw_only=True)
class Embedded:
    path: Path
    """Resolved, so that two spellings of one directory share one store."""


@attrs.frozen(kw_only=True)
class Cluster:
    addresses: tuple[str, ...]
    timeout: float
    cluster_id: str | None
    tls: TLSConfig | None
    credentials: tuple[str, str] | None = attrs.field(repr=False)
    """``(user, password)``; left out of ``repr`` so that no log line shows the password."""


@attrs.frozen(kw_only=True)
class Settings:
    category: str
    target: Embedded | Cluster


def read_settings(env: Environment) -> Settings:
    """The settings ``env`` gives; ``SettingsError`` names the first one at fault."""
    category = _category(env)
    cluster, path = _get(env, CLUSTER), _get(env, PATH)
    if cluster is not None and path is not None:
        raise SettingsError(
            f"{_found(env, CLUSTER)} and {_found(env, PATH)} are both set: give a cluster or "
            "an embedded store's directory, not both"
        )
    if path is not None:
        return Settings(category=category, target=Embedded(path=Path(path).expanduser().resolve()))
    if cluster is not None:
        return Settings(category=category, target=_cluster(env, cluster))
    raise SettingsError(
        f"no log to use: set {_keys(env, CLUSTER)} to HOST:PORT,... for a cluster, or "
        f"{_keys(env, PATH)} to a directory for an embedded store"
    )


def _category(env: Environment) -> str:
    given = _get(env, CATEGORY)
    category = env.name if given is None else given
    reason = check_category(category)
    if reason is None:
        return category
    if given is not None:
        raise SettingsError(f"{_found(env, CATEGORY)}={given!r} cannot be a category: {reason}")
    raise SettingsError(
        f"the application's name {env.name!r} cannot be a category: {reason}; "
        f"set {_keys(env, CATEGORY)}"
    )


def _cluster(env: Environment, addresses: str) -> Cluster:
    try:
        parsed = tuple(parse_addresses(addresses))
    except InvalidRequest as error:
        raise SettingsError(f"{_found(env, CLUSTER)}: {error}") from None
    tls, credentials = _security(env)
    return Cluster(
        addresses=parsed,
        timeout=_timeout(env),
        cluster_id=_get(env, CLUSTER_ID),
        tls=tls,
        credentials=credentials,
    )


def _security(env: Environment) -> tuple[TLSConfig | None, tuple[str, str] | None]:
    """TLS and sign-in as the commands read them (``TLSConfig.from_env``,
    ``credentials_from_env``), from the application's environment; TLS unless said not."""
    if _get(env, PASSWORD) is not None:
        raise SettingsError(
            f"{_found(env, PASSWORD)} is not read: put the password in a file readable by this "
            f"user only and set {_keys(env, PASSWORD_FILE)}"
        )
    given = {name: _get(env, name) or "" for name in (TLS_CA, TLS_CERT, TLS_KEY, USER)}
    given[PASSWORD_FILE] = _get(env, PASSWORD_FILE) or ""
    insecure = _insecure(env)
    named = [_found(env, name) for name, value in given.items() if value]
    if insecure and named:
        raise SettingsError(f"{_found(env, INSECURE)} contradicts {', '.join(named)}")
    if insecure:
        return None, None
    if not given[TLS_CA]:
        if given[TLS_CERT] or given[TLS_KEY]:
            raise SettingsError(f"a client certificate goes with {_keys(env, TLS_CA)}")
        raise SettingsError(
            f"a cluster is reached over TLS: set {_keys(env, TLS_CA)} to the cluster's CA "
            f"certificate, or {_keys(env, INSECURE)}=y for nodes run --insecure"
        )
    if given[PASSWORD_FILE] and not given[USER]:
        raise SettingsError(f"{_found(env, PASSWORD_FILE)} goes with {_keys(env, USER)}")
    return _read(given)


def _read(given: Mapping[str, str]) -> tuple[TLSConfig | None, tuple[str, str] | None]:
    """The TLS files loaded once here (a client loads them again when it is made, on first
    use), so a file that is not a certificate is refused with the other settings."""
    try:
        tls = TLSConfig.from_env(given)
        if tls is not None:
            client_context(tls)
        return tls, credentials_from_env(given)
    except ConfigError as error:  # names the file, never what it holds
        raise SettingsError(str(error)) from None


def _insecure(env: Environment) -> bool:
    value = _get(env, INSECURE)
    try:
        return value is not None and strtobool(value)
    except ValueError:
        raise SettingsError(f"{_found(env, INSECURE)}={value!r} is not y or n") from None


def _timeout(env: Environment) -> float:
    value = _get(env, TIMEOUT)
    if value is None:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise SettingsError(f"{_found(env, TIMEOUT)}={value!r} is not a number of seconds above 0")
    return seconds


def _get(env: Environment, name: str) -> str | None:
    """The value set, stripped; an empty one counts as unset."""
    value = env.get(name)
    return value.strip() or None if value is not None else None


def _keys(env: Environment, name: str) -> str:
    """Every key ``name`` is read from, the application's own first."""
    return " or ".join(env.create_keys(name))


def _found(env: Environment, name: str) -> str:
    """The key the value of ``name`` came from."""
    for key in env.create_keys(name):
        if dict.get(env, key) is not None:
            return key
    return name
