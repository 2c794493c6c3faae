"""``status`` for people: asked one follower, it names the leader that follower knows of; on
an 80-column terminal addresses and roles stay whole and the columns that do not fit go."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rich.console import Console

from eventraft.localcluster import LocalCluster, local_cluster
from eventraft.statustable import agreement, status_table
from tests.cli.commandline import eventraft, on_a_terminal


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    with local_cluster(tmp_path_factory.mktemp("status-cluster")) as running:
        running.leader(timeout=20)
        yield running


def row(node: int, role: str, leader: int, term: int = 4, **fields: object) -> dict[str, object]:
    values: dict[str, object] = {
        "address": f"10.200.30.{node}:65000", "id": node, "role": role, "term": term,
        "leader": leader, "commit_index": 123456, "last_index": 123456,
        "applied_index": 123456, "last_position": 98765, "digest": "ab" * 32,
    }  # fmt: skip
    return {**values, **fields}


def test_one_follower_asked_names_the_leader_it_reports(cluster: LocalCluster) -> None:
    statuses = cluster.wait_converged()
    leader = next(n for n, s in statuses.items() if s.role == "leader")
    follower = next(n for n, s in statuses.items() if s.role == "follower")
    result = eventraft("status", "--cluster", cluster.nodes[follower].address)
    assert result.returncode == 0, result.stderr
    term = statuses[follower].term
    assert f"leader: node {leader} (term {term}, as node {follower} reports)" in result.stdout
    assert "no leader" not in result.stdout


def test_the_summary_names_a_reported_leader_and_says_when_none_is_known() -> None:
    assert "leader: node 2 (term 4, as nodes 1, 3 report)" in agreement(
        [row(1, "follower", 2), row(3, "follower", 2)]
    )
    assert "leader: node 3 (term 5, as node 2 reports)" in agreement(
        [row(1, "follower", 2), row(2, "follower", 3, term=5)]
    )
    assert "no leader" in agreement([row(1, "candidate", 0), row(2, "pre_candidate", 0)])


def test_on_80_columns_addresses_and_roles_stay_whole(cluster: LocalCluster) -> None:
    cluster.wait_converged()
    shown = on_a_terminal("status", "--cluster", cluster.addresses, columns=80)
    lines = shown.splitlines()
    assert max(map(len, lines)) <= 80, shown
    for node_id, node in cluster.nodes.items():
        [line] = [line for line in lines if line.strip().startswith(node.address)]
        assert line.split()[:3] == [node.address, str(node_id), cluster.status(node_id).role]
    assert "…" not in shown


@pytest.mark.parametrize("width", [80, 60, 45])
def test_a_narrow_console_drops_the_columns_on_the_right(width: int) -> None:
    rows = [row(1, "pre_candidate", 0), row(2, "follower", 3), row(3, "leader", 3)]
    console = Console(width=width, record=True, color_system=None)
    console.print(status_table(rows, title="status"))
    text = console.export_text()
    assert max(map(len, text.splitlines())) <= width
    for r in rows:
        [line] = [line for line in text.splitlines() if line.strip().startswith(str(r["address"]))]
        assert line.split()[:3] == [r["address"], str(r["id"]), r["role"]]
    assert "…" not in text
    assert "too narrow to show" in text and "last" in text
    wide = Console(width=200, record=True, color_system=None)
    wide.print(status_table(rows))
    whole = wide.export_text()
    assert "too narrow" not in whole and "applied" in whole
