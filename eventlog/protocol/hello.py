"""The first frame on every connection: which cluster, who is calling, and as what."""

from __future__ import annotations

from typing import Any, Final, Literal

import attrs

from eventlog.errors import FrameError
from eventlog.types import NodeId

__all__ = [
    "DEFAULT_CLUSTER_ID",
    "HELLO_VERSION",
    "MAX_HELLO_BYTES",
    "Hello",
    "Role",
    "check_cluster",
    "hello",
    "parse_hello",
]

DEFAULT_CLUSTER_ID: Final = "eventraft"
"""The cluster id of a cluster, a client and an embedded store unless told another."""
HELLO_VERSION: Final = 1
"""Version of the handshake body, separate from the frame version."""
MAX_HELLO_BYTES: Final = 4096
"""A hello is tiny; an unauthenticated caller must not make us buffer a 64 MiB 'hello'."""

Role = Literal["peer", "client"]


@attrs.frozen(kw_only=True, slots=True)
class Hello:
    """The first frame on every connection: which cluster, who is calling, and as what."""

    cluster_id: str
    role: Role
    node_id: NodeId
    """The caller's node id for a peer (1 or more); always 0 for a client."""


def hello(cluster_id: str, role: Role, node_id: int) -> list[Any]:
    """The handshake body ``["hello", 1, cluster_id, role, node_id]``."""
    return ["hello", HELLO_VERSION, cluster_id, role, node_id]


def parse_hello(raw: object) -> Hello:
    """The Hello in a decoded body; FrameError unless it is exactly a valid handshake."""
    if type(raw) is not list or len(raw) != 5 or raw[0] != "hello":
        raise FrameError("expected a hello handshake")
    _, version, cluster_id, role, node_id = raw
    if type(version) is not int or version != HELLO_VERSION:
        raise FrameError(f"unsupported hello version {version!r:.40}")
    if type(cluster_id) is not str or not cluster_id:
        raise FrameError("hello cluster_id must be a non-empty string")
    if type(node_id) is not int:
        raise FrameError("hello node_id must be an integer")
    if role == "peer":
        if node_id < 1:
            raise FrameError(f"a peer hello needs a node id of 1 or more, not {node_id}")
        return Hello(cluster_id=cluster_id, role="peer", node_id=NodeId(node_id))
    if role == "client":
        if node_id != 0:
            raise FrameError(f"a client hello must carry node id 0, not {node_id}")
        return Hello(cluster_id=cluster_id, role="client", node_id=NodeId(0))
    raise FrameError(f"unknown hello role {role!r:.40}")


def check_cluster(hello: Hello, cluster_id: str) -> None:
    """A node serves only callers of its own cluster; FrameError names the stranger."""
    if hello.cluster_id != cluster_id:
        raise FrameError(f"cluster id {hello.cluster_id!r} is not ours ({cluster_id!r})")
