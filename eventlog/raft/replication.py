"""The leader: replicating its log, committing, heartbeats, ReadIndex and leadership transfer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from eventlog.raft.messages import (
    AppendEntries,
    AppendEntriesResponse,
    Heartbeat,
    HeartbeatResponse,
    Message,
    ReadIndexRequest,
    ReadIndexResponse,
    TimeoutNow,
    TransferLeadershipRequest,
)
from eventlog.raft.progress import ProgressState
from eventlog.raft.quorum import committed_index, has_quorum
from eventlog.raft.read_only import ReadState
from eventlog.raft.records import Entry, EntryKind
from eventlog.types import NO_NODE, LogIndex, NodeId

if TYPE_CHECKING:
    from eventlog.raft.core import RaftCore

__all__ = [
    "append_entries",
    "broadcast_append",
    "broadcast_heartbeat",
    "handle_read_index",
    "maybe_commit",
    "send_append",
    "start_transfer",
    "step_leader",
    "tick_heartbeat",
]


def tick_heartbeat(core: RaftCore) -> None:
    core.heartbeat_elapsed += 1
    core.election_elapsed += 1
    if core.config.check_quorum and not _quorum_heard(core):
        core.logger.info("stepped_down_no_quorum", term=core.term)
        core.become_follower(core.term, NO_NODE)
        return
    if core.election_elapsed >= core.config.election_tick:
        core.election_elapsed = 0
        if core.transferee != NO_NODE:
            core.logger.info("leadership_transfer_aborted", target=core.transferee)
            core.transferee = NO_NODE
    if core.heartbeat_elapsed >= core.config.heartbeat_tick:
        core.heartbeat_elapsed = 0
        broadcast_heartbeat(core, core.read_only.last_key() or b"")


def _quorum_heard(core: RaftCore) -> bool:
    """Has a majority answered within the last election timeout (check-quorum, thesis §6.2)?

    Checked on every tick against each peer's last answer, so a leader cut off from the
    majority steps down one election timeout after the last answer, never later.
    """
    return has_quorum(core.voters, heard_recently(core))


def heard_recently(core: RaftCore) -> list[NodeId]:
    """The leader itself and each member that answered within the last election timeout."""
    horizon = core.ticks - core.config.election_tick
    return [
        node
        for node, pr in core.progress.items()
        if node == core.id or pr.last_heard_tick > horizon
    ]


def append_entries(core: RaftCore, items: Sequence[tuple[bytes, EntryKind]]) -> None:
    last = core.log.last_index()
    entries = [
        Entry(term=core.term, index=LogIndex(last + offset), data=data, kind=kind)
        for offset, (data, kind) in enumerate(items, start=1)
    ]
    core.log.append(entries)
    broadcast_append(core)


def broadcast_append(core: RaftCore) -> None:
    for peer in core.peers:
        send_append(core, peer)


def send_append(core: RaftCore, peer: NodeId, *, send_if_empty: bool = True) -> bool:
    """Send the next entries ``peer`` lacks, if its window allows. True if a message went out."""
    pr = core.progress[peer]
    if pr.is_paused:
        return False
    log = core.log
    entries: list[Entry] = []
    if pr.state is ProgressState.REPLICATE:
        # A probe carries no entries: it may be rejected, and it is sent once per heartbeat
        # while the follower is lost, so its cost must not depend on how far behind it is.
        entries = log.slice(pr.next, LogIndex(log.last_index() + 1), core.config.max_message_bytes)
    if not entries and not send_if_empty:
        return False
    prev_index = LogIndex(pr.next - 1)
    prev_term = log.term(prev_index)
    assert prev_term is not None, "no compaction: every index below next is in the log"
    core.send(
        AppendEntries(
            src=core.id,
            dst=peer,
            term=core.term,
            prev_log_index=prev_index,
            prev_log_term=prev_term,
            entries=tuple(entries),
            leader_commit=log.committed,
        )
    )
    if entries:
        pr.sent_entries(entries[-1].index, sum(entry.size for entry in entries), core.ticks)
    elif pr.state is ProgressState.PROBE:
        pr.paused = True
    return True


def broadcast_heartbeat(core: RaftCore, context: bytes) -> None:
    for peer in core.peers:
        commit = LogIndex(min(core.progress[peer].match, core.log.committed))
        core.send(Heartbeat(src=core.id, dst=peer, term=core.term, commit=commit, context=context))


def maybe_commit(core: RaftCore) -> bool:
    """Commit what a majority holds, if it is of our own term (Raft §5.4.2, Figure 8)."""
    matches = {voter: pr.match for voter, pr in core.progress.items()}
    index = committed_index(core.voters, matches)
    return core.log.maybe_commit(index, core.term)


def step_leader(core: RaftCore, m: Message) -> None:
    match m:
        case AppendEntriesResponse():
            _handle_append_response(core, m)
        case HeartbeatResponse():
            _handle_heartbeat_response(core, m)
        case ReadIndexRequest():
            handle_read_index(core, m.context, m.src)
        case TransferLeadershipRequest() if m.target in core.voters:
            start_transfer(core, m.target)
        case _:
            core.logger.debug("message_ignored", kind=m.TAG, src=m.src, role=core.role.value)


def _handle_append_response(core: RaftCore, m: AppendEntriesResponse) -> None:
    pr = core.progress.get(m.src)
    if pr is None:
        return
    if m.index > core.log.last_index():
        # No follower can hold what this leader never had in its term: a forged or garbled
        # answer. Taking it would set a match past our log and commit what does not exist.
        core.logger.warning(
            "answer_beyond_log", follower=m.src, index=m.index, last_index=core.log.last_index()
        )
        return
    pr.last_heard_tick = core.ticks
    if m.reject:
        next_probe = m.hint_index
        if m.hint_term > 0:
            next_probe, _ = core.log.find_conflict_by_term(m.hint_index, m.hint_term)
        if pr.next - 1 == m.index and pr.lost_entries(m.index, next_probe):
            core.logger.warning(
                "follower_lost_entries", follower=m.src, acknowledged=pr.match, holds=next_probe
            )
        if pr.maybe_decrease_to(m.index, next_probe):
            if pr.state is ProgressState.REPLICATE:
                pr.become_probe()
            send_append(core, m.src)
        return
    was_paused = pr.is_paused
    found = pr.state is ProgressState.PROBE and m.index == pr.match  # an empty probe taken
    if not pr.maybe_update(m.index) and not found:
        return
    if pr.state is ProgressState.PROBE:
        pr.become_replicate()
    else:
        pr.inflights.free_to(m.index)
    if maybe_commit(core):
        _on_commit(core)
        broadcast_append(core)
    elif was_paused and m.src != core.id:
        send_append(core, m.src)
    if m.src != core.id:
        while send_append(core, m.src, send_if_empty=False):
            pass
    if m.src == core.transferee and pr.match == core.log.last_index():
        _send_timeout_now(core, m.src)


def _handle_heartbeat_response(core: RaftCore, m: HeartbeatResponse) -> None:
    pr = core.progress.get(m.src)
    if pr is None:
        return
    pr.last_heard_tick = core.ticks
    pr.paused = False
    # A heartbeat's answer never opens the window (only acknowledgements do, so catching up
    # is paced by the bytes in flight); if what is in flight was lost, probe again.
    if pr.window_lost(core.ticks, core.config.election_tick):
        core.logger.info("appends_lost", follower=m.src, match=pr.match, next=pr.next)
        pr.become_probe()
    if pr.match < core.log.last_index():
        send_append(core, m.src)
    if not m.context or not core.read_only.ack(m.context, m.src):
        return
    for read in core.read_only.release(m.context, core.voters):
        _answer_read(core, read.index, read.context, read.requester)


def _on_commit(core: RaftCore) -> None:
    """Reads that waited for our first commit in this term can now be served (thesis §6.4).
    A leader that committed its own removal steps down (thesis §4.2.2): it led until then
    without counting itself in any majority."""
    if core.id not in core.voters and core.log.committed >= core.memberships.last_change_index:
        core.logger.info("stepped_down_removed", term=core.term)
        core.become_follower(core.term, NO_NODE)
        return
    waiting, core.reads_waiting_for_commit = core.reads_waiting_for_commit, []
    for context, requester in waiting:
        handle_read_index(core, context, requester)


def handle_read_index(core: RaftCore, context: bytes, requester: NodeId) -> None:
    log = core.log
    if log.term(log.committed) != core.term:
        # Until an entry of our term commits we may not know the latest commit index: a
        # restarted node may not even have persisted its own last commit (thesis §6.4).
        core.reads_waiting_for_commit.append((context, requester))
    elif len(core.voters) == 1:
        _answer_read(core, log.committed, context, requester)
    else:
        key = core.read_only.add(log.committed, context, requester, core.id)
        broadcast_heartbeat(core, key)


def _answer_read(core: RaftCore, index: LogIndex, context: bytes, requester: NodeId) -> None:
    if requester == core.id:
        core.read_states.append(ReadState(index=index, context=context))
    else:
        core.send(
            ReadIndexResponse(
                src=core.id, dst=requester, term=core.term, context=context, index=index
            )
        )


def start_transfer(core: RaftCore, target: NodeId) -> None:
    if target == core.id or target == core.transferee:
        return
    core.transferee = target
    core.election_elapsed = 0  # the transfer must finish within one election timeout
    core.logger.info("leadership_transfer_started", target=target, term=core.term)
    if core.progress[target].match == core.log.last_index():
        _send_timeout_now(core, target)
    else:
        send_append(core, target)


def _send_timeout_now(core: RaftCore, target: NodeId) -> None:
    core.send(TimeoutNow(src=core.id, dst=target, term=core.term))
