"""The pure parts of the core, each on its own: quorum math, progress tracking, the log view,
the in-memory disk and configuration checks (etcd tests ``quorum/``, ``tracker/`` and
``log_test.go`` the same way)."""

from __future__ import annotations

import random

import attrs
import pytest

from eventlog.errors import ConfigError, InvariantViolation
from eventlog.raft.config import RaftConfig
from eventlog.raft.core import RaftCore
from eventlog.raft.log import RaftLog
from eventlog.raft.progress import Inflights, Progress, ProgressState
from eventlog.raft.quorum import VoteResult, committed_index, has_quorum, vote_result
from eventlog.raft.ready import must_sync
from eventlog.raft.records import Entry, HardState
from eventlog.raft.storage import EntryUnavailable, MemoryStorage
from eventlog.types import LogIndex, NodeId, Term

V3 = (NodeId(1), NodeId(2), NodeId(3))
V5 = (NodeId(1), NodeId(2), NodeId(3), NodeId(4), NodeId(5))


def entries(*terms: int, start: int = 1, data: bytes = b"") -> list[Entry]:
    return [
        Entry(term=Term(term), index=LogIndex(start + i), data=data) for i, term in enumerate(terms)
    ]


def log_with(*terms: int, committed: int = 0, data: bytes = b"") -> RaftLog:
    """A RaftLog whose storage already holds (synced) entries of ``terms`` at 1, 2, ..."""
    storage = MemoryStorage()
    storage.write(HardState(commit=LogIndex(committed)), entries(*terms, data=data))
    storage.sync()
    return RaftLog.open(storage, LogIndex(committed), LogIndex(0))


def terms_of(log: RaftLog) -> list[int]:
    return [int(log.term(LogIndex(i)) or 0) for i in range(1, log.last_index() + 1)]


def make_progress(match: int, next_: int, max_count: int = 4) -> Progress:
    return Progress(
        match=LogIndex(match), next=LogIndex(next_), inflights=Inflights(max_count, 1 << 20)
    )


# -- quorum ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("voters", "match", "expected"),
    [
        (V3, {1: 5, 2: 3, 3: 1}, 3),
        (V3, {1: 5, 2: 5, 3: 1}, 5),
        (V3, {1: 5}, 0),
        (V5, {1: 9, 2: 7, 3: 7, 4: 2, 5: 1}, 7),
        (V5, {1: 9, 2: 8, 4: 2}, 2),
        ((NodeId(1),), {1: 4}, 4),
    ],
)
def test_committed_index_is_the_largest_index_a_majority_holds(
    voters: tuple[NodeId, ...], match: dict[int, int], expected: int
) -> None:
    """Raft §5.3: an index is replicated on a majority when the median match reaches it."""
    matches = {NodeId(k): LogIndex(v) for k, v in match.items()}
    assert committed_index(voters, matches) == expected


@pytest.mark.parametrize(
    ("voters", "votes", "expected"),
    [
        (V3, {1: True}, VoteResult.PENDING),
        (V3, {1: True, 2: True}, VoteResult.WON),
        (V3, {1: True, 2: False}, VoteResult.PENDING),
        (V3, {1: True, 2: False, 3: False}, VoteResult.LOST),
        (V5, {1: True, 2: True, 3: False, 4: False}, VoteResult.PENDING),
        (V5, {1: True, 2: False, 3: False, 4: False}, VoteResult.LOST),
        (V5, {1: True, 2: True, 9: True}, VoteResult.PENDING),
    ],
)
def test_vote_result(
    voters: tuple[NodeId, ...], votes: dict[int, bool], expected: VoteResult
) -> None:
    """Raft §5.2: a candidate wins with a majority of the voters; non-voters do not count."""
    assert vote_result(voters, {NodeId(k): v for k, v in votes.items()}) is expected


def test_has_quorum_counts_only_voters() -> None:
    """Raft §5.2: a quorum is a majority of the configured voters."""
    assert has_quorum(V3, [NodeId(1), NodeId(3)])
    assert not has_quorum(V3, [NodeId(2)])
    assert not has_quorum(V5, [NodeId(1), NodeId(2), NodeId(7), NodeId(8)])
    assert has_quorum(V5, [NodeId(1), NodeId(2), NodeId(5)])


# -- Inflights and Progress -----------------------------------------------------------------------
def test_inflights_window_is_bounded_by_count_and_bytes() -> None:
    """Thesis §10.2.1: the pipeline window caps unacknowledged appends by count and size."""
    window = Inflights(max_count=3, max_bytes=100)
    window.add(LogIndex(2), 10)
    window.add(LogIndex(4), 10)
    assert not window.full
    window.add(LogIndex(6), 10)
    assert window.full and len(window) == 3
    window.free_to(LogIndex(4))
    assert len(window) == 1 and not window.full
    window.add(LogIndex(9), 90)
    assert window.full  # 100 bytes in flight
    window.free_first()
    assert len(window) == 1 and not window.full
    window.reset()
    assert len(window) == 0


def test_progress_probe_sends_one_append_at_a_time() -> None:
    """Thesis §5.3: while probing, the leader waits for each answer before sending again."""
    pr = make_progress(match=0, next_=6)
    assert pr.state is ProgressState.PROBE and not pr.is_paused
    pr.sent_entries(LogIndex(7), 32)
    assert pr.is_paused and pr.next == 6  # probing does not move next optimistically
    assert pr.maybe_update(LogIndex(7))
    assert pr.match == 7 and pr.next == 8 and not pr.is_paused
    assert not pr.maybe_update(LogIndex(5))  # old news
    assert pr.match == 7


def test_progress_replicate_streams_until_the_window_fills() -> None:
    """Thesis §10.2.1: in replicate state next advances optimistically, bounded by the window."""
    pr = make_progress(match=3, next_=10, max_count=2)
    pr.become_replicate()
    assert pr.next == 4 and pr.state is ProgressState.REPLICATE
    pr.sent_entries(LogIndex(5), 32)
    assert pr.next == 6 and not pr.is_paused
    pr.sent_entries(LogIndex(7), 32)
    assert pr.next == 8 and pr.is_paused
    pr.maybe_update(LogIndex(5))
    pr.inflights.free_to(LogIndex(5))
    assert not pr.is_paused


def test_progress_rejections_move_next_back_unless_stale() -> None:
    """Raft §5.3: on a rejection next goes back, never below match+1; stale ones are ignored."""
    pr = make_progress(match=2, next_=10)
    assert not pr.maybe_decrease_to(LogIndex(5), LogIndex(3))  # we probed at 9, not at 5
    assert pr.maybe_decrease_to(LogIndex(9), LogIndex(4))
    assert pr.next == 5
    pr2 = make_progress(match=6, next_=10)
    assert pr2.maybe_decrease_to(LogIndex(9), LogIndex(1))
    assert pr2.next == 7  # the hint cannot take next below match + 1
    pr3 = make_progress(match=6, next_=12)
    pr3.become_replicate()
    pr3.sent_entries(LogIndex(11), 10)
    assert not pr3.maybe_decrease_to(LogIndex(5), LogIndex(0))  # below match: stale
    assert pr3.maybe_decrease_to(LogIndex(8), LogIndex(0))
    assert pr3.next == 7
    pr3.become_probe()
    assert pr3.state is ProgressState.PROBE and len(pr3.inflights) == 0


def test_a_probe_at_match_rejected_means_the_follower_lost_what_it_acknowledged() -> None:
    """At ``match`` a rejection may be stale; in REPLICATE it makes the leader probe there,
    and a probe rejected there means the follower's log is shorter than it acknowledged:
    ``match`` drops to 0 and ``next`` follows the follower's hint."""
    pr = make_progress(match=6, next_=12)
    pr.become_replicate()
    assert pr.maybe_decrease_to(LogIndex(6), LogIndex(0))  # at match: ask again
    assert (pr.match, pr.next) == (6, 7)
    pr.become_probe()
    assert pr.lost_entries(LogIndex(6), LogIndex(2))
    assert pr.maybe_decrease_to(LogIndex(6), LogIndex(2))
    assert (pr.match, pr.next) == (0, 3)
    pr2 = make_progress(match=6, next_=7)
    assert not pr2.lost_entries(LogIndex(6), LogIndex(6))  # holds what it acked: a conflict


# -- RaftLog --------------------------------------------------------------------------------------
def test_maybe_append_appends_after_a_matching_prev_entry() -> None:
    """Raft Figure 2, AppendEntries receiver rules 2 and 4."""
    log = log_with(1, 2, 3)
    assert log.maybe_append(LogIndex(3), Term(3), LogIndex(3), entries(4, start=4)) == 4
    assert terms_of(log) == [1, 2, 3, 4]
    assert log.committed == 3


def test_maybe_append_rejects_a_mismatched_prev_entry() -> None:
    """Raft Figure 2, receiver rule 2: reply false if the log lacks prev_log_index/term."""
    log = log_with(1, 2, 3)
    assert log.maybe_append(LogIndex(3), Term(2), LogIndex(3), entries(3, start=4)) is None
    assert log.maybe_append(LogIndex(5), Term(3), LogIndex(3), entries(3, start=6)) is None
    assert terms_of(log) == [1, 2, 3] and log.committed == 0


def test_maybe_append_truncates_a_conflicting_suffix_only() -> None:
    """Raft Figure 2, receiver rule 3: delete an entry that conflicts, and all after it."""
    log = log_with(1, 2, 2, 2)
    assert log.maybe_append(LogIndex(1), Term(1), LogIndex(0), entries(2, 5, start=2)) == 3
    assert terms_of(log) == [1, 2, 5]


def test_maybe_append_keeps_entries_after_a_stale_duplicate_append() -> None:
    """Raft Figure 2, rule 3: entries that match are kept; an old append must not truncate."""
    log = log_with(1, 2, 3, 3)
    assert log.maybe_append(LogIndex(1), Term(1), LogIndex(0), entries(2, start=2)) == 2
    assert terms_of(log) == [1, 2, 3, 3]


def test_maybe_append_commits_no_further_than_the_new_entries() -> None:
    """Raft Figure 2, rule 5: commitIndex = min(leaderCommit, index of last new entry)."""
    log = log_with(1, 1, 1, 1)
    assert log.maybe_append(LogIndex(1), Term(1), LogIndex(4), entries(1, start=2)) == 2
    assert log.committed == 2


def test_truncating_a_committed_entry_raises() -> None:
    """Raft §5.4 (State Machine Safety): a committed entry is never replaced."""
    log = log_with(1, 1, 1, committed=2)
    with pytest.raises(InvariantViolation):
        log.maybe_append(LogIndex(1), Term(1), LogIndex(0), entries(5, start=2))
    with pytest.raises(InvariantViolation):
        log.append(entries(5, start=1))
    assert terms_of(log) == [1, 1, 1]


def test_commit_beyond_last_index_raises() -> None:
    """Raft §5.3: an entry can only be committed once it is in the log."""
    log = log_with(1, 1)
    with pytest.raises(InvariantViolation):
        log.commit_to(LogIndex(3))


def test_maybe_commit_only_commits_entries_of_the_given_term() -> None:
    """Raft §5.4.2: a leader counts replicas only for entries of its current term."""
    log = log_with(1, 1, 2)
    assert not log.maybe_commit(LogIndex(2), Term(2))
    assert log.committed == 0
    assert log.maybe_commit(LogIndex(3), Term(2))
    assert log.committed == 3


@pytest.mark.parametrize(
    ("index", "term", "expected"),
    [
        (10, 6, (10, 6)),
        (10, 5, (7, 5)),
        (10, 4, (5, 4)),
        (10, 3, (3, 1)),
        (10, 0, (0, 0)),
        (5, 6, (5, 4)),
        (12, 6, (10, 6)),
        (0, 6, (0, 0)),
    ],
)
def test_find_conflict_by_term(index: int, term: int, expected: tuple[int, int]) -> None:
    """Thesis §5.3 fast backtracking: the last index at or below ``index`` with term <= ``term``."""
    log = log_with(1, 1, 1, 4, 4, 5, 5, 6, 6, 6)
    assert log.find_conflict_by_term(LogIndex(index), Term(term)) == expected


def test_stable_to_drops_persisted_entries_from_the_unstable_suffix() -> None:
    """Raft §5.3 with thesis §10.2.1: only the host's persist moves entries out of unstable."""
    log = log_with(1, 1)
    log.append(entries(2, 2, start=3))
    assert [e.index for e in log.unstable_entries()] == [3, 4]
    log.storage.write(None, entries(2, start=3))  # type: ignore[attr-defined]
    log.stable_to(LogIndex(3), Term(2))
    assert [e.index for e in log.unstable_entries()] == [4]
    assert log.offset == 4 and log.last_index() == 4


def test_stable_to_ignores_an_ack_for_a_replaced_entry() -> None:
    """Thesis §10.2.1: a persist of an entry since overwritten must not mark the new one stable."""
    log = log_with(1, 1)
    log.append(entries(2, start=3))
    log.append(entries(3, start=3))  # replaced before the host persisted it
    log.stable_to(LogIndex(3), Term(2))
    assert [(e.index, e.term) for e in log.unstable_entries()] == [(3, 3)]
    log.stable_to(LogIndex(9), Term(3))
    assert len(log.unstable_entries()) == 1


def test_slice_respects_max_bytes_but_returns_at_least_one_entry() -> None:
    """Raft §5.3: batches are capped in bytes, yet one entry always goes out."""
    log = log_with(1, 1, 1, data=b"0123456789")  # 26 bytes each
    log.append(entries(1, 1, start=4, data=b"0123456789"))
    assert [e.index for e in log.slice(LogIndex(1), LogIndex(6))] == [1, 2, 3, 4, 5]
    assert [e.index for e in log.slice(LogIndex(1), LogIndex(6), 60)] == [1, 2]
    assert [e.index for e in log.slice(LogIndex(1), LogIndex(6), 1)] == [1]
    assert [e.index for e in log.slice(LogIndex(3), LogIndex(6), 60)] == [3, 4]
    assert [e.index for e in log.slice(LogIndex(2), LogIndex(6), 80)] == [2, 3, 4]
    assert log.slice(LogIndex(4), LogIndex(4)) == []


def test_is_up_to_date_compares_last_term_then_length() -> None:
    """Raft §5.4.1: a later last term wins; with equal last terms the longer log wins."""
    log = log_with(1, 2, 2)
    assert log.is_up_to_date(LogIndex(1), Term(3))
    assert log.is_up_to_date(LogIndex(3), Term(2))
    assert not log.is_up_to_date(LogIndex(2), Term(2))
    assert not log.is_up_to_date(LogIndex(9), Term(1))


# -- MemoryStorage --------------------------------------------------------------------------------
def test_unsynced_write_is_lost_on_crash() -> None:
    """Raft §5.2/Figure 2: only what was synced is on stable storage after a power loss."""
    disk = MemoryStorage()
    disk.write(HardState(term=Term(1), vote=NodeId(2)), entries(1))
    assert disk.last_index() == 1  # visible to reads before the crash
    after = disk.crash()
    assert after.last_index() == 0
    assert after.hard_state() == HardState()
    with pytest.raises(EntryUnavailable):
        after.term(LogIndex(1))


def test_crash_keeps_only_the_first_unsynced_writes_that_survived() -> None:
    """A power loss may keep a prefix of the unsynced writes, never a later one without it."""
    disk = MemoryStorage()
    disk.write(HardState(term=Term(1)), entries(1))
    disk.sync()
    disk.write(HardState(term=Term(2)), entries(2, start=2))
    disk.write(HardState(term=Term(3)), entries(3, start=3))
    assert disk.unsynced_write_count == 2
    one = disk.crash(survivors=1)
    assert one.last_index() == 2 and one.hard_state().term == 2
    assert not one.has_unsynced_writes
    none = disk.crash()
    assert none.last_index() == 1 and none.hard_state().term == 1
    both = disk.crash(survivors=2)
    assert both.last_index() == 3 and both.hard_state().term == 3


def test_sync_makes_writes_durable() -> None:
    """Raft Figure 2: state persisted before responding survives a crash."""
    disk = MemoryStorage()
    disk.write(HardState(term=Term(4), vote=NodeId(1)), entries(1, 4))
    disk.sync()
    assert not disk.has_unsynced_writes
    after = disk.crash()
    assert [e.term for e in after.durable_log()] == [1, 4]
    assert after.hard_state() == HardState(term=Term(4), vote=NodeId(1))


def test_overwriting_write_truncates_the_stored_suffix() -> None:
    """Raft §5.3: entries written from index i replace whatever the disk held from i on."""
    disk = MemoryStorage()
    disk.write(None, entries(1, 1, 1))
    disk.write(None, entries(2, start=2))
    disk.sync()
    assert [e.term for e in disk.crash().durable_log()] == [1, 2]


# -- RaftConfig -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "overrides",
    [
        {"node_id": NodeId(0)},
        {"voters": (NodeId(1), NodeId(1), NodeId(2))},
        {"voters": (NodeId(0), NodeId(1))},
        {"heartbeat_tick": 0},
        {"heartbeat_tick": 15, "election_tick": 15},
        {"max_inflight_messages": 0},
        {"max_message_bytes": 0},
    ],
)
def test_invalid_config_raises_config_error(overrides: dict[str, object]) -> None:
    """Raft §5.2 needs election timeouts longer than the heartbeat interval, among others."""
    fields: dict[str, object] = {"node_id": NodeId(1), "voters": V3, **overrides}
    with pytest.raises(ConfigError):
        RaftConfig(**fields)  # type: ignore[arg-type]


def test_valid_config_lists_its_peers() -> None:
    """A valid configuration is accepted; a core opened on it names every other voter as a
    peer."""
    config = RaftConfig(node_id=NodeId(2), voters=V3, election_tick=10, heartbeat_tick=1)
    core = RaftCore.open(config, MemoryStorage(), random.Random(0))
    assert core.peers == [NodeId(1), NodeId(3)]


# -- the durability rule -----------------------------------------------------------------------
def test_must_sync_holds_for_entries_a_new_term_or_a_new_vote_and_not_for_a_commit_alone() -> None:
    before = HardState(term=Term(2), vote=NodeId(1), commit=LogIndex(3))
    entry = Entry(term=Term(2), index=LogIndex(4), data=b"x")
    assert must_sync(before, None, [entry])
    assert must_sync(before, attrs.evolve(before, term=Term(3)), [])
    assert must_sync(before, attrs.evolve(before, vote=NodeId(2)), [])
    assert not must_sync(before, attrs.evolve(before, commit=LogIndex(4)), [])
    assert not must_sync(before, None, [])
