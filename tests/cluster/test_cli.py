"""The ``eventraft`` command as a person runs it, against real node processes on 127.0.0.1.

Every cluster lives in a ``local_cluster`` block and every demo run is waited for or killed,
so no process outlives its test, even when the test fails.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eventlog.records import NewEvent, RecordedEvent
from eventlog.types import Position
from eventraft.demo.load import Ack
from eventraft.demo.verify import exactly_once
from eventraft.localcluster import LocalCluster, free_ports, local_cluster
from eventraft.statustable import DIGEST_CHARS
from tests.cli.commandline import processes_mentioning

STATUS_FIELDS = {
    "id",
    "role",
    "term",
    "leader",
    "commit_index",
    "last_index",
    "applied_index",
    "last_position",
    "digest",
}
HAS_PROC = Path("/proc/self/cmdline").exists()


def eventraft(
    *args: str, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``eventraft ARGS`` in a fresh interpreter, as a shell would."""
    return subprocess.run(
        [sys.executable, "-m", "eventraft", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    with local_cluster(tmp_path) as running:
        running.leader(timeout=20)
        yield running


@pytest.fixture
def demo_tmp(tmp_path: Path) -> Iterator[Path]:
    """The demo's temporary directory goes under here (``TMPDIR``), so whatever it leaves
    behind can be found, and killed if a test fails midway."""
    try:
        yield tmp_path
    finally:
        for pid in processes_mentioning(str(tmp_path)) if HAS_PROC else []:
            os.kill(pid, signal.SIGKILL)


def demo_command(tmp: Path) -> dict[str, Any]:
    return {
        "args": [sys.executable, "-m", "eventraft", "demo"],
        "env": {**os.environ, "TMPDIR": str(tmp)},
        "text": True,
    }


# -- status ----------------------------------------------------------------------------------


def test_status_of_an_unreachable_address_says_why_and_exits_non_zero() -> None:
    [port] = free_ports(1)
    address = f"127.0.0.1:{port}"

    as_json = eventraft("status", "--cluster", address, "--json", "--timeout", "0.5")
    assert as_json.returncode == 1, as_json.stderr
    [line] = as_json.stdout.splitlines()
    row = json.loads(line)
    assert set(row) == {"address", "error"}
    assert row["address"] == address
    assert "unavailable" in row["error"]

    table = eventraft("status", "--cluster", address, "--timeout", "0.5")
    assert table.returncode == 1, table.stderr
    row_line, error_line = (
        line for line in table.stdout.splitlines() if line.strip().startswith(address)
    )
    assert row_line.split() == [address, "unreachable"]
    assert error_line.startswith(f"{address}: unavailable")
    assert "0 of 1 reachable" in table.stdout


def test_status_of_a_running_cluster_as_json_lines(cluster: LocalCluster) -> None:
    cluster.wait_converged()
    result = eventraft("status", "--cluster", cluster.addresses, "--json")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["address"] for row in rows] == [n.address for n in cluster.nodes.values()]
    assert [row["id"] for row in rows] == list(cluster.nodes)
    for row in rows:
        assert set(row) >= STATUS_FIELDS, row
        assert all(isinstance(row[field], int) for field in STATUS_FIELDS - {"role", "digest"})
        assert re.fullmatch(r"[0-9a-f]{64}", row["digest"])
        assert row["commit_index"] == row["applied_index"] <= row["last_index"]
    leaders = [row["id"] for row in rows if row["role"] == "leader"]
    assert len(leaders) == 1
    assert {row["leader"] for row in rows} == set(leaders)
    assert len({(row["term"], row["last_position"], row["digest"]) for row in rows}) == 1


def test_status_of_a_running_cluster_as_a_table(cluster: LocalCluster) -> None:
    statuses = cluster.wait_converged()
    result = eventraft("status", "--cluster", cluster.addresses)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for node_id, node in cluster.nodes.items():
        [line] = [line for line in lines if line.strip().startswith(node.address)]
        assert line.split()[1:3] == [str(node_id), statuses[node_id].role]
        assert statuses[node_id].digest[:DIGEST_CHARS] in line
    leader = next(n for n, s in statuses.items() if s.role == "leader")
    assert f"3 of 3 reachable · leader: node {leader}" in result.stdout
    assert "all 3 histories agree" in result.stdout


def test_status_lists_projection_leases_with_their_lag(cluster: LocalCluster) -> None:
    with cluster.client() as client:
        result = client.append("orders", [NewEvent("Placed", str(n).encode()) for n in range(3)])
        client.acquire_lease("orders-view", "worker-7", 60.0, checkpoint=result.first_position)
    cluster.wait_converged()
    rows = [
        json.loads(line)
        for line in eventraft(
            "status", "--cluster", cluster.addresses, "--json"
        ).stdout.splitlines()
    ]
    for row in rows:
        [lease] = [lease for lease in row["leases"] if lease["name"] == "orders-view"]
        assert (lease["owner"], lease["expired"], lease["stopped"]) == ("worker-7", False, False)
        assert lease["checkpoint"] == result.first_position
        assert lease["lag_events"] == row["last_position"] - result.first_position == 2
        assert lease["lag_seconds"] >= 0
    table = eventraft("status", "--cluster", cluster.addresses)
    assert table.returncode == 0, table.stderr
    assert "projections" in table.stdout and "orders-view" in table.stdout
    assert "worker-7" in table.stdout


def test_status_goes_on_listing_a_stopped_projection_with_its_checkpoint(
    cluster: LocalCluster,
) -> None:
    with cluster.client() as client:
        grant = client.acquire_lease("stopped-view", "worker-9", 60.0, checkpoint=1)
        client.release_lease("stopped-view", "worker-9", grant.token)
    cluster.wait_converged()
    for line in eventraft("status", "--cluster", cluster.addresses, "--json").stdout.splitlines():
        [lease] = [lease for lease in json.loads(line)["leases"] if lease["name"] == "stopped-view"]
        assert (lease["owner"], lease["checkpoint"]) == ("worker-9", 1)
        assert (lease["expired"], lease["stopped"]) == (True, True)
    table = eventraft("status", "--cluster", cluster.addresses)
    [row] = [line for line in table.stdout.splitlines() if "stopped-view" in line]
    assert row.split()[-1] == "stopped"


def test_status_reports_every_address_and_fails_if_one_is_down(cluster: LocalCluster) -> None:
    [port] = free_ports(1)
    down = f"127.0.0.1:{port}"
    up = cluster.nodes[1].address
    result = eventraft("status", "--cluster", f"{up},{down}", "--json", "--timeout", "0.5")
    assert result.returncode == 1
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first["address"] == up and first["id"] == 1 and "error" not in first
    assert second["address"] == down and "error" in second


# -- append and read --------------------------------------------------------------------------


def test_append_then_read_round_trip(cluster: LocalCluster) -> None:
    addresses = cluster.addresses
    placed = eventraft(
        "append", "--cluster", addresses, "order-1", "--type", "OrderPlaced",
        "--data", '{"sku": "A"}', "--data", '{"sku": "B"}', "--expected-version", "0",
    )  # fmt: skip
    assert placed.returncode == 0, placed.stderr
    assert json.loads(placed.stdout) == {
        "first_position": 1,
        "last_position": 2,
        "stream_version": 2,
    }

    stale = eventraft(
        "append", "--cluster", addresses, "order-1", "--data", '"late"', "--expected-version", "0"
    )
    assert stale.returncode == 1
    assert "stream 'order-1' is at version 2, expected 0" in stale.stderr

    shipped = eventraft(
        "append", "--cluster", addresses, "order-1", "--type", "OrderShipped", "--raw",
        "--expected-version", "2", stdin="parcel 1\n\nparcel 2\n",
    )  # fmt: skip
    assert shipped.returncode == 0, shipped.stderr
    assert json.loads(shipped.stdout)["stream_version"] == 4
    other = eventraft("append", "--cluster", addresses, "order-2", "--data", '"x"')
    assert json.loads(other.stdout)["first_position"] == 5

    stream = eventraft("read", "--cluster", addresses, "--stream", "order-1")
    assert stream.returncode == 0, stream.stderr
    events = [json.loads(line) for line in stream.stdout.splitlines()]
    assert [(e["position"], e["version"], e["type"], e["data"]) for e in events] == [
        (1, 1, "OrderPlaced", {"sku": "A"}),
        (2, 2, "OrderPlaced", {"sku": "B"}),
        (3, 3, "OrderShipped", "parcel 1"),
        (4, 4, "OrderShipped", "parcel 2"),
    ]

    # Any node will do: a follower's address alone reaches the whole log.
    follower = next(n for n, s in cluster.statuses().items() if s.role == "follower")
    page = eventraft(
        "read", "--cluster", cluster.nodes[follower].address, "--from", "3", "--limit", "2"
    )
    assert page.returncode == 0, page.stderr
    read = [json.loads(line) for line in page.stdout.splitlines()]
    assert [(e["position"], e["stream"]) for e in read] == [(3, "order-1"), (4, "order-1")]
    assert len({e["id"] for e in events + read}) == 4


def test_every_line_a_node_logs_names_the_node(cluster: LocalCluster) -> None:
    cluster.wait_converged()
    for node_id, node in cluster.nodes.items():
        # The node is running: its last line may be half written.
        lines = [line for line in node.log_path.read_text().splitlines(True) if line[-1] == "\n"]
        assert len(lines) >= 3, f"node {node_id} logged too little: {lines}"
        assert all(json.loads(line)["node_id"] == node_id for line in lines)


# -- logging ----------------------------------------------------------------------------------

LOGGING_SCRIPT = """
import asyncio
import structlog
from eventlog.logs import bind_node, configure_logging

configure_logging(json=True)
log = structlog.get_logger("test")
term = [3]

async def main():
    bind_node(7, lambda: term[0])
    changed = asyncio.Event()

    async def started_before_the_change():
        await changed.wait()
        log.info("from_a_task")

    task = asyncio.create_task(started_before_the_change())
    log.info("before")
    term[0] = 4
    changed.set()
    await task
    await asyncio.to_thread(log.info, "from_a_thread")
    log.info("explicit", term=9)

asyncio.run(main())
log.info("outside")
"""


def test_log_lines_carry_the_node_and_its_current_term() -> None:
    result = subprocess.run(
        [sys.executable, "-c", LOGGING_SCRIPT], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    lines = {line["event"]: line for line in map(json.loads, result.stderr.splitlines())}
    assert [(lines[e].get("node_id"), lines[e].get("term")) for e in lines] == [
        (7, 3),
        (7, 4),
        (7, 4),
        (7, 9),
        (None, None),
    ]
    assert list(lines) == ["before", "from_a_task", "from_a_thread", "explicit", "outside"]


# -- the demo ---------------------------------------------------------------------------------


@pytest.mark.timeout(180)
def test_the_cluster_demo_passes_every_check_and_leaves_nothing_behind(demo_tmp: Path) -> None:
    result = subprocess.run(**demo_command(demo_tmp), capture_output=True, timeout=150)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    passed = re.search(r"All (\d+) checks passed", out)
    assert passed and int(passed[1]) >= 15, out
    assert "✗" not in out
    assert out.count("✓") == int(passed[1])
    for headline in (
        "1/9  Start 3 node processes",
        "Users and roles: each call checked against the caller's permissions",
        "kill -9 the leader while appends continue",
        "Every acknowledged append is on every surviving node, exactly once",
        "9/9  Stop everything",
    ):
        assert headline in out
    assert "PermissionDenied: user 'ada' may not write 'account-alice'" in out
    assert "refused: stream 'account-alice' is at version 3, expected 2" in out
    assert re.search(f"Data and logs in {re.escape(str(demo_tmp))}/\\S+", out)
    assert list(demo_tmp.iterdir()) == []
    if HAS_PROC:
        assert processes_mentioning(str(demo_tmp)) == []


def test_the_demo_check_catches_lost_moved_and_doubled_appends() -> None:
    def recorded(position: int, stream: str, data: bytes) -> RecordedEvent:
        return RecordedEvent(
            position=Position(position), stream=stream, version=1, type="Written", data=data,
            metadata=b"", id=bytes(16), timestamp=0,
        )  # fmt: skip

    acks = [
        Ack(stream="writer-1", data=b"a", position=1, at=0.0),
        Ack(stream="writer-1", data=b"b", position=2, at=0.0),
        Ack(stream="writer-2", data=b"c", position=3, at=0.0),
    ]
    good = [
        recorded(1, "writer-1", b"a"),
        recorded(2, "writer-1", b"b"),
        recorded(3, "writer-2", b"c"),
    ]
    assert exactly_once(acks, good, ["writer-1", "writer-2"]) == []

    lost = good[:2]
    assert exactly_once(acks, lost, ["writer-1", "writer-2"]) == [
        "acknowledged writer-2 c is missing"
    ]
    moved = [good[0], recorded(2, "writer-2", b"c"), recorded(3, "writer-1", b"b")]
    assert len(exactly_once(acks, moved, ["writer-1", "writer-2"])) == 2
    doubled = [*good, recorded(4, "writer-2", b"c")]
    assert exactly_once(acks, doubled, ["writer-1", "writer-2"]) == ["writer-2 c is stored 2 times"]
    # Equal payloads on a stream the writers did not own are a legitimate history.
    assert exactly_once(acks, doubled, ["writer-1"]) == []
    gap = [good[0], recorded(3, "writer-2", b"c")]
    assert exactly_once(acks[::2], gap, ["writer-1"]) == ["positions not dense: 3 where 2 was due"]


def test_demo_options_of_the_simulator_need_sim() -> None:
    result = eventraft("demo", "--seeds", "3")
    assert result.returncode == 2
    assert "--seeds and --jobs apply to --sim only" in result.stderr


@pytest.mark.skipif(not HAS_PROC, reason="finds leftover processes through /proc")
@pytest.mark.timeout(120)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_stopping_the_demo_midway_stops_its_nodes_and_removes_its_data(
    demo_tmp: Path, signum: int
) -> None:
    demo = subprocess.Popen(**demo_command(demo_tmp), stdout=subprocess.PIPE)
    try:
        assert demo.stdout is not None
        for line in demo.stdout:
            if re.search(r"kill -9 node \d", line):  # writers are appending; two nodes are up
                break
        assert len(processes_mentioning(str(demo_tmp))) == 2
        demo.send_signal(signum)
        demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert demo.returncode != 0
    assert list(demo_tmp.iterdir()) == []
    assert processes_mentioning(str(demo_tmp)) == []


def test_bench_measures_a_running_cluster(cluster: LocalCluster) -> None:
    result = eventraft(
        "bench", "--cluster", cluster.addresses, "--seconds", "0.3", "--samples", "20",
        "--appenders", "4",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for measure in ("appends/s, 4 appenders on one client", "appends/s, 4 clients", "p50"):
        assert measure in result.stdout
    with cluster.client() as client:
        assert client.read_stream("bench-0"), "the load went through the cluster"
