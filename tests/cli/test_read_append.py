"""``read`` and ``append`` for people, against real node processes: JSON shown as JSON, ISO
timestamps, msgpack decoded, a followed stream not reread from position 1, checked input, the
system's streams refused, and Ctrl-C that ends any long command quietly."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import msgpack
import pytest

from aggregates import Format, Repository
from eventlog import EventFilter, NewEvent, RecordedEvent
from eventlog.types import Position
from eventraft.cli.log import follow_stream
from eventraft.eventjson import event_line, iso_timestamp
from eventraft.localcluster import LocalCluster, local_cluster
from examples.bank import Account
from tests.cli.commandline import DEADLINE, eventraft, one_line_error, silent_server

ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    with local_cluster(tmp_path_factory.mktemp("cli-cluster")) as running:
        running.leader(timeout=20)
        yield running


def read_lines(cluster: LocalCluster, *args: str) -> list[dict[str, Any]]:
    result = eventraft("read", "--cluster", cluster.addresses, *args)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_json_data_reads_as_json_and_timestamps_as_iso_8601_utc(cluster: LocalCluster) -> None:
    placed = eventraft(
        "append", "--cluster", cluster.addresses, "json-1", "--type", "Placed",
        "--data", '{"sku": "A", "n": 2}', "--data", "[1, 2]", "--metadata", '{"by": "ann"}',
    )  # fmt: skip
    assert placed.returncode == 0, placed.stderr
    with cluster.client() as client:
        client.append("json-1", [NewEvent("Noted", b"plain words"), NewEvent("Blob", b"\xff\x00")])
        stored = client.read_stream("json-1")
    events = read_lines(cluster, "--stream", "json-1")
    assert [(e["data"], e["metadata"]) for e in events] == [
        ({"sku": "A", "n": 2}, {"by": "ann"}),
        ([1, 2], {"by": "ann"}),
        ("plain words", ""),
        ("base64:/wA=", ""),
    ]
    for event, recorded in zip(events, stored, strict=True):
        assert ISO_UTC.fullmatch(event["timestamp"]), event
        moment = datetime.fromisoformat(event["timestamp"])
        assert moment.tzinfo is not None and moment.utcoffset() == UTC.utcoffset(None)
        assert int(moment.timestamp() * 1000) == recorded.timestamp


def test_read_filters_the_log_by_category_and_type(cluster: LocalCluster) -> None:
    with cluster.client() as client:
        first = client.append("cat-a-1", [NewEvent("Placed", b"1"), NewEvent("Paid", b"2")])
        client.append("dog-1", [NewEvent("Placed", b"3")])
        client.append("cat-b-1", [NewEvent("Placed", b"4")])
    start = str(first.first_position)
    placed = read_lines(cluster, "--from", start, "--category", "cat-", "--type", "Placed")
    assert [e["data"] for e in placed] == [1, 4]
    either = read_lines(cluster, "--from", start, "--category", "cat-a", "--category", "dog")
    assert [e["data"] for e in either] == [1, 2, 3]
    refused = eventraft("read", "--cluster", cluster.addresses, "--stream", "x", "--type", "T")
    assert refused.returncode == 2 and "--stream reads one stream" in refused.stderr
    empty = eventraft("read", "--cluster", cluster.addresses, "--type", "")
    assert empty.returncode == 2 and "event type must be 1..256 bytes" in empty.stderr


def test_iso_timestamps_keep_milliseconds() -> None:
    assert iso_timestamp(0) == "1970-01-01T00:00:00.000Z"
    assert iso_timestamp(1_714_555_800_250) == "2024-05-01T09:30:00.250Z"


def test_decode_shows_records_of_the_aggregates_layer_as_json(cluster: LocalCluster) -> None:
    with cluster.client() as client:
        packed = Repository(client).save(Account.open("ann", id="cli-packed"))
        plain = Repository(client, format=Format.JSON).save(Account.open("bob", id="cli-plain"))
    for saved, owner in ((packed, "ann"), (plain, "bob")):
        start = str(saved.last_position)
        [raw] = read_lines(cluster, "--from", start, "--limit", "1")
        [decoded] = read_lines(cluster, "--from", start, "--limit", "1", "--decode")
        assert decoded["type"] == "AccountOpened"
        assert decoded["data"] == {"owner": owner, "currency": "EUR"}
        assert decoded["metadata"]["schema"] == 2
        assert decoded["metadata"]["event_id"]
        if owner == "ann":  # msgpack: bytes to the eye, unless decoded
            assert isinstance(raw["data"], str) and raw["data"].startswith("base64:")
        else:  # JSON reads as JSON either way
            assert raw == decoded


def test_decode_reads_msgpack_generically() -> None:
    metadata = msgpack.packb({"schema": 1, "at": msgpack.Timestamp(0)}, datetime=False)
    data = msgpack.packb({"blob": b"\x01", 7: [1.5, None], "ok": True})
    line = json.loads(event_line(recorded(data, metadata), decode=True))
    assert line["data"] == {"blob": "base64:AQ==", "7": [1.5, None], "ok": True}
    assert line["metadata"] == {"schema": 1, "at": "1970-01-01T00:00:00Z"}
    without = json.loads(event_line(recorded(msgpack.packb([1, 2]), b"")))
    assert without["data"].startswith("base64:")
    assert json.loads(event_line(recorded(msgpack.packb([1, 2]), b""), decode=True))["data"] == [
        1,
        2,
    ]
    # A record whose metadata is msgpack has msgpack data (b"a" is the integer 97 there);
    # without that sign, bytes that are text stay text.
    assert json.loads(event_line(recorded(b"a", metadata), decode=True))["data"] == 97
    assert json.loads(event_line(recorded(b"a", b""), decode=True))["data"] == "a"


def recorded(data: bytes, metadata: bytes, **fields: Any) -> RecordedEvent:
    values: dict[str, Any] = {
        "position": Position(1), "stream": "s", "version": 1, "type": "T", "data": data,
        "metadata": metadata, "id": bytes(16), "timestamp": 0,
    }  # fmt: skip
    return RecordedEvent(**{**values, **fields})


def test_append_checks_data_and_metadata_are_json_unless_raw(cluster: LocalCluster) -> None:
    addresses = cluster.addresses
    cases = [
        (["--data", "not json"], None, "--data #1 is not JSON (Expecting value at column 1)"),
        (["--data", "{}", "--data", "{"], None, "--data #2 is not JSON"),
        (["--data", "NaN"], None, "--data #1 is not JSON (NaN is Python's, not JSON's)"),
        (["--data", "{}", "--metadata", "by me"], None, "--metadata is not JSON"),
        ([], b'{"a": 1}\n\nparcel 2\n', "line 3 of standard input is not JSON"),
    ]
    for args, stdin, expected in cases:
        result = eventraft("append", "--cluster", addresses, "checked-1", *args, stdin=stdin)
        line = one_line_error(result)
        assert line.startswith(f"Error: {expected}") and "give --raw" in line, line
        assert result.returncode == 2
    with cluster.client() as client:
        assert client.read_stream("checked-1") == [], "nothing was appended"

    raw = eventraft(
        "append", "--cluster", addresses, "checked-1", "--raw", "--metadata", "by me",
        stdin=b"parcel 1\n\xff\xfe\n",
    )  # fmt: skip
    assert raw.returncode == 0, raw.stderr
    with cluster.client() as client:
        stored = client.read_stream("checked-1")
    assert [(e.data, e.metadata) for e in stored] == [
        (b"parcel 1", b"by me"),
        (b"\xff\xfe", b"by me"),
    ]


def test_streams_of_the_system_are_refused(cluster: LocalCluster) -> None:
    result = eventraft(
        "append", "--cluster", cluster.addresses, "$snapshot-Account-1", "--data", "{}"
    )
    assert one_line_error(result) == (
        "Error: stream '$snapshot-Account-1': names starting with '$' are reserved for the "
        "system (snapshots, for one)"
    )
    with cluster.client() as client:
        assert client.read_stream("$snapshot-Account-1") == []


def test_a_long_stream_name_in_a_refusal_is_clipped(cluster: LocalCluster) -> None:
    name = "long-" + "n" * 995
    result = eventraft(
        "append", "--cluster", cluster.addresses, name, "--data", "{}", "--expected-version", "3"
    )
    line = one_line_error(result)
    assert name not in line and "(1000 characters)" in line and len(line) < 200, line
    assert "is at version 0, expected 3" in line


# -- following, and Ctrl-C ------------------------------------------------------------------


class Reader:
    """``eventraft read`` in the background, its lines read one at a time."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "eventraft", "read", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def line(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        text = self.process.stdout.readline()
        assert text, "read ended early: " + self.interrupt()[1]
        return dict(json.loads(text))

    def interrupt(self) -> tuple[int, str]:
        """Ctrl-C; the exit code and what it wrote to standard error."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        _, err = self.process.communicate(timeout=DEADLINE)
        return self.process.returncode, err

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate(timeout=DEADLINE)


def assert_quiet(code: int, stderr: str) -> None:
    assert code == 130, stderr
    for noise in ("Traceback", "Task was destroyed", "Aborted", "Error"):
        assert noise not in stderr, stderr


@pytest.mark.timeout(120)
def test_follow_a_stream_then_ctrl_c_exits_quietly(cluster: LocalCluster) -> None:
    with cluster.client() as client:
        client.append("followed", [NewEvent("Old", b"1")])
        client.append("other", [NewEvent("Noise", b"2")])
    reader = Reader("--cluster", cluster.addresses, "--stream", "followed", "--follow")
    try:
        assert reader.line()["type"] == "Old"
        with cluster.client() as client:
            client.append("other", [NewEvent("Noise", b"3")])
            client.append("followed", [NewEvent("New", b'{"n": 2}')])
        new = reader.line()
        assert (new["stream"], new["version"], new["data"]) == ("followed", 2, {"n": 2})
        assert_quiet(*reader.interrupt())
    finally:
        reader.kill()


@pytest.mark.timeout(120)
def test_ctrl_c_on_follow_of_the_whole_log_exits_quietly(cluster: LocalCluster) -> None:
    with cluster.client() as client:
        client.append("tail", [NewEvent("One", b"1")])
    reader = Reader("--cluster", cluster.addresses, "--follow")
    try:
        assert reader.line()["position"] == 1
        assert_quiet(*reader.interrupt())
    finally:
        reader.kill()


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "args",
    [
        ["status", "--timeout", "60"],
        ["append", "s", "--data", "1", "--timeout", "60"],
        ["read", "--timeout", "60"],
        ["read", "--follow", "--stream", "s", "--timeout", "60"],
    ],
    ids=["status", "append", "read", "read-follow-stream"],
)
def test_ctrl_c_while_a_command_waits_exits_quietly(args: list[str]) -> None:
    with silent_server() as server:
        address = f"127.0.0.1:{server.getsockname()[1]}"
        command = [sys.executable, "-m", "eventraft", args[0], "--cluster", address, *args[1:]]
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        try:
            connection, _ = server.accept()  # the command is now waiting for an answer
            with connection:
                process.send_signal(signal.SIGINT)
                _, err = process.communicate(timeout=DEADLINE)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert_quiet(process.returncode, err)


# -- where a followed stream's subscription starts --------------------------------------------


class FakeLog:
    """Just enough of ``AsyncClient`` for ``follow_stream``, recording the subscription."""

    def __init__(self, log: list[RecordedEvent], live: list[RecordedEvent]) -> None:
        self.log, self.live = log, live
        self.subscribed_from: int | None = None

    async def status(self) -> Any:
        return type("Status", (), {"last_position": len(self.log)})()

    async def read_stream(self, stream: str, from_version: int = 1) -> list[RecordedEvent]:
        return [e for e in self.log if e.stream == stream and e.version >= from_version]

    async def read_stream_backwards(
        self, stream: str, from_version: None, limit: int
    ) -> list[RecordedEvent]:
        return [e for e in reversed(self.log) if e.stream == stream][:limit]

    async def subscribe(
        self, from_position: int, *, filter: EventFilter | None = None
    ) -> AsyncIterator[RecordedEvent]:
        self.subscribed_from = from_position
        for event in self.live:
            if event.position >= from_position and (
                filter is None or filter.matches(event.stream, event.type)
            ):
                yield event


def events(*streams: str) -> list[RecordedEvent]:
    """Recorded events of ``streams``, one each, at positions 1, 2, 3, ..."""
    versions: dict[str, int] = {}
    result = []
    for position, stream in enumerate(streams, start=1):
        versions[stream] = versions.get(stream, 0) + 1
        result.append(
            recorded(b"", b"", position=Position(position), stream=stream, version=versions[stream])
        )
    return result


def followed(log: FakeLog, stream: str, from_version: int = 1) -> list[tuple[str, int]]:
    async def collect() -> list[tuple[str, int]]:
        return [(e.stream, e.version) async for e in follow_stream(log, stream, from_version)]  # type: ignore[arg-type]

    return asyncio.run(collect())


def test_a_followed_stream_is_read_first_then_subscribed_to_after_its_last_event() -> None:
    everything = events("a", "b", "a", "b", "b", "a", "b")
    history, live = everything[:5], everything  # 6 and 7 commit once the reader follows

    log = FakeLog(history, live)
    assert followed(log, "a") == [("a", 1), ("a", 2), ("a", 3)]
    assert log.subscribed_from == 6, "not position 1: the stream was read first"

    log = FakeLog(history, live)
    assert followed(log, "a", from_version=3) == [("a", 3)]
    assert log.subscribed_from == 6

    log = FakeLog(history, live)
    assert followed(log, "new") == []
    assert log.subscribed_from == 6, "a stream with no events yet: from the end of the log"

    log = FakeLog(events("a", "b", "b"), events("a", "b", "b", "a"))
    assert followed(log, "a") == [("a", 1), ("a", 2)]
    assert log.subscribed_from == 4
