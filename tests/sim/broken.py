"""Deliberately broken variants of the core and of the state machine. They live here, in test
code, and nowhere else."""

from __future__ import annotations

import random

import attrs

from eventlog.errors import NotLeader
from eventlog.raft import replication
from eventlog.raft.config import RaftConfig
from eventlog.raft.core import Logger, Proposal, RaftCore
from eventlog.raft.log import RaftLog
from eventlog.raft.membership import Change
from eventlog.raft.read_only import ReadState
from eventlog.raft.ready import Role
from eventlog.raft.records import EntryKind, HardState
from eventlog.raft.storage import MemoryStorage
from eventlog.state.clock import LeaderClock
from eventlog.state.memory import MemoryState
from eventlog.state.outcomes import Outcome
from eventlog.types import NO_NODE, LogIndex, Term


class CommitsOldTermsLog(RaftLog):
    """Commits any index a majority holds, whatever its term (the trap of Raft's Figure 8)."""

    def maybe_commit(self, index: LogIndex, term: Term) -> bool:
        return index > self.committed and self.commit_to(index)


class VotesBlindlyLog(RaftLog):
    """Grants votes without the election restriction (Raft §5.4.1)."""

    def is_up_to_date(self, last_index: LogIndex, last_term: Term) -> bool:
        return True


class ForgetsVoteCore(RaftCore):
    """Never writes its vote to disk, so a restart in the same term may vote twice."""

    def hard_state(self) -> HardState:
        return HardState(term=self.term, vote=NO_NODE, commit=self.log.committed)


def _with_log(log_class: type[RaftLog]):  # type: ignore[no-untyped-def]
    def factory(
        config: RaftConfig, storage: MemoryStorage, rng: random.Random, logger: Logger
    ) -> RaftCore:
        core = RaftCore.open(config, storage, rng, logger)
        core.log = log_class(**{f.name: getattr(core.log, f.name) for f in attrs.fields(RaftLog)})
        return core

    return factory


def forgets_vote(
    config: RaftConfig, storage: MemoryStorage, rng: random.Random, logger: Logger
) -> RaftCore:
    return ForgetsVoteCore.open(config, storage, rng, logger)


commits_old_terms = _with_log(CommitsOldTermsLog)
votes_blindly = _with_log(VotesBlindlyLog)


class ReadsStaleCommitCore(RaftCore):
    """Serves a leader's read at its commit index at once, without waiting for an entry of its
    own term to commit (thesis §6.4 step 1); after a restart that index may be stale."""

    def read_index(self, context: bytes) -> None:
        if self.role is Role.LEADER:
            self.read_states.append(ReadState(index=self.log.committed, context=context))
        else:
            super().read_index(context)


def reads_stale_commit(
    config: RaftConfig, storage: MemoryStorage, rng: random.Random, logger: Logger
) -> RaftCore:
    return ReadsStaleCommitCore.open(config, storage, rng, logger)


class ForgetfulState(MemoryState):
    """A state machine that forgets every request id: a retried append is appended again."""

    def request_outcome(self, request_id: bytes) -> Outcome | None:
        return None


class SkewedClockState(MemoryState):
    """A state machine that reads its node's own clock, two hours ahead: request ids and
    leases expire on that node only."""

    def clock_ms(self) -> int:
        return self.clock + 7_200_000


class OwnWallClock(LeaderClock):
    """A leader that stamps its own clock, two hours ahead, as the cluster's: the clock jumps
    when it takes over, and every lease and request id expires at once."""

    def stamp(self, term: int, applied_clock_ms: int, elapsed_ms: int) -> int:
        return elapsed_ms + 7_200_000


class ChangesAtOnceCore(RaftCore):
    """Proposes a membership change while another is uncommitted, and before its term has
    committed anything (the two rules of single-server changes, thesis §4.1 and its fix):
    two voters added or removed at once give two majorities that need not overlap."""

    def propose_change(self, change: Change) -> Proposal:
        if self.role is not Role.LEADER:
            raise NotLeader(self.id, self.leader or None)
        membership = change.applied_to(self.membership)
        first = LogIndex(self.log.last_index() + 1)
        replication.append_entries(self, [(membership.encode(), EntryKind.CONFIG)])
        return Proposal(term=self.term, first_index=first, last_index=first)


def changes_at_once(
    config: RaftConfig, storage: MemoryStorage, rng: random.Random, logger: Logger
) -> RaftCore:
    return ChangesAtOnceCore.open(config, storage, rng, logger)
