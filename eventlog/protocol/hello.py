"""The first frame on every connection: which cluster, who is calling, and as what."""

from __future__ import annotations

import secrets
from typing import Any, Final, Literal

import attrs

from eventlog.errors import FrameError, WrongCluster
from eventlog.types import NodeId

__all__ = [
    "HELLO_VERSION",
    "MAX_CLUSTER_ID_CHARS",
    "MAX_HELLO_BYTES",
    "Hello",
    "NodeHello",
    "Role",
    "check_client",
    "check_peer",
    "hello",
    "new_cluster_id",
    "node_hello",
    "parse_hello",
    "parse_node_hello",
]

HELLO_VERSION: Final = 1
"""Version of the handshake body, separate from the frame version."""
MAX_CLUSTER_ID_CHARS: Final = 128
MAX_ADDRESS_CHARS: Final = 260
MAX_CREDENTIAL_CHARS: Final = 128
MAX_HELLO_BYTES: Final = 4096
"""A hello is tiny; an unauthenticated caller must not make us buffer a 64 MiB 'hello'."""

Role = Literal["peer", "client", "node"]
"""A peer dials a peer; a client dials a node; a node answers a client with its own hello."""


@attrs.frozen(kw_only=True, slots=True)
class Hello:
    """The first frame on every connection: which cluster, who is calling, and as what."""

    cluster_id: str
    """Empty from a client that has not learnt its cluster yet, or from a node of a cluster
    that is not named yet."""
    role: Role
    node_id: NodeId
    """The sender's node id for a peer or a node (1 or more); always 0 for a client."""
    incarnation: str = ""
    """A peer's: the id of the store it runs on, made when that store was created."""
    yours: str = ""
    """A peer's: the store id it knows for the node it dials ("" if it never met it)."""
    user: str = ""
    """A client's, signing in by password (over TLS only): the user it signs in as."""
    password: str = attrs.field(default="", repr=False)
    """Never logged, never kept past the check."""


def hello(
    cluster_id: str,
    role: Role,
    node_id: int,
    *,
    incarnation: str = "",
    yours: str = "",
    credentials: tuple[str, str] | None = None,
) -> list[Any]:
    """The handshake body ``["hello", 1, cluster_id, role, node_id]``; a peer that knows its
    store's id adds ``{"incarnation": ..., "yours": ...}``, a client that signs in by
    password ``{"user": ..., "password": ...}``."""
    body: list[Any] = ["hello", HELLO_VERSION, cluster_id, role, node_id]
    if incarnation:
        body.append({"incarnation": incarnation, "yours": yours})
    elif credentials is not None:
        body.append({"user": credentials[0], "password": credentials[1]})
    return body


@attrs.frozen(kw_only=True, slots=True)
class NodeHello:
    """A node's answer to a client's hello: its cluster and itself, where every member
    listens (so a client given one address keeps working when that node dies), and the
    largest append the cluster takes (so the client refuses a larger one before sending)."""

    hello: Hello
    members: tuple[str, ...]
    max_append_bytes: int


def node_hello(
    cluster_id: str, node_id: int, members: list[str], max_append_bytes: int
) -> list[Any]:
    about = {"members": members, "max_append_bytes": max_append_bytes}
    return [*hello(cluster_id, "node", node_id), about]


def parse_node_hello(raw: object) -> NodeHello:
    """FrameError unless ``raw`` is a node's hello as ``node_hello`` makes it."""
    if type(raw) is not list or len(raw) != 6 or type(raw[5]) is not dict:
        raise FrameError("expected a node's hello with what it knows of its cluster")
    answered, about = parse_hello(raw[:5]), raw[5]
    members, limit = about.get("members"), about.get("max_append_bytes")
    if answered.role != "node" or type(members) is not list or type(limit) is not int:
        raise FrameError("a node's hello lists its members and its append limit")
    if not all(type(m) is str and 0 < len(m) <= MAX_ADDRESS_CHARS for m in members):
        raise FrameError("a member is a HOST:PORT string")
    return NodeHello(hello=answered, members=tuple(members), max_append_bytes=max(1, limit))


def parse_hello(raw: object) -> Hello:
    """The Hello in a decoded body; FrameError unless it is exactly a valid handshake."""
    if type(raw) is list and len(raw) == 6 and raw[3] == "peer":
        return _peer_hello(raw)
    if type(raw) is list and len(raw) == 6 and raw[3] == "client":
        return _client_hello(raw)
    if type(raw) is not list or len(raw) != 5 or raw[0] != "hello":
        raise FrameError("expected a hello handshake")
    _, version, cluster_id, role, node_id = raw
    if type(version) is not int or version != HELLO_VERSION:
        raise FrameError(f"unsupported hello version {version!r:.40}")
    if type(cluster_id) is not str or len(cluster_id) > MAX_CLUSTER_ID_CHARS:
        raise FrameError(f"hello cluster_id must be a string of 0..{MAX_CLUSTER_ID_CHARS}")
    if type(node_id) is not int:
        raise FrameError("hello node_id must be an integer")
    if role == "client":
        if node_id != 0:
            raise FrameError(f"a client hello must carry node id 0, not {node_id}")
        return Hello(cluster_id=cluster_id, role="client", node_id=NodeId(0))
    if role in ("peer", "node"):
        if node_id < 1:
            raise FrameError(f"a {role} hello needs a node id of 1 or more, not {node_id}")
        return Hello(cluster_id=cluster_id, role=role, node_id=NodeId(node_id))
    raise FrameError(f"unknown hello role {role!r:.40}")


def _peer_hello(raw: list[Any]) -> Hello:
    plain, about = parse_hello(raw[:5]), raw[5]
    if type(about) is not dict:
        raise FrameError("a peer's hello ends with what it knows of the stores")
    ids = (about.get("incarnation"), about.get("yours", ""))
    if not all(type(v) is str and len(v) <= MAX_CLUSTER_ID_CHARS for v in ids):
        raise FrameError("a peer's store ids are strings")
    return attrs.evolve(plain, incarnation=str(ids[0]), yours=str(ids[1]))


def _client_hello(raw: list[Any]) -> Hello:
    plain, about = parse_hello(raw[:5]), raw[5]
    if type(about) is not dict:
        raise FrameError("a client's hello ends with its credentials")
    user, password = about.get("user"), about.get("password")
    if type(user) is not str or not 0 < len(user) <= MAX_CREDENTIAL_CHARS:
        raise FrameError(f"a user name is a string of 1..{MAX_CREDENTIAL_CHARS}")
    if type(password) is not str or len(password) > MAX_CREDENTIAL_CHARS * 8:
        raise FrameError("a password is a string")  # never what it held
    return attrs.evolve(plain, user=user, password=password)


def check_peer(hello: Hello, cluster_id: str) -> None:
    """A node hears only peers of its own cluster (one that is not named yet may be any);
    FrameError names the stranger."""
    if hello.cluster_id and cluster_id and hello.cluster_id != cluster_id:
        raise FrameError(f"cluster id {hello.cluster_id!r} is not ours ({cluster_id!r})")


def check_client(hello: Hello, cluster_id: str) -> None:
    """A client that names its cluster must have reached it (one that names none learns it
    from the node's answering hello); ``WrongCluster`` otherwise, told to the client."""
    if hello.cluster_id and cluster_id and hello.cluster_id != cluster_id:
        raise WrongCluster(hello.cluster_id, cluster_id)


def new_cluster_id() -> str:
    """A fresh cluster's id: 16 random hex digits (etcd's cluster ids have as many)."""
    return secrets.token_hex(8)
