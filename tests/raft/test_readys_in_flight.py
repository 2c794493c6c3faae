"""The host may take the next Ready before it has written the last (``Ready``'s contract):
each holds only what earlier ones did not, the leader's own write counts when its Ready is
advanced, and entries may commit on the followers' writes alone meanwhile."""

from __future__ import annotations

import pytest

from eventlog.errors import InvariantViolation
from eventlog.raft.core import RaftCore
from eventlog.raft.messages import AppendEntries, AppendEntriesResponse
from eventlog.raft.ready import Ready
from eventlog.raft.records import Entry, EntryKind
from eventlog.types import LogIndex, NodeId, Term
from tests.raft.harness import Network


def _leader_of_three() -> Network:
    net = Network.create(3)
    net.elect(1)
    return net


def _hand(net: Network, node: int) -> Ready:
    """Take a Ready as the node's host does: its writes go to the disk, unsynced, and what
    need not wait for them is sent; the host is still writing it."""
    host = net.host(node)
    rd = host.core.ready()
    host.storage.write(rd.hard_state, rd.entries)
    for m in rd.messages:
        net.deliver(m)
    return rd


def _done(net: Network, node: int, rd: Ready) -> None:
    """The host's fsync after ``rd`` returned: what waited for it goes, then ``advance``."""
    host = net.host(node)
    host.storage.sync()
    for m in rd.messages_after_persist:
        net.deliver(m)
    host.applied.extend(rd.committed)
    host.core.advance(rd)


def _followers_write_and_answer(net: Network) -> None:
    for node in (2, 3):
        net.process_ready(NodeId(node))
    for m in net.in_flight:
        net.deliver(m)
    net.in_flight.clear()


def _two_in_flight() -> tuple[Network, RaftCore, Ready, Ready]:
    """A leader of three that handed out a Ready per proposal, and advanced neither."""
    net = _leader_of_three()
    leader = net.core(1)
    leader.propose(b"a")
    first = _hand(net, 1)
    leader.propose(b"b")
    return net, leader, first, _hand(net, 1)


def test_a_second_ready_holds_only_what_the_first_did_not() -> None:
    _, leader, first, second = _two_in_flight()
    assert [entry.data for entry in first.entries] == [b"a"]
    assert [entry.data for entry in second.entries] == [b"b"]
    assert leader.readys_in_flight == 2
    assert not leader.has_ready()
    # Both went out before either was written: the followers write them meanwhile.
    sent = [m for rd in (first, second) for m in rd.messages if isinstance(m, AppendEntries)]
    assert {m.dst for m in sent} == {2, 3}
    assert [entry.data for m in sent if m.dst == 2 for entry in m.entries] == [b"a", b"b"]


def test_readys_are_advanced_oldest_first() -> None:
    net, leader, first, second = _two_in_flight()
    with pytest.raises(InvariantViolation):
        leader.advance(second)
    _done(net, 1, first)
    _done(net, 1, second)
    assert leader.readys_in_flight == 0


def _committed_while_writing() -> tuple[Network, RaftCore, Ready]:
    """A leader of three whose entry its followers wrote and acknowledged, while the
    leader's own write of it (the Ready returned) has not landed."""
    net = _leader_of_three()
    leader = net.core(1)
    leader.propose(b"a")
    writing = _hand(net, 1)
    _followers_write_and_answer(net)
    return net, leader, writing


def test_entries_commit_on_the_followers_writes_while_the_leaders_own_runs() -> None:
    net, leader, writing = _committed_while_writing()
    [entry] = writing.entries
    assert leader.log.committed == entry.index  # two followers are a majority of three
    assert leader.progress[leader.id].match < entry.index  # our own write has not landed
    applying = _hand(net, 1)
    assert applying.entries == ()
    assert [committed.data for committed in applying.committed] == [b"a"]
    # Applied after the write that holds it: the host does the Readys in order.
    _done(net, 1, writing)
    assert leader.progress[leader.id].match == entry.index
    _done(net, 1, applying)
    assert leader.log.applied == entry.index
    assert [entry.data for entry in net.host(1).applied if entry.data] == [b"a"]


def test_committed_entries_are_handed_to_apply_once() -> None:
    net, leader, writing = _committed_while_writing()
    applying = _hand(net, 1)
    leader.propose(b"b")
    third = _hand(net, 1)
    assert [entry.data for entry in applying.committed] == [b"a"]
    assert third.committed == ()
    for rd in (writing, applying, third):
        _done(net, 1, rd)


def test_a_follower_hands_again_entries_replaced_while_they_were_being_written() -> None:
    net = _leader_of_three()
    follower = net.core(2)
    term = follower.term
    base = follower.log.last_index()
    old = AppendEntries(
        src=NodeId(1),
        dst=NodeId(2),
        term=term,
        prev_log_index=base,
        prev_log_term=follower.log.last_term(),
        leader_commit=follower.log.committed,
        entries=(
            _entry(base + 1, term, b"x"),
            _entry(base + 2, term, b"y"),
        ),
    )
    follower.step(old)
    writing = _hand(net, 2)
    assert [entry.data for entry in writing.entries] == [b"x", b"y"]
    # A new leader, of a later term, replaces the second entry while the first write runs.
    newer = Term(term + 1)
    replacing = AppendEntries(
        src=NodeId(3),
        dst=NodeId(2),
        term=newer,
        prev_log_index=LogIndex(base + 1),
        prev_log_term=term,
        leader_commit=follower.log.committed,
        entries=(_entry(base + 2, newer, b"z"),),
    )
    follower.step(replacing)
    rewriting = _hand(net, 2)
    assert [(entry.index, entry.data) for entry in rewriting.entries] == [(base + 2, b"z")]
    _done(net, 2, writing)  # its last entry was replaced meanwhile: that is still unstable
    assert follower.log.offset <= base + 2
    _done(net, 2, rewriting)
    assert follower.log.offset == base + 3
    assert [entry.data for entry in follower.log.slice(LogIndex(base + 1), LogIndex(base + 3))] == [
        b"x",
        b"z",
    ]
    assert [entry.data for entry in net.host(2).storage.durable_log()[base:]] == [b"x", b"z"]
    # Each acknowledgement waits for the write it promises.
    acks = [m for m in rewriting.messages_after_persist if isinstance(m, AppendEntriesResponse)]
    assert [m.index for m in acks] == [base + 2]


def _entry(index: int, term: Term, data: bytes) -> Entry:
    return Entry(index=LogIndex(index), term=term, kind=EntryKind.NORMAL, data=data)
