"""How one node is set up: who it is, where its peers and its data are, and its limits."""

from __future__ import annotations

import time
from collections.abc import Mapping

import attrs

from eventlog.protocol.requests import DEFAULT_MAX_APPEND_BYTES
from eventlog.security.tls import TLSConfig
from eventlog.types import NodeId

__all__ = [
    "STAGED_FLUSH_DELAY",
    "NodeConfig",
    "monotonic_ms",
    "wall_clock_ms",
]

STAGED_FLUSH_DELAY = 0.005
"""Seconds an applied-only Ready may wait to be written with the next one; a reader that
needs it sooner has it written at once."""


@attrs.frozen(kw_only=True)
class NodeConfig:
    node_id: NodeId
    cluster_id: str | None
    """The cluster to serve; None takes the one stored in ``data_dir``. A fresh set of
    nodes started with none is named by its first leader, through the log."""
    addresses: Mapping[NodeId, tuple[str, int]]
    data_dir: str
    tick_ms: float = 10.0
    sync: bool = True
    election_tick: int = 50
    """Ticks a follower waits for its leader before it campaigns, at least (it draws from
    [election_tick, 2 * election_tick)): 0.5 to 1 s at the default tick, as etcd's 1 s. A
    Python node's loop pauses for tens of milliseconds under load (its collector, a 2-core
    machine shared with its clients); the margin keeps a busy leader from looking dead."""
    heartbeat_tick: int = 5
    """Ticks between a leader's heartbeats: 50 ms, a tenth of the shortest election timeout."""
    flush_delay: float = STAGED_FLUSH_DELAY
    pipelined_writes: bool = True
    """Take the next Ready while the last one is written (``eventlog.node.writes``); False
    takes it once the last one is written and finished."""
    max_append_bytes: int = DEFAULT_MAX_APPEND_BYTES
    """The largest append this node takes as leader; the same on every node of a cluster."""
    max_held_appends: int = 20_000
    """Appends a leader holds, taken and not yet answered; past it it answers ``Overloaded``."""
    max_held_bytes: int = 256 << 20
    """The same bound, in the bytes of those appends."""
    subscriber_stall: float = 30.0
    """Seconds a subscriber may leave what it was sent unread before it is dropped."""
    quota_bytes: int | None = None
    """Past this many bytes in its store the node raises a NOSPACE alarm (None: no quota)."""
    storage_retry: float = 1.0
    """Seconds between attempts to write again after the disk was found full."""
    tls: TLSConfig | None = None
    """The cluster's CA and this node's certificate and key: every link, to peers and
    clients, is TLS, and a peer must present its own node's certificate. None: plaintext
    (``--insecure``), where no one signs in and everyone may do everything."""
    admin_password_hash: str | None = attrs.field(default=None, repr=False)
    """The first admin's password (``--admin-password-file``), hashed: proposed by the first
    leader of a new cluster; ignored once the cluster has its first admin."""


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


def monotonic_ms() -> int:
    return time.monotonic_ns() // 1_000_000
