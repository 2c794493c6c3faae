"""Follower and (pre-)candidate behaviour, and the rules every role shares for votes and terms."""

from __future__ import annotations

from typing import TYPE_CHECKING

from eventlog.raft.messages import (
    AppendEntries,
    AppendEntriesResponse,
    Heartbeat,
    HeartbeatResponse,
    Message,
    ReadIndexResponse,
    RequestVote,
    RequestVoteResponse,
    TimeoutNow,
    TransferLeadershipRequest,
)
from eventlog.raft.quorum import VoteResult
from eventlog.raft.read_only import ReadState
from eventlog.raft.ready import Role
from eventlog.types import NO_NODE, LogIndex, NodeId, Term

if TYPE_CHECKING:
    from eventlog.raft.core import RaftCore

__all__ = [
    "answer_stale",
    "campaign",
    "handle_append",
    "handle_heartbeat",
    "handle_vote_request",
    "hup",
    "leader_gone",
    "start_election",
    "step_candidate",
    "step_follower",
    "tick_election",
]


# -- time ----------------------------------------------------------------------------------------
def tick_election(core: RaftCore) -> None:
    core.election_elapsed += 1
    if core.election_elapsed >= core.randomized_election_timeout and core.promotable():
        core.election_elapsed = 0
        hup(core, transfer=False)
    # A node that may not campaign lets its time without a leader grow: its leader lease
    # runs out, and it weighs the votes others ask of it.


def leader_gone(core: RaftCore, node: NodeId) -> None:
    """The host saw ``node`` close its connection (its process died, or stopped). If it is
    our leader, it is no longer in lease for us, and we campaign at a random tick of the
    next two heartbeats' rather than after a whole election timeout (two followers who saw
    it at once seldom draw the same tick, and split the vote). Only timing changes, which
    Raft's safety never rests on; a leader still alive keeps the followers that still hear
    it, who refuse the pre-vote while it is in lease (``RaftCore._step_higher_term``)."""
    if core.role is not Role.FOLLOWER or core.leader != node or not core.promotable():
        return
    core.leader = NO_NODE
    soon = core.randomized_election_timeout - 1 - core.rng.randrange(2 * core.config.heartbeat_tick)
    core.election_elapsed = max(core.election_elapsed, soon, core.config.election_tick)
    core.logger.info("leader_gone", leader=node, term=core.term)


def hup(core: RaftCore, *, transfer: bool) -> None:
    """Start an election: a pre-vote first, unless asked to by the leader (TimeoutNow).
    Only a voter campaigns (``RaftCore.promotable``): a learner, or a removed node, never."""
    if core.role is Role.LEADER or not core.promotable():
        return
    if core.config.pre_vote and not transfer:
        core.become_pre_candidate()
        campaign(core, pre_vote=True, transfer=False)
    else:
        start_election(core, transfer=transfer)


def start_election(core: RaftCore, *, transfer: bool) -> None:
    core.become_candidate()
    campaign(core, pre_vote=False, transfer=transfer)


def campaign(core: RaftCore, *, pre_vote: bool, transfer: bool) -> None:
    term = Term(core.term + 1) if pre_vote else core.term
    if pre_vote:
        # Our own pre-vote needs nothing durable: count it now.
        if core.record_vote(core.id, True) is VoteResult.WON:
            start_election(core, transfer=False)
            return
    else:
        # Our own vote counts only once term and vote are on disk (it comes back in advance()).
        core.send(
            RequestVoteResponse(src=core.id, dst=core.id, term=term, granted=True, pre_vote=False)
        )
    for peer in core.peers:
        core.send(
            RequestVote(
                src=core.id,
                dst=peer,
                term=term,
                last_log_index=core.log.last_index(),
                last_log_term=core.log.last_term(),
                pre_vote=pre_vote,
                leadership_transfer=transfer,
            )
        )
    core.logger.debug("campaign_started", term=term, pre_vote=pre_vote)


# -- rules shared by every role ------------------------------------------------------------------
def handle_vote_request(core: RaftCore, m: RequestVote) -> None:
    can_vote = (
        core.vote == m.src
        or (core.vote == NO_NODE and core.leader == NO_NODE)
        or (m.pre_vote and m.term > core.term)
    )
    if can_vote and core.log.is_up_to_date(m.last_log_index, m.last_log_term):
        # A granted pre-vote answers in the term asked about, or the pre-candidate would drop it.
        core.send(
            RequestVoteResponse(
                src=core.id, dst=m.src, term=m.term, granted=True, pre_vote=m.pre_vote
            )
        )
        if not m.pre_vote:
            core.election_elapsed = 0
            core.vote = m.src
        core.logger.debug("vote_granted", candidate=m.src, term=m.term, pre_vote=m.pre_vote)
        return
    core.send(
        RequestVoteResponse(
            src=core.id, dst=m.src, term=core.term, granted=False, pre_vote=m.pre_vote
        )
    )
    core.logger.debug("vote_rejected", candidate=m.src, term=m.term, pre_vote=m.pre_vote)


def answer_stale(core: RaftCore, m: Message) -> None:
    """A message from an older term. Tell a deposed leader or a stale pre-candidate our term.

    With check-quorum or pre-vote a node may never raise its term on its own, so a leader cut
    off by a partition would otherwise never learn that it was replaced.
    """
    config = core.config
    if isinstance(m, AppendEntries | Heartbeat) and (config.check_quorum or config.pre_vote):
        core.send(AppendEntriesResponse(src=core.id, dst=m.src, term=core.term, index=LogIndex(0)))
    elif isinstance(m, RequestVote) and m.pre_vote:
        core.send(
            RequestVoteResponse(
                src=core.id, dst=m.src, term=core.term, granted=False, pre_vote=True
            )
        )


# -- follower and candidate ------------------------------------------------------------------------
def step_follower(core: RaftCore, m: Message) -> None:
    match m:
        case AppendEntries():
            core.election_elapsed, core.leader = 0, m.src
            handle_append(core, m)
        case Heartbeat():
            core.election_elapsed, core.leader = 0, m.src
            handle_heartbeat(core, m)
        case TimeoutNow():
            core.logger.info("leadership_transfer_received", leader=m.src, term=core.term)
            hup(core, transfer=True)
        case ReadIndexResponse():
            core.read_states.append(ReadState(index=m.index, context=m.context))
        case TransferLeadershipRequest() if core.leader != NO_NODE:
            core.send(
                TransferLeadershipRequest(
                    src=core.id, dst=core.leader, term=core.term, target=m.target
                )
            )
        case _:
            core.logger.debug("message_ignored", kind=m.TAG, src=m.src, role=core.role.value)


def step_candidate(core: RaftCore, m: Message) -> None:
    match m:
        case AppendEntries():
            core.become_follower(m.term, m.src)
            handle_append(core, m)
        case Heartbeat():
            core.become_follower(m.term, m.src)
            handle_heartbeat(core, m)
        case RequestVoteResponse() if m.pre_vote == (core.role is Role.PRE_CANDIDATE):
            result = core.record_vote(m.src, m.granted)
            if result is VoteResult.WON:
                if core.role is Role.PRE_CANDIDATE:
                    start_election(core, transfer=False)
                else:
                    core.become_leader()
            elif result is VoteResult.LOST:
                core.become_follower(core.term, NO_NODE)
        case _:
            core.logger.debug("message_ignored", kind=m.TAG, src=m.src, role=core.role.value)


def handle_append(core: RaftCore, m: AppendEntries) -> None:
    log = core.log
    if m.prev_log_index < log.committed:
        core.send(
            AppendEntriesResponse(src=core.id, dst=m.src, term=core.term, index=log.committed)
        )
        return
    last = log.maybe_append(m.prev_log_index, m.prev_log_term, m.leader_commit, m.entries)
    if last is not None:
        core.send(AppendEntriesResponse(src=core.id, dst=m.src, term=core.term, index=last))
        return
    hint_index, hint_term = log.find_conflict_by_term(
        LogIndex(min(m.prev_log_index, log.last_index())), m.prev_log_term
    )
    core.logger.debug("append_rejected", leader=m.src, prev_index=m.prev_log_index, hint=hint_index)
    core.send(
        AppendEntriesResponse(
            src=core.id,
            dst=m.src,
            term=core.term,
            index=m.prev_log_index,
            reject=True,
            hint_index=hint_index,
            hint_term=hint_term,
        )
    )


def handle_heartbeat(core: RaftCore, m: Heartbeat) -> None:
    core.log.commit_to(LogIndex(min(m.commit, core.log.last_index())))
    core.send(HeartbeatResponse(src=core.id, dst=m.src, term=core.term, context=m.context))
