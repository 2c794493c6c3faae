"""Failed sign-ins slow the next attempts from the same source, one at a time; a success or a
quiet spell forgets them; other sources are not slowed."""

from __future__ import annotations

import asyncio

from eventlog.security.throttle import Throttle


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def throttle(time: FakeTime) -> Throttle:
    return Throttle(base=0.5, cap=4.0, forget_after=60.0, clock=time.clock, sleep=time.sleep)


def test_each_failure_doubles_the_wait_of_the_next_attempt_up_to_the_cap() -> None:
    time = FakeTime()
    gate = throttle(time)
    delays = []
    for _ in range(7):
        delays.append(gate.delay("10.0.0.1"))
        gate.failed("10.0.0.1")
    assert delays == [0.0, 0.0, 0.5, 1.0, 2.0, 4.0, 4.0]
    assert gate.delay("10.0.0.2") == 0.0
    gate.succeeded("10.0.0.1")
    assert gate.delay("10.0.0.1") == 0.0


def test_a_source_quiet_for_long_enough_is_forgotten() -> None:
    time = FakeTime()
    gate = throttle(time)
    for _ in range(4):
        gate.failed("a")
    time.now += 61
    assert gate.delay("a") == 0.0


def test_attempts_from_a_failing_source_take_turns_and_each_waits() -> None:
    time = FakeTime()
    gate = throttle(time)
    gate.failed("a")
    gate.failed("a")
    order: list[int] = []

    async def attempt(n: int) -> None:
        async with gate.turn("a"):
            order.append(n)
            gate.failed("a")

    async def main() -> None:
        await asyncio.gather(*(attempt(n) for n in range(3)))

    asyncio.run(main())
    assert order == [0, 1, 2]
    assert time.slept == [0.5, 1.0, 2.0]


def test_the_table_of_sources_is_bounded() -> None:
    gate = Throttle(max_sources=3)
    for n in range(10):
        gate.failed(f"10.0.0.{n}")
        gate.failed(f"10.0.0.{n}")
    assert gate.delay("10.0.0.0") == 0.0 and gate.delay("10.0.0.9") > 0
