"""Who is in the cluster: voters and learners, changed one server at a time through the log.

Single-server changes (Ongaro's dissertation, chapter 4) rather than joint consensus: every
change an operator makes here adds, promotes or removes one server, and any two majorities
of configurations that differ by one voter overlap, so no change needs two configurations at
once. A configuration takes effect on each server as soon as its entry is in that server's
log, committed or not (§4.1); an entry truncated away takes its configuration with it. A
leader proposes a change only once an entry of its own term is committed (the fix to §4.1
posted in 2015) and only when no other change is uncommitted, which keeps one in flight.

Learners receive the log and never vote, campaign or count toward a quorum (etcd's
learners, the dissertation's non-voting members of §4.2.1).
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable, Mapping, Sequence

import attrs

from eventlog.errors import MembershipError
from eventlog.raft.records import Entry, EntryKind
from eventlog.types import LogIndex, NodeId

__all__ = [
    "MAX_ADDRESS_BYTES",
    "Change",
    "ChangeKind",
    "Membership",
    "MembershipError",
    "Memberships",
]


_COUNTS = struct.Struct(">HH")
_ID = struct.Struct(">Q")
_LENGTH = struct.Struct(">H")
MAX_ADDRESS_BYTES = 255
"""A member's address (``host:port``) in a configuration entry, at most this long."""


@attrs.frozen
class Membership:
    """One configuration: who votes, who only learns, and where each member listens. The
    addresses travel in the configuration entry, so that every member (and a node joining)
    learns where a new one is from the log itself; the core carries them and never reads
    them."""

    voters: frozenset[NodeId]
    learners: frozenset[NodeId] = frozenset()
    addresses: tuple[tuple[NodeId, str], ...] = ()
    """``(node, "host:port")`` of the members whose address is known, sorted by node."""

    @classmethod
    def of(
        cls,
        voters: Iterable[int],
        learners: Iterable[int] = (),
        addresses: Mapping[NodeId, str] | Mapping[int, str] | None = None,
    ) -> Membership:
        known = sorted((NodeId(n), a) for n, a in (addresses or {}).items() if a)
        return cls(
            frozenset(NodeId(v) for v in voters),
            frozenset(NodeId(n) for n in learners),
            tuple(known),
        )

    @property
    def members(self) -> frozenset[NodeId]:
        return self.voters | self.learners

    def address(self, node: NodeId) -> str:
        """Where ``node`` listens, as this configuration says (empty if it does not)."""
        return dict(self.addresses).get(node, "")

    def encode(self) -> bytes:
        """Two counts, then the voters' ids and the learners', each sorted, 8 bytes each;
        then each one's address in the same order, as a 2-byte length and UTF-8."""
        voters, learners = sorted(self.voters), sorted(self.learners)
        members = (*voters, *learners)
        ids = b"".join(_ID.pack(node) for node in members)
        addresses = b"".join(_lp(self.address(node).encode()) for node in members)
        return _COUNTS.pack(len(voters), len(learners)) + ids + addresses

    @classmethod
    def decode(cls, data: bytes) -> Membership:
        """The membership a configuration entry holds; ``MembershipError`` if it is not one
        (an entry in the log was checked when it was proposed: this is a bug or a rot)."""
        if len(data) < _COUNTS.size:
            raise MembershipError("malformed", f"not a configuration entry: {data[:16]!r}")
        voters, learners = _COUNTS.unpack_from(data)
        count = voters + learners
        offset = _COUNTS.size + _ID.size * count
        if len(data) < offset:
            raise MembershipError("malformed", f"a configuration entry of {len(data)} bytes")
        ids = [_ID.unpack_from(data, _COUNTS.size + _ID.size * n)[0] for n in range(count)]
        addresses: dict[int, str] = {}
        for node in ids:
            if len(data) < offset + _LENGTH.size:
                raise MembershipError("malformed", "a configuration entry cut short")
            (length,) = _LENGTH.unpack_from(data, offset)
            offset += _LENGTH.size
            raw = data[offset : offset + length]
            offset += length
            if len(raw) != length:
                raise MembershipError("malformed", "a configuration entry cut short")
            try:
                addresses[node] = raw.decode()
            except UnicodeDecodeError:
                raise MembershipError("malformed", f"address of node {node} is not UTF-8") from None
        if offset != len(data):
            raise MembershipError("malformed", f"a configuration entry of {len(data)} bytes")
        membership = cls.of(ids[:voters], ids[voters:], addresses)
        if not membership.voters or membership.voters & membership.learners or 0 in ids:
            raise MembershipError("malformed", f"not a configuration: {membership}")
        return membership

    def __str__(self) -> str:
        learners = f", learners {sorted(self.learners)}" if self.learners else ""
        return f"voters {sorted(self.voters)}{learners}"


def _lp(raw: bytes) -> bytes:
    return _LENGTH.pack(len(raw)) + raw


class ChangeKind(enum.Enum):
    ADD_LEARNER = "add_learner"
    PROMOTE = "promote"
    REMOVE = "remove"


@attrs.frozen
class Change:
    kind: ChangeKind
    node: NodeId
    address: str = ""
    """Where a learner being added listens (``host:port``); only ``ADD_LEARNER`` has one."""

    def made_in(self, current: Membership, ever: frozenset[NodeId]) -> bool:
        """Does ``current`` already hold what this change makes (a caller asking again)?"""
        node = self.node
        if self.kind is ChangeKind.ADD_LEARNER:
            return node in current.members and self.address in ("", current.address(node))
        if self.kind is ChangeKind.PROMOTE:
            return node in current.voters
        return node not in current.members and node in ever

    def applied_to(self, current: Membership) -> Membership:
        """The membership after this change, or ``MembershipError`` naming why not."""
        node = self.node
        addresses = dict(current.addresses)
        if self.kind is ChangeKind.ADD_LEARNER:
            if node in current.members:
                raise MembershipError("already_member", f"node {node} is already a member")
            if len(self.address.encode()) > MAX_ADDRESS_BYTES:
                raise MembershipError(
                    "malformed", f"an address is {MAX_ADDRESS_BYTES} bytes at most"
                )
            addresses[node] = self.address
            return Membership.of(current.voters, current.learners | {node}, addresses)
        if self.kind is ChangeKind.PROMOTE:
            if node not in current.learners:
                raise MembershipError("not_learner", f"node {node} is not a learner")
            return Membership.of(current.voters | {node}, current.learners - {node}, addresses)
        if node not in current.members:
            raise MembershipError("unknown_id", f"node {node} is not a member")
        if current.voters == {node}:
            raise MembershipError("last_voter", f"node {node} is the last voter")
        addresses.pop(node, None)
        return Membership.of(current.voters - {node}, current.learners - {node}, addresses)


@attrs.define
class Memberships:
    """The configuration entries of one server's log over the one it started from: the latest
    is in force (§4.1), whether it is committed or not."""

    base: Membership
    changes: list[tuple[LogIndex, Membership]] = attrs.field(factory=list)
    base_index: LogIndex = LogIndex(0)
    """The log index ``base`` is in force from: 0 for a cluster bootstrapped with it, the
    last index of the copy for one restored from a backup (the configuration entries of the
    copied log are another cluster's)."""

    @classmethod
    def from_log(
        cls, base: Membership, entries: Iterable[Entry], base_index: LogIndex = LogIndex(0)
    ) -> Memberships:
        memberships = cls(base, base_index=base_index)
        for entry in entries:
            if entry.kind is EntryKind.CONFIG and entry.index > base_index:
                memberships.changes.append((entry.index, Membership.decode(entry.data)))
        return memberships

    @property
    def current(self) -> Membership:
        return self.changes[-1][1] if self.changes else self.base

    @property
    def previous(self) -> Membership:
        """The configuration before the one in force."""
        return self.changes[-2][1] if len(self.changes) > 1 else self.base

    def ever(self) -> frozenset[NodeId]:
        """Every node this log has known as a member: an id is never given to another."""
        known = set(self.base.members)
        for _, membership in self.changes:
            known |= membership.members
        return frozenset(known)

    @property
    def last_change_index(self) -> LogIndex:
        return self.changes[-1][0] if self.changes else LogIndex(0)

    def appended(self, entries: Sequence[Entry]) -> bool:
        """The log now holds ``entries`` from ``entries[0].index`` on, and nothing after: what
        it held there before, with its configurations, is gone. True if the one in force
        changed."""
        if not entries:
            return False
        before, touched = self.current, False
        first = entries[0].index
        while self.changes and self.changes[-1][0] >= first:
            self.changes.pop()
            touched = True
        for entry in entries:
            if entry.kind is EntryKind.CONFIG:
                self.changes.append((entry.index, Membership.decode(entry.data)))
                touched = True
        return touched and self.current != before
