"""RaftCore: the consensus state machine. Messages and ticks in, a ``Ready`` out; no I/O.

``step`` handles the term of every message once, here, then dispatches on the role through
``self._step`` (etcd's ``stepFunc``); each role transition swaps both ``_step`` and ``_tick``.
Leader-side replication lives in ``replication.py``, the candidate and follower handlers in
``roles.py``.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import attrs

from eventlog.errors import ConfigError, InvariantViolation, NotLeader, ProposalDropped
from eventlog.raft import replication, roles
from eventlog.raft.config import RaftConfig
from eventlog.raft.log import RaftLog
from eventlog.raft.membership import Change, ChangeKind, Membership, MembershipError, Memberships
from eventlog.raft.messages import (
    AppendEntries,
    AppendEntriesResponse,
    Heartbeat,
    Message,
    ReadIndexRequest,
    RequestVote,
    RequestVoteResponse,
    TransferLeadershipRequest,
)
from eventlog.raft.progress import Inflights, Progress
from eventlog.raft.quorum import VoteResult, has_quorum, vote_result
from eventlog.raft.read_only import ReadOnly, ReadState
from eventlog.raft.ready import Ready, Role, SoftState, must_sync
from eventlog.raft.records import Entry, EntryKind, HardState
from eventlog.raft.storage import LogStorage, StateStorage
from eventlog.types import NO_NODE, LogIndex, NodeId, Term

__all__ = [
    "Logger",
    "NullLogger",
    "Proposal",
    "RaftCore",
    "Storage",
]


class Logger(Protocol):
    def debug(self, event: str, **fields: Any) -> Any: ...

    def info(self, event: str, **fields: Any) -> Any: ...

    def warning(self, event: str, **fields: Any) -> Any: ...


class NullLogger:
    def debug(self, event: str, **fields: Any) -> None:
        return None

    def info(self, event: str, **fields: Any) -> None:
        return None

    def warning(self, event: str, **fields: Any) -> None:
        return None


class Storage(LogStorage, StateStorage, Protocol):
    """What the core reads at start-up and while running."""


@attrs.frozen(kw_only=True, slots=True)
class Proposal:
    """Where the leader put a batch of proposals: it is committed iff the entry at
    ``last_index`` is committed with ``term``."""

    term: Term
    first_index: LogIndex
    last_index: LogIndex


@attrs.define
class RaftCore:
    """Invariants: ``vote`` is only ever set in ``term`` and never changes within it;
    a leader never removes entries from its own log; ``log.applied <= log.committed``."""

    config: RaftConfig
    log: RaftLog
    rng: random.Random
    logger: Logger
    term: Term
    vote: NodeId
    role: Role = Role.FOLLOWER
    leader: NodeId = NO_NODE
    ticks: int = 0
    """Ticks since this core started: a logical clock that only grows."""
    election_elapsed: int = 0
    heartbeat_elapsed: int = 0
    randomized_election_timeout: int = 0
    progress: dict[NodeId, Progress] = attrs.field(factory=dict)
    votes: dict[NodeId, bool] = attrs.field(factory=dict)
    transferee: NodeId = NO_NODE
    read_only: ReadOnly = attrs.field(factory=ReadOnly)
    reads_waiting_for_commit: list[tuple[bytes, NodeId]] = attrs.field(factory=list)
    read_states: list[ReadState] = attrs.field(factory=list)
    messages: list[Message] = attrs.field(factory=list)
    messages_after_persist: list[Message] = attrs.field(factory=list)
    self_after_persist: list[Message] = attrs.field(factory=list)
    """Responses to ourselves that count only once persisted (our vote, our own append)."""
    _prev_hard_state: HardState = attrs.field(factory=HardState)
    _prev_soft_state: SoftState = SoftState(leader=NO_NODE, role=Role.FOLLOWER)
    _in_flight: deque[tuple[Ready, list[Message]]] = attrs.field(factory=deque)
    """Readys handed out and not yet advanced, oldest first, each with the responses to
    ourselves that count once it is persisted."""
    _step: Callable[[RaftCore, Message], None] = roles.step_follower
    _tick: Callable[[RaftCore], None] = roles.tick_election
    memberships: Memberships = attrs.field(default=None)
    """The configurations in this log over the one the cluster started with (``config``)."""
    _peers_of: Membership | None = None
    _peers: list[NodeId] = attrs.field(factory=list)

    @classmethod
    def open(
        cls,
        config: RaftConfig,
        storage: Storage,
        rng: random.Random,
        logger: Logger | None = None,
        applied: LogIndex = LogIndex(0),
    ) -> RaftCore:
        """Restart from what ``storage`` holds; ``applied`` is what the host already applied."""
        state = storage.hard_state()
        log = RaftLog.open(storage, state.commit, applied)
        memberships = Memberships.from_log(
            config.base_membership,
            _config_entries(storage, config.base_index, log.last_index()),
            config.base_index,
        )
        core = cls(
            config=config,
            log=log,
            rng=rng,
            logger=logger or NullLogger(),
            term=state.term,
            vote=state.vote,
            prev_hard_state=state,
            memberships=memberships,
        )
        log.on_append = core._appended
        core.become_follower(state.term, NO_NODE)
        return core

    @property
    def id(self) -> NodeId:
        return self.config.node_id

    @property
    def membership(self) -> Membership:
        """The configuration in force here: the latest in this node's log (thesis §4.1)."""
        return self.memberships.current

    @property
    def voters(self) -> frozenset[NodeId]:
        return self.memberships.current.voters

    def promotable(self) -> bool:
        """May this node campaign? A voter may; so may one whose own removal is in its log
        but not committed: until it is, the cluster may need it to lead (its log may be the
        only one up to date), and it then commits the removal and steps down."""
        if self.id in self.voters:
            return True
        memberships = self.memberships
        pending = memberships.last_change_index > self.log.committed
        return pending and self.id in memberships.previous.voters

    @property
    def peers(self) -> list[NodeId]:
        """Every other member, learners included: the leader replicates to all of them.
        Asked on every broadcast, so worked out once per configuration."""
        current = self.memberships.current
        if current is not self._peers_of:
            self._peers_of, self._peers = current, sorted(current.members - {self.id})
        return self._peers

    def propose_change(self, change: Change) -> Proposal:
        """Propose one membership change as leader; ``MembershipError`` if it cannot be
        made now (another one is uncommitted, this term has committed nothing yet, a learner
        to promote is far behind, ...). It is in force here once appended."""
        if self.role is not Role.LEADER:
            raise NotLeader(self.id, self.leader or None)
        log = self.log
        if self.memberships.last_change_index > log.committed:
            raise MembershipError("in_flight", "another membership change is not committed yet")
        if log.term(log.committed) != self.term:
            raise MembershipError(
                "not_committed_in_term", "this leader has not committed an entry of its term yet"
            )
        heard = replication.heard_recently(self)
        if change.kind is ChangeKind.PROMOTE and change.node in self.membership.learners:
            behind = log.last_index() - self.progress[change.node].match
            if change.node not in heard:
                raise MembershipError(
                    "learner_behind",
                    f"learner {change.node} has not answered the leader for an election "
                    "timeout (is it running?); it is promoted once it has caught up",
                )
            if behind > self.config.max_promote_lag:
                raise MembershipError(
                    "learner_behind",
                    f"learner {change.node} is {behind} entries behind the leader; it is "
                    f"promoted once within {self.config.max_promote_lag}",
                )
        membership = change.applied_to(self.membership)
        if change.kind is not ChangeKind.ADD_LEARNER and not has_quorum(membership.voters, heard):
            answering = sorted(set(heard) & membership.voters)
            raise MembershipError(
                "would_lose_quorum",
                f"after this change the voters would be {sorted(membership.voters)}, of whom "
                f"only {answering} answer the leader: not a majority",
            )
        if change.kind is ChangeKind.ADD_LEARNER and change.node in self.memberships.ever():
            raise MembershipError(
                "id_reused", f"node id {change.node} was a member before; a new node takes a new id"
            )
        first = LogIndex(log.last_index() + 1)
        replication.append_entries(self, [(membership.encode(), EntryKind.CONFIG)])
        self.logger.info("membership_proposed", change=change.kind.value, node=change.node)
        return Proposal(term=self.term, first_index=first, last_index=first)

    def _appended(self, entries: Sequence[Entry]) -> None:
        if self.memberships.appended(entries):
            self.reconfigured()

    def reconfigured(self) -> None:
        """A configuration entered (or left) the log: track who is in it now."""
        members = self.memberships.current.members
        last = self.log.last_index()
        for node in members - set(self.progress):
            self.progress[node] = self._new_progress(last)
        for node in set(self.progress) - members - {self.id}:
            del self.progress[node]
        self.logger.info("membership_changed", membership=str(self.membership))

    # -- inputs --------------------------------------------------------------------------------
    def tick(self) -> None:
        """Advance logical time by one tick (the host calls this every tick interval)."""
        self.ticks += 1
        self._tick(self)

    def step(self, m: Message) -> None:
        """Handle one message from a peer (or, through ``advance``, from ourselves)."""
        if m.term > self.term and not self._step_higher_term(m):
            return
        if m.term < self.term:
            roles.answer_stale(self, m)
            return
        if isinstance(m, RequestVote):
            roles.handle_vote_request(self, m)
            return
        self._step(self, m)

    def _step_higher_term(self, m: Message) -> bool:
        """Step down for a newer term, unless the message must not move our term."""
        if isinstance(m, RequestVote):
            in_lease = (
                self.config.check_quorum
                and self.leader != NO_NODE
                and self.election_elapsed < self.config.election_tick
            )
            if in_lease and not m.leadership_transfer:
                self.logger.debug("vote_ignored_in_lease", candidate=m.src, their_term=m.term)
                return False
            if m.pre_vote:
                return True  # a pre-vote never changes our term
        if isinstance(m, RequestVoteResponse) and m.pre_vote and m.granted:
            return True  # granted pre-votes carry the term we would campaign in
        leader = m.src if isinstance(m, AppendEntries | Heartbeat) else NO_NODE
        self.become_follower(m.term, leader)
        return True

    def propose(self, *data: bytes) -> Proposal:
        """Append ``data`` (one entry each) to the leader's log; raise ``NotLeader`` elsewhere."""
        if self.role is not Role.LEADER:
            raise NotLeader(self.id, self.leader or None)
        if self.transferee != NO_NODE:
            raise ProposalDropped(f"leadership transfer to {self.transferee} in progress")
        first = LogIndex(self.log.last_index() + 1)
        replication.append_entries(self, [(payload, EntryKind.NORMAL) for payload in data])
        return Proposal(term=self.term, first_index=first, last_index=self.log.last_index())

    def peer_gone(self, node: NodeId) -> None:
        """The host's connection to ``node`` was closed by the far end (``roles.leader_gone``)."""
        roles.leader_gone(self, node)

    def read_index(self, context: bytes) -> None:
        """Ask for a linearizable read; a ``ReadState`` with ``context`` comes in a later Ready."""
        if self.role is Role.LEADER:
            replication.handle_read_index(self, context, self.id)
        elif self.leader != NO_NODE:
            self.send(
                ReadIndexRequest(src=self.id, dst=self.leader, term=self.term, context=context)
            )
        else:
            raise NotLeader(self.id, None)

    def transfer_leadership(self, target: NodeId) -> None:
        """Hand leadership to ``target`` once its log is up to date (thesis §3.10)."""
        if target not in self.voters:
            raise ConfigError(f"cannot transfer leadership to {target}: not a voter")
        if self.role is Role.LEADER:
            replication.start_transfer(self, target)
        elif self.leader != NO_NODE:
            self.send(
                TransferLeadershipRequest(
                    src=self.id, dst=self.leader, term=self.term, target=target
                )
            )
        else:
            raise NotLeader(self.id, None)

    def campaign(self) -> None:
        """Start an election now, as if the election timeout had passed."""
        roles.hup(self, transfer=False)

    # -- outputs -------------------------------------------------------------------------------
    def send(self, m: Message) -> None:
        if isinstance(m, AppendEntriesResponse | RequestVoteResponse) and not (
            isinstance(m, RequestVoteResponse) and m.pre_vote
        ):
            target = self.self_after_persist if m.dst == self.id else self.messages_after_persist
            target.append(m)
        else:
            self.messages.append(m)

    def soft_state(self) -> SoftState:
        return SoftState(leader=self.leader, role=self.role)

    def hard_state(self) -> HardState:
        return HardState(term=self.term, vote=self.vote, commit=self.log.committed)

    def has_ready(self) -> bool:
        """Is there work the host has not been handed? Earlier Readys may still be in hand."""
        return bool(
            self.soft_state() != self._prev_soft_state
            or self.hard_state() != self._prev_hard_state
            or self.log.has_unhanded()
            or self.messages
            or self.messages_after_persist
            or self.self_after_persist
            or self.read_states
            or self.log.committed > self.log.applying
        )

    @property
    def readys_in_flight(self) -> int:
        """Readys handed out and not yet advanced."""
        return len(self._in_flight)

    def ready(self) -> Ready:
        """Hand the host its next batch of work; see ``Ready`` for what it must do. It holds
        only what earlier Readys, advanced or not, did not: the host may take the next one
        while it still writes the last (thesis §10.2.1, etcd's asynchronous storage writes)."""
        entries = self.log.unstable_entries()
        if self.role is Role.LEADER and entries:
            self._acknowledge_own(entries[-1].index)
        hard_state = self.hard_state()
        changed = hard_state if hard_state != self._prev_hard_state else None
        rd = Ready(
            soft_state=self.soft_state(),
            hard_state=changed,
            entries=entries,
            committed=tuple(self.log.committed_to_apply(self.config.max_apply_bytes)),
            messages=tuple(self.messages),
            messages_after_persist=tuple(self.messages_after_persist),
            read_states=tuple(self.read_states),
            must_sync=must_sync(self._prev_hard_state, changed, entries),
        )
        if entries:
            self.log.persisting_to(entries[-1].index)
        if rd.committed:
            self.log.applying_to(rd.committed[-1].index)
        if changed is not None:
            self._prev_hard_state = changed
        self._prev_soft_state = rd.soft_state
        self._in_flight.append((rd, self.self_after_persist))
        self.messages, self.messages_after_persist, self.self_after_persist = [], [], []
        self.read_states = []
        return rd

    def _acknowledge_own(self, index: LogIndex) -> None:
        """The leader's own write counts toward the commit once it is persisted, like any
        follower's: its answer to itself is held until ``advance``. A leader with no other
        member is the exception: its write alone is the quorum, and no one can hear of the
        commit before the host has persisted this Ready (there is no one to tell, and the
        host persists before it applies), so it commits now, and the host persists and
        applies these entries in one write (one fsync, not two)."""
        own = AppendEntriesResponse(src=self.id, dst=self.id, term=self.term, index=index)
        if self.peers or self.id not in self.voters:
            self.send(own)
        else:
            self.step(own)

    def advance(self, rd: Ready) -> None:
        """The host did everything ``rd`` asked; our self-addressed responses now count.
        Readys are advanced in the order they were handed out."""
        if not self._in_flight or self._in_flight[0][0] is not rd:
            raise InvariantViolation("advance() with a Ready that is not the oldest in hand")
        _, handed = self._in_flight.popleft()
        if rd.entries:
            self.log.stable_to(rd.entries[-1].index, rd.entries[-1].term)
        if rd.committed:
            self.log.applied_to(rd.committed[-1].index)
        for m in handed:
            self.step(m)

    # -- role transitions ----------------------------------------------------------------------
    def _reset(self, term: Term) -> None:
        if term != self.term:
            self.term, self.vote = term, NO_NODE
        self.leader = NO_NODE
        self.election_elapsed = self.heartbeat_elapsed = 0
        timeout = self.config.election_tick
        self.randomized_election_timeout = timeout + self.rng.randrange(timeout)
        self.transferee = NO_NODE
        self.votes = {}
        self.read_only.clear()
        self.reads_waiting_for_commit = []
        last = self.log.last_index()
        self.progress = {
            node: self._new_progress(last) for node in self.membership.members | {self.id}
        }

    def _new_progress(self, last: LogIndex) -> Progress:
        return Progress(
            match=LogIndex(0),
            next=LogIndex(last + 1),
            inflights=Inflights(self.config.max_inflight_messages, self.config.max_inflight_bytes),
            last_heard_tick=self.ticks,  # a new leader gives everyone a full timeout
        )

    def become_follower(self, term: Term, leader: NodeId) -> None:
        self._reset(term)
        self.role, self.leader = Role.FOLLOWER, leader
        self._step, self._tick = roles.step_follower, roles.tick_election
        self.logger.debug("became_follower", term=term, leader=leader)

    def become_pre_candidate(self) -> None:
        if self.role is Role.LEADER:
            raise InvariantViolation("a leader cannot become a pre-candidate")
        # Term and vote stay as they are: a pre-vote changes nothing durable.
        self.votes = {}
        self.leader = NO_NODE
        self.role = Role.PRE_CANDIDATE
        self._step, self._tick = roles.step_candidate, roles.tick_election
        self.logger.debug("became_pre_candidate", term=self.term)

    def become_candidate(self) -> None:
        if self.role is Role.LEADER:
            raise InvariantViolation("a leader cannot become a candidate")
        self._reset(Term(self.term + 1))
        self.vote = self.id
        self.role = Role.CANDIDATE
        self._step, self._tick = roles.step_candidate, roles.tick_election
        self.logger.debug("became_candidate", term=self.term)

    def become_leader(self) -> None:
        if self.role is Role.FOLLOWER:
            raise InvariantViolation("a follower cannot become leader without an election")
        self._reset(self.term)
        self.role, self.leader = Role.LEADER, self.id
        self._step, self._tick = replication.step_leader, replication.tick_heartbeat
        own = self.progress[self.id]
        own.match = LogIndex(self.log.offset - 1)  # what the host has persisted
        own.become_replicate()
        # A no-op of our own term lets us commit the entries of earlier terms (Raft §5.4.2).
        replication.append_entries(self, [(b"", EntryKind.NOOP)])
        self.logger.info("became_leader", term=self.term, last_index=self.log.last_index())

    def record_vote(self, voter: NodeId, granted: bool) -> VoteResult:
        self.votes.setdefault(voter, granted)
        return vote_result(self.voters, self.votes)


def _config_entries(storage: Storage, after: LogIndex, last: LogIndex) -> list[Entry]:
    """The configuration entries ``storage`` holds: its own index of them if it keeps one,
    else found by reading the log through."""
    find = getattr(storage, "config_entries", None)
    if find is not None:
        return list(find())
    entries: list[Entry] = []
    index = LogIndex(after + 1)
    while index <= last:
        chunk = storage.entries(index, LogIndex(last + 1), 1 << 20)
        entries.extend(entry for entry in chunk if entry.kind is EntryKind.CONFIG)
        index = LogIndex(chunk[-1].index + 1)
    return entries
