"""The callers a node owes an answer are each answered exactly once, in a turn of the loop of
their own (never inside the apply that decided them), and their share of the held bound is
released as they are answered."""

from __future__ import annotations

import asyncio

import pytest

from eventlog.errors import EventLogError, NotLeader, Overloaded, Unavailable
from eventlog.node.callers import Callers, Queued
from eventlog.raft.core import Proposal
from eventlog.raft.records import Entry
from eventlog.records import AppendResult
from eventlog.state.outcomes import Outcome
from eventlog.types import LogIndex, NodeId, Position, Term

Answer = Outcome | EventLogError


def queued(name: str, answers: list[tuple[str, Answer]]) -> Queued:
    def reply(answer: Answer) -> None:
        answers.append((name, answer))

    return Queued(name.encode(), 1, name.encode(), reply, 100)


def outcome(name: str, position: int) -> Outcome:
    result = AppendResult(
        first_position=Position(position), last_position=Position(position), stream_version=1
    )
    return Outcome(request_id=name.encode(), result=result)


def new_answers() -> list[tuple[str, Answer]]:
    return []


def replaced() -> NotLeader:
    return NotLeader(NodeId(1), None)


def proposing(term: int, index: int) -> Proposal:
    return Proposal(term=Term(term), first_index=LogIndex(index), last_index=LogIndex(index))


def test_an_applied_batch_is_answered_in_the_next_turn_with_each_callers_own_outcome() -> None:
    async def main() -> None:
        callers, answers = Callers(), new_answers()
        for name in ("a", "b"):
            callers.admit(queued(name, answers), 10, 10_000)
        callers.propose_all(lambda batch: proposing(1, 5))
        assert callers.held == 2 and callers.pending
        entry = Entry(term=Term(1), index=LogIndex(5), data=b"")
        callers.resolve([entry], [(LogIndex(5), [outcome("b", 2), outcome("a", 1)])], replaced)
        assert answers == [], "not inside the apply that decided them"
        assert callers.held == 2
        await asyncio.sleep(0)
        assert answers == [("a", outcome("a", 1)), ("b", outcome("b", 2))]
        assert (callers.held, callers.held_bytes, callers.pending) == (0, 0, {})

    asyncio.run(main())


def test_an_entry_replaced_by_another_leaders_fails_its_callers_with_where_to_go() -> None:
    async def main() -> None:
        callers, answers = Callers(), new_answers()
        callers.admit(queued("a", answers), 10, 10_000)
        callers.propose_all(lambda batch: proposing(1, 5))
        other = Entry(term=Term(2), index=LogIndex(5), data=b"")
        callers.resolve([other], [(LogIndex(5), [])], lambda: NotLeader(NodeId(1), NodeId(2)))
        await asyncio.sleep(0)
        [(name, answer)] = answers
        assert name == "a" and isinstance(answer, NotLeader) and answer.leader_hint == 2

    asyncio.run(main())


def test_a_full_node_refuses_at_once_and_takes_again_once_it_has_answered() -> None:
    async def main() -> None:
        callers, answers = Callers(), new_answers()
        callers.admit(queued("a", answers), 1, 10_000)
        with pytest.raises(Overloaded, match="1 appends"):
            callers.admit(queued("b", answers), 1, 10_000)
        callers.fail_all(Unavailable("node stopped"))
        await asyncio.sleep(0)
        assert [name for name, _ in answers] == ["a"]
        callers.admit(queued("c", answers), 1, 10_000)
        assert callers.held == 1

    asyncio.run(main())


def test_a_reply_that_raises_is_reported_and_the_other_callers_are_still_answered() -> None:
    async def main() -> None:
        callers, answers = Callers(), new_answers()
        reported: list[object] = []
        asyncio.get_running_loop().set_exception_handler(
            lambda loop, context: reported.append(context["exception"])
        )

        def broken(answer: Answer) -> None:
            raise RuntimeError("a broken reply")

        callers.admit(Queued(b"x", 1, b"x", broken, 100), 10, 10_000)
        callers.admit(queued("b", answers), 10, 10_000)
        callers.propose_all(lambda batch: proposing(1, 7))
        entry = Entry(term=Term(1), index=LogIndex(7), data=b"")
        results = [outcome("x", 1), outcome("b", 2)]
        callers.resolve([entry], [(LogIndex(7), results)], replaced)
        await asyncio.sleep(0)
        assert answers == [("b", outcome("b", 2))]
        assert [str(error) for error in reported] == ["a broken reply"]
        assert callers.held == 0

    asyncio.run(main())


def test_a_batch_the_core_refuses_is_answered_with_why() -> None:
    async def main() -> None:
        callers, answers = Callers(), new_answers()
        callers.admit(queued("a", answers), 10, 10_000)

        def refuse(batch: list[Queued]) -> Proposal:
            raise NotLeader(NodeId(1), None)

        callers.propose_all(refuse)
        await asyncio.sleep(0)
        [(name, answer)] = answers
        assert name == "a" and isinstance(answer, NotLeader)
        assert (callers.held, callers.pending) == (0, {})

    asyncio.run(main())
