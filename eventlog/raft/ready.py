"""``Ready``: everything the core asks of its host at one instant. Its docstring is the contract."""

from __future__ import annotations

import enum
from collections.abc import Sequence

import attrs

from eventlog.raft.messages import Message
from eventlog.raft.read_only import ReadState
from eventlog.raft.records import Entry, HardState
from eventlog.types import NodeId

__all__ = [
    "Ready",
    "Role",
    "SoftState",
    "must_sync",
]


class Role(enum.Enum):
    FOLLOWER = "follower"
    PRE_CANDIDATE = "pre_candidate"
    CANDIDATE = "candidate"
    LEADER = "leader"


@attrs.frozen(kw_only=True, slots=True)
class SoftState:
    """Volatile facts for the host (who leads, what we are); never persisted."""

    leader: NodeId
    role: Role


@attrs.frozen(kw_only=True, slots=True)
class Ready:
    """What the host must do, in this order, before calling ``core.advance(ready)``:

    1. Persist ``hard_state`` (if not None) and ``entries`` in one write. ``entries`` replace any
       stored entries from ``entries[0].index`` on. If ``must_sync``, fsync before step 2.
    2. Send ``messages_after_persist``: they promise that step 1 is durable (a granted vote,
       an acknowledged append). ``messages`` promise nothing and may be sent at once, even
       before step 1 (the leader replicates while it writes its own log, thesis §10.2.1).
    3. Apply ``committed`` in order. They may include entries from this Ready's ``entries``
       (a leader with no other member commits its own write in the Ready that asks for it),
       which is why step 1 comes first: nothing of such an entry may be answered before
       step 1 is durable.
    4. Serve each read in ``read_states`` once the applied index reaches its ``index``.
    5. Call ``advance(ready)``.

    The host may take the next Ready before it has advanced this one, so that the leader's
    next entries go out to the followers while its own write of the last ones runs (thesis
    §10.2.1). Each Ready holds only what earlier ones did not. Readys in hand are done in
    the order they were handed out: each one's write lands after the earlier ones' writes,
    its ``messages_after_persist`` go once its own write and every earlier one are durable,
    its ``committed`` are applied after the earlier ones', and ``advance`` takes them oldest
    first. The leader's own write counts toward a commit when its Ready is advanced, so
    entries may commit on the followers' writes alone while the leader's is still running;
    steps 1 and 3 in order keep them from being applied before they are in this log.
    """

    soft_state: SoftState
    hard_state: HardState | None
    entries: tuple[Entry, ...]
    committed: tuple[Entry, ...]
    messages: tuple[Message, ...]
    messages_after_persist: tuple[Message, ...]
    read_states: tuple[ReadState, ...]
    must_sync: bool


def must_sync(previous: HardState, changed: HardState | None, entries: Sequence[Entry]) -> bool:
    """The durability rule, in one place (etcd's ``MustSync``): entries, a new term or a new
    vote must survive a power loss before anyone hears of them. The commit index alone need
    not (a restarted node relearns it from the leader)."""
    return bool(entries) or (
        changed is not None and (changed.term != previous.term or changed.vote != previous.vote)
    )
