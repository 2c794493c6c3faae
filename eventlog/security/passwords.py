"""Passwords, stored only as salted, slow hashes (``hashlib.scrypt``), compared in constant
time; never logged, never in an error.

A stored hash is one string, ``scrypt$<log2 n>$<r>$<p>$<salt>$<hash>`` (salt and hash in
unpadded URL-safe base64), so that the parameters can be raised later without breaking the
hashes already stored: each is checked with its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping

from eventlog.errors import ConfigError

__all__ = [
    "COST",
    "MAX_PASSWORD_BYTES",
    "credentials_from_env",
    "hash_password",
    "read_password_file",
    "verify_password",
]

COST = (15, 8, 1)
"""scrypt's ``log2 n``, ``r`` and ``p``: 32 MiB and some 50-100 ms per hash on a server, which
makes each guess costly while a login stays quick."""
MAX_PASSWORD_BYTES = 1024
_SALT_BYTES = 16
_KEY_BYTES = 32
_SCHEME = "scrypt"


def hash_password(password: str, *, cost: tuple[int, int, int] = COST) -> str:
    """A new salted hash of ``password``, as the auth store keeps it."""
    _check(password)
    log_n, r, p = cost
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _derive(password, salt, log_n, r, p)
    return "$".join((_SCHEME, str(log_n), str(r), str(p), _b64(salt), _b64(key)))


def verify_password(password: str, stored: str) -> bool:
    """Does ``password`` match ``stored``? False for anything malformed, never an error that
    could say which part was wrong."""
    try:
        scheme, log_n, r, p, salt, key = stored.split("$")
        if scheme != _SCHEME or len(password.encode()) > MAX_PASSWORD_BYTES:
            return False
        expected = _unb64(key)
        derived = _derive(password, _unb64(salt), int(log_n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(derived, expected)


def read_password_file(path: str | os.PathLike[str]) -> str:
    """The password a file holds (one trailing newline dropped, as ``echo`` writes it);
    ``ConfigError`` names the file, never what it holds."""
    try:
        with open(path, encoding="utf-8") as file:
            password = file.read(MAX_PASSWORD_BYTES + 2)
    except (OSError, UnicodeError) as error:
        raise ConfigError(
            f"the password file {path} does not read: {type(error).__name__}"
        ) from None
    password = password[:-1] if password.endswith("\n") else password
    password = password[:-1] if password.endswith("\r") else password
    try:
        _check(password)
    except ValueError as error:
        raise ConfigError(f"the password file {path}: {error}") from None
    return password


def credentials_from_env(environ: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """``EVENTRAFT_USER`` with the password in ``EVENTRAFT_PASSWORD_FILE``, as the commands
    take them; None if no user is set."""
    env = os.environ if environ is None else environ
    user = env.get("EVENTRAFT_USER")
    if not user:
        return None
    path = env.get("EVENTRAFT_PASSWORD_FILE")
    if not path:
        raise ConfigError("EVENTRAFT_USER goes with EVENTRAFT_PASSWORD_FILE")
    return user, read_password_file(path)


def _derive(password: str, salt: bytes, log_n: int, r: int, p: int) -> bytes:
    if not 10 <= log_n <= 20 or not 1 <= r <= 32 or not 1 <= p <= 16:
        raise ValueError("scrypt parameters out of range")
    return hashlib.scrypt(
        password.encode(), salt=salt, n=1 << log_n, r=r, p=p, maxmem=256 << 20, dklen=_KEY_BYTES
    )


def _check(password: str) -> None:
    if not password:
        raise ValueError("a password may not be empty")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise ValueError(f"a password is {MAX_PASSWORD_BYTES} bytes at most")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
