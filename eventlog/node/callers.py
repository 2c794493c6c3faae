"""The callers a node owes an answer: appends queued for the next batch, batches proposed and
waiting to be applied, and reads waiting for the leader's confirmation. Every one of them is
answered exactly once: with its outcome, or with the error that ended its wait.

An append is answered by calling its ``reply``, not through a future: no future and no done
callbacks per append (a node answers tens of thousands a second). Replies are called in a turn
of the loop of their own, one turn per slice of answers, as a future's callbacks would be: never
inside the apply or the proposal that decided them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator, Sequence

import attrs

from eventlog.errors import EventLogError, Overloaded
from eventlog.raft.core import Proposal
from eventlog.raft.records import Entry
from eventlog.state.outcomes import Outcome
from eventlog.types import LogIndex, Term

__all__ = [
    "MAX_BATCH_BYTES",
    "MAX_BATCH_REQUESTS",
    "OUTCOMES_PER_SLICE",
    "Callers",
    "Queued",
    "Reply",
    "future_reply",
    "in_slices",
]

MAX_BATCH_BYTES = 1 << 20
"""Requests packed into one entry, at most, in bytes (a request over it travels alone)."""
MAX_BATCH_REQUESTS = 1024
"""Requests packed into one entry, at most, in count: what is done per entry on the loop
(answering its callers) stays a few milliseconds."""
OUTCOMES_PER_SLICE = 1024
"""Callers answered in one turn of the loop, about (entries are never split)."""

Applied = list[tuple[LogIndex, list[Outcome]]]
Reply = Callable[[Outcome | EventLogError], None]
"""Called once with an append's outcome, or the error that ended its wait."""


def in_slices(
    committed: Sequence[Entry], outcomes: Applied, per_slice: int = OUTCOMES_PER_SLICE
) -> Iterator[tuple[list[Entry], Applied]]:
    """The outcomes of applied entries, with their entries, in slices of whole entries of
    about ``per_slice`` outcomes: each is answered in a turn of the loop of its own."""
    by_index = {entry.index: entry for entry in committed}
    entries: list[Entry] = []
    chunk: Applied = []
    count = 0
    for index, applied in outcomes:
        entries.append(by_index[index])
        chunk.append((index, applied))
        count += len(applied)
        if count >= per_slice:
            yield entries, chunk
            entries, chunk, count = [], [], 0
    if chunk:
        yield entries, chunk


@attrs.frozen
class Queued:
    encoded: bytes
    events: int
    request_id: bytes
    reply: Reply
    size: int


@attrs.frozen
class _Waiting:
    """A proposed append: its id and its caller (its bytes live in the entry, not twice)."""

    request_id: bytes
    reply: Reply
    size: int


@attrs.define
class _Pending:
    term: Term
    waiting: list[_Waiting]


Answers = list[tuple[Queued | _Waiting, Outcome | EventLogError]]


def future_reply(future: asyncio.Future[Outcome]) -> Reply:
    """A reply that settles ``future`` (unless its waiter has given up on it already)."""

    def settle(answer: Outcome | EventLogError) -> None:
        if future.done():
            return
        if isinstance(answer, EventLogError):
            future.set_exception(answer)
        else:
            future.set_result(answer)

    return settle


def _reply_failed(error: Exception) -> None:
    """A reply that raised (a bug) is reported as a failed future callback would be, and the
    other callers are still answered."""
    asyncio.get_running_loop().call_exception_handler(
        {"message": "an append's reply failed", "exception": error}
    )


@attrs.define
class Callers:
    queued: list[Queued] = attrs.field(factory=list)
    pending: dict[LogIndex, _Pending] = attrs.field(factory=dict)
    """Proposed batches by the index of their entry."""
    reads: dict[bytes, asyncio.Future[LogIndex]] = attrs.field(factory=dict)
    """ReadIndex requests by their context."""
    held: int = 0
    """Appends taken and not answered yet, queued or proposed."""
    held_bytes: int = 0
    reads_begun: int = 0

    @contextlib.contextmanager
    def read(self) -> Iterator[tuple[bytes, asyncio.Future[LogIndex]]]:
        """A ReadIndex request's context, and the future its confirmation resolves, while the
        reader waits for it."""
        self.reads_begun += 1
        context = self.reads_begun.to_bytes(8, "big")
        confirmed: asyncio.Future[LogIndex] = asyncio.get_running_loop().create_future()
        self.reads[context] = confirmed
        try:
            yield context, confirmed
        finally:
            self.reads.pop(context, None)

    def admit(self, queued: Queued, max_count: int, max_bytes: int) -> None:
        """Take ``queued``; ``Overloaded`` if the node already holds as much as it may."""
        if self.held >= max_count or (self.held and self.held_bytes + queued.size > max_bytes):
            raise Overloaded(
                f"{self.held:,} appends ({self.held_bytes:,} bytes) wait for their commit here,"
                f" the most this node holds is {max_count:,} ({max_bytes:,} bytes)"
            )
        self.held += 1
        self.held_bytes += queued.size
        self.queued.append(queued)

    def _answer(self, answers: Answers) -> None:
        """Call each reply in the next turn of the loop, once, in order."""
        if answers:
            asyncio.get_running_loop().call_soon(self._reply, answers)

    def _reply(self, answers: Answers) -> None:
        for item, answer in answers:
            self.held -= 1
            self.held_bytes -= item.size
            try:
                item.reply(answer)
            except Exception as error:
                _reply_failed(error)

    def batches(self) -> Iterator[list[Queued]]:
        """Every queued request, packed into as few entries as the batch cap allows."""
        queued, self.queued = self.queued, []
        batch: list[Queued] = []
        size = 0
        for item in queued:
            if batch and (size + item.size > MAX_BATCH_BYTES or len(batch) >= MAX_BATCH_REQUESTS):
                yield batch
                batch, size = [], 0
            batch.append(item)
            size += item.size
        if batch:
            yield batch

    def propose_all(self, propose: Callable[[list[Queued]], Proposal]) -> None:
        """Propose every queued request, in as few entries as the batch cap allows; a batch
        the core refuses is answered with why."""
        for batch in self.batches():
            try:
                proposal = propose(batch)
            except EventLogError as error:
                self.fail_batch(batch, error)
                continue
            waiting = [_Waiting(item.request_id, item.reply, item.size) for item in batch]
            self.pending[proposal.last_index] = _Pending(proposal.term, waiting)

    def resolve(
        self,
        committed: Sequence[Entry],
        outcomes: Applied,
        replaced: Callable[[], EventLogError],
    ) -> None:
        """Answer the callers of committed entries; ``replaced()`` for those whose entry was
        replaced by another leader's (their request may still be in the log: they retry)."""
        by_index = dict(outcomes)
        answers: Answers = []
        for entry in committed:
            pending = self.pending.pop(entry.index, None)
            if pending is None:
                continue
            if pending.term != entry.term:
                error = replaced()
                answers.extend((item, error) for item in pending.waiting)
                continue
            results = {outcome.request_id: outcome for outcome in by_index.get(entry.index, [])}
            answers.extend((item, results[item.request_id]) for item in pending.waiting)
        self._answer(answers)

    def fail_batch(self, batch: list[Queued], error: EventLogError) -> None:
        self._answer([(item, error) for item in batch])

    def answer_read(self, context: bytes, index: LogIndex) -> None:
        future = self.reads.get(context)
        if future is not None and not future.done():
            future.set_result(index)

    def fail_all(self, error: EventLogError) -> None:
        pending, self.pending = self.pending, {}
        queued, self.queued = self.queued, []
        answers: Answers = []
        for proposed in pending.values():
            answers.extend((item, error) for item in proposed.waiting)
        answers.extend((item, error) for item in queued)
        self._answer(answers)
        self.fail_reads(error)

    def fail_reads(self, error: Exception) -> None:
        for future in self.reads.values():
            if not future.done():
                future.set_exception(error)
