"""Group commit in the embedded store: appends from many threads at once share one batch,
one write transaction and one fsync, and each caller still gets its own answer: its own
expected version checked, its own positions, its own refusal."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from eventlog import NO_STREAM, NewEvent, WrongExpectedVersion, open_embedded
from eventlog.embedded import EmbeddedStore
from eventraft.localcluster import wait_for

E = [NewEvent("E", b"x")]


def held_then_released(store: EmbeddedStore, calls: list[Any]) -> list[Any]:
    """Run each call in a thread of its own while a write is in progress (the store's lock
    held), wait until all are queued, then let the write end; what each call came to."""
    answers: list[Any] = [None] * len(calls)

    def run(slot: int) -> None:
        try:
            answers[slot] = calls[slot]()
        except Exception as error:
            answers[slot] = error

    threads = [threading.Thread(target=run, args=(slot,)) for slot in range(len(calls))]
    with store._lock:
        for thread in threads:
            thread.start()
        wait_for(lambda: len(store._queue) == len(calls), 10, "every call queued")
    for thread in threads:
        thread.join(10)
    return answers


def test_appends_queued_during_a_write_are_committed_as_one_entry(tmp_path: Path) -> None:
    with open_embedded(tmp_path / "store") as store:
        store.append("warm-up", E)
        entries_before = store.storage.last_index()
        calls = [lambda n=n: store.append(f"s-{n}", E, NO_STREAM) for n in range(20)]
        results = held_then_released(store, calls)
        assert store.storage.last_index() == entries_before + 1, "one entry, one fsync"
        assert sorted(r.first_position for r in results) == list(range(2, 22))
        for n, result in enumerate(results):
            [event] = store.read_stream(f"s-{n}")
            assert event.position == result.first_position and result.stream_version == 1


def test_each_request_of_a_group_keeps_its_own_expected_version(tmp_path: Path) -> None:
    with open_embedded(tmp_path / "store") as store:
        calls = [lambda: store.append("contended", E, NO_STREAM) for _ in range(5)]
        calls.append(lambda: store.append("other", E, NO_STREAM))
        results = held_then_released(store, calls)
        won = [r for r in results[:5] if not isinstance(r, Exception)]
        lost = [r for r in results[:5] if isinstance(r, WrongExpectedVersion)]
        assert len(won) == 1 and len(lost) == 4
        assert all((r.expected, r.actual) == (0, 1) for r in lost)
        assert not isinstance(results[5], Exception)
        assert [e.version for e in store.read_stream("contended")] == [1]
        assert store.status().last_position == 2


def test_a_store_closed_while_appends_are_queued_fails_each_of_them(tmp_path: Path) -> None:
    store = open_embedded(tmp_path / "store")
    store.append("s", E)
    answers: list[Any] = []
    thread = threading.Thread(target=lambda: answers.append(_try(lambda: store.append("s", E))))
    with store._lock:
        thread.start()
        wait_for(lambda: len(store._queue) == 1, 10, "the append queued")
        store._closed = True  # as close() does, under the lock
    thread.join(10)
    store._closed = False
    store.close()
    [failure] = answers
    assert "closed" in str(failure)
    with open_embedded(tmp_path / "store") as again:
        assert again.status().last_position == 1


def _try(call: Any) -> Any:
    try:
        return call()
    except Exception as error:
        return error


def test_many_threads_appending_with_expected_versions_lose_nothing(tmp_path: Path) -> None:
    threads = 16
    with open_embedded(tmp_path / "store") as store:

        def writer(n: int) -> None:
            for version in range(25):
                store.append(f"w-{n}", E, version)

        workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        assert store.status().last_position == threads * 25
        for n in range(threads):
            assert [e.version for e in store.read_stream(f"w-{n}")] == list(range(1, 26))
        positions = [e.position for e in store.read_all()]
        assert positions == list(range(1, threads * 25 + 1))
