"""Tunables of one core, validated when built."""

from __future__ import annotations

import attrs

from eventlog.errors import ConfigError
from eventlog.raft.membership import Membership
from eventlog.types import LogIndex, NodeId

__all__ = [
    "RaftConfig",
]


def _check(config: RaftConfig) -> None:
    if config.node_id < 1:
        raise ConfigError(f"a node id is >= 1, got {config.node_id}")
    if len(set(config.voters)) != len(config.voters) or min(config.voters, default=1) < 1:
        raise ConfigError(f"voters must be distinct ids >= 1, got {config.voters}")
    if config.heartbeat_tick < 1 or config.election_tick <= config.heartbeat_tick:
        raise ConfigError(
            f"need 1 <= heartbeat_tick < election_tick, got "
            f"{config.heartbeat_tick} and {config.election_tick}"
        )
    if config.max_inflight_messages < 1 or config.max_message_bytes < 1:
        raise ConfigError("in-flight window and message size must be positive")


@attrs.frozen(kw_only=True)
class RaftConfig:
    node_id: NodeId
    voters: tuple[NodeId, ...]
    """The voters the cluster started with; the log may change them since. A node that is
    not among them joins as nothing until the log makes it a learner."""
    base: Membership | None = None
    """The configuration the cluster started with, addresses included; None: ``voters``."""
    base_index: LogIndex = LogIndex(0)
    """The log index ``base`` holds from (``Memberships.base_index``)."""
    election_tick: int = 15
    """Ticks without a leader before campaigning; randomized in [election_tick, 2*election_tick)."""
    heartbeat_tick: int = 3
    pre_vote: bool = True
    check_quorum: bool = True
    max_message_bytes: int = 1 << 20
    """Byte cap of the entries in one AppendEntries (one entry is always allowed)."""
    max_inflight_messages: int = 64
    max_inflight_bytes: int = 16 << 20
    max_apply_bytes: int = 64 << 20
    """Byte cap of committed entries handed out in one Ready."""
    max_promote_lag: int = 100
    """Entries a learner may lack behind the leader's log and still be promoted to voter."""

    def __attrs_post_init__(self) -> None:
        _check(self)

    @property
    def base_membership(self) -> Membership:
        return self.base if self.base is not None else Membership.of(self.voters)
