"""TLS for every link, with the standard library's ``ssl``: contexts for a node's listening
port, for a node dialing its peers, and for clients.

Every end verifies the other against the cluster's CA. Names in certificates are not
checked against host names (nodes are dialed by IP as often as by name); what is checked is
the identity the certificate carries (``identity``): a client accepts only a node's
certificate, a node dialing a peer only that peer's, and a node accepts a peer's hello only
with that peer's certificate. A client may present a certificate of its own, which names its
user. Contexts are built once and reloaded in place (``reload``) when the files change, so
that certificates can be rotated without a restart: handshakes from then on use the new ones.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from pathlib import Path

import attrs

from eventlog.errors import ConfigError

__all__ = [
    "TLSConfig",
    "client_context",
    "reload",
    "server_context",
]


@attrs.frozen(kw_only=True)
class TLSConfig:
    """Where the TLS files are: the CA that signs every certificate of the cluster, and this
    end's certificate and key (a node's, or a client's; a client may go without)."""

    ca: str
    cert: str | None = None
    key: str | None = None

    def __attrs_post_init__(self) -> None:
        if (self.cert is None) != (self.key is None):
            raise ConfigError("a TLS certificate and its key go together: give both or neither")

    @classmethod
    def from_dir(cls, directory: str | os.PathLike[str], name: str | None) -> TLSConfig:
        """The files of ``eventraft certs create``'s layout: ``ca.pem``, and ``<name>.pem``
        with ``<name>.key`` (a node's name is ``node-<id>``)."""
        root = Path(directory)
        if name is None:
            return cls(ca=str(root / "ca.pem"))
        return cls(
            ca=str(root / "ca.pem"), cert=str(root / f"{name}.pem"), key=str(root / f"{name}.key")
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TLSConfig | None:
        """``EVENTRAFT_TLS_CA`` (and ``EVENTRAFT_TLS_CERT``, ``EVENTRAFT_TLS_KEY`` for a
        client certificate), as the commands take them; None if no CA is set."""
        env = os.environ if environ is None else environ
        ca = env.get("EVENTRAFT_TLS_CA")
        if not ca:
            return None
        return cls(
            ca=ca,
            cert=env.get("EVENTRAFT_TLS_CERT") or None,
            key=env.get("EVENTRAFT_TLS_KEY") or None,
        )

    def check(self) -> TLSConfig:
        """Every file there and readable; ``ConfigError`` names the first that is not (never
        what it holds)."""
        for what, path in (("CA", self.ca), ("certificate", self.cert), ("key", self.key)):
            if path is not None and not os.access(path, os.R_OK):
                raise ConfigError(f"the TLS {what} file {path} is missing or not readable")
        return self


def server_context(config: TLSConfig) -> ssl.SSLContext:
    """A node's listening port: its certificate; a client's is asked for and optional (a
    peer's is required later, at its hello)."""
    if config.cert is None:
        raise ConfigError("a node needs a TLS certificate and key")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.verify_mode = ssl.CERT_OPTIONAL
    _harden(context)
    reload(context, config)
    return context


def client_context(config: TLSConfig) -> ssl.SSLContext:
    """A client, or a node dialing a peer: the node's certificate must be the CA's (its
    identity is checked after the handshake); our own certificate goes with it if we have one."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False  # the identity in the certificate is checked instead
    context.verify_mode = ssl.CERT_REQUIRED
    _harden(context)
    reload(context, config)
    return context


def reload(context: ssl.SSLContext, config: TLSConfig) -> None:
    """Load (again) the files into ``context``; connections made from then on use them."""
    config.check()
    try:
        context.load_verify_locations(cafile=config.ca)
        if config.cert is not None:
            context.load_cert_chain(config.cert, config.key)
    except (ssl.SSLError, OSError, ValueError) as error:
        raise ConfigError(f"the TLS files do not load: {_reason(error)}") from None


def _harden(context: ssl.SSLContext) -> None:
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION


def _reason(error: BaseException) -> str:
    reason = getattr(error, "reason", None)
    return str(reason) if reason else type(error).__name__
