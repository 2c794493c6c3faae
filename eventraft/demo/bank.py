"""The demo's small example: two bank accounts, each a stream of events, written with expected
versions the way a repository saves aggregates, and read back from every node."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich.markup import escape
from rich.table import Table

from eventlog.client import Client
from eventlog.errors import WrongExpectedVersion
from eventlog.records import NO_STREAM, AppendResult, NewEvent, RecordedEvent
from eventraft.demo.narration import Narrator
from eventraft.localcluster import LocalCluster

ALICE, BOB = "account-alice", "account-bob"


def event(kind: str, **data: Any) -> NewEvent:
    return NewEvent(kind, json.dumps(data).encode())


def balance(events: Sequence[RecordedEvent]) -> int:
    """An account's state is a fold over its events."""
    total = 0
    for recorded in events:
        amount = int(json.loads(recorded.data).get("amount", 0))
        total += -amount if recorded.type == "MoneyWithdrawn" else amount
    return total


def append_accounts(narrator: Narrator, client: Client) -> int:
    """Open two accounts, deposit, transfer atomically, and have a stale write refused.
    Returns the last position written."""
    table = Table("stream", "events", "expected version", "result", title="Appends")
    results: list[AppendResult] = []

    def append(stream: str, new: NewEvent, expected: int) -> None:
        result = client.append(stream, [new], expected)
        results.append(result)
        table.add_row(stream, new.type, _expected(expected), _result(result))

    append(ALICE, event("AccountOpened", owner="Alice"), NO_STREAM)
    append(ALICE, event("MoneyDeposited", amount=100), 1)
    append(BOB, event("AccountOpened", owner="Bob"), NO_STREAM)
    transfer = client.append_multi(
        [
            (ALICE, [event("MoneyWithdrawn", amount=30, to=BOB)], 2),
            (BOB, [event("MoneyDeposited", amount=30, source=ALICE)], 1),
        ]
    )
    results.append(transfer)
    table.add_row(f"{ALICE}\n{BOB}", "MoneyWithdrawn\nMoneyDeposited", "2\n1", _result(transfer))
    refusal = _stale_withdrawal(client)
    outcome = f"refused: {refusal}" if refusal else "accepted, though stale"
    table.add_row(ALICE, "MoneyWithdrawn", "2", f"[red]{escape(outcome)}[/red]")
    narrator.show(table)
    positions = [p for r in results for p in range(r.first_position, r.last_position + 1)]
    narrator.check(
        positions == list(range(1, 6)) and [r.stream_version for r in results] == [1, 2, 1, 3],
        "every accepted append got the next positions and the expected stream version",
        f"positions {positions[0]}..{positions[-1]}",
    )
    narrator.check(
        refusal is not None and refusal.actual == 3 and refusal.expected == 2,
        "a write based on a stale version of account-alice was refused (WrongExpectedVersion)",
    )
    return positions[-1]


def _stale_withdrawal(client: Client) -> WrongExpectedVersion | None:
    """A second teller read Alice's account at version 2, before the transfer, and withdraws."""
    try:
        client.append(ALICE, [event("MoneyWithdrawn", amount=80)], 2)
    except WrongExpectedVersion as error:
        return error
    return None


def read_back(narrator: Narrator, cluster: LocalCluster, client: Client, last: int) -> None:
    """Read one stream from the leader, then the whole log from every node."""
    alice = client.read_stream(ALICE)
    table = Table("version", "position", "type", "data", title=f"read_stream({ALICE!r})")
    for recorded in alice:
        table.add_row(
            str(recorded.version), str(recorded.position), recorded.type, recorded.data.decode()
        )
    narrator.show(table)
    narrator.check(
        [e.version for e in alice] == [1, 2, 3] and balance(alice) == 70,
        "Alice's balance, folded from her 3 events, is 70; the refused withdrawal left no trace",
    )
    everything = client.read_all()
    table = Table("node", "role", "events read", "last position", "same as the leader's read")
    agree = True
    for node_id, node in cluster.nodes.items():
        with Client([node.address], timeout=10) as one:
            log = one.read_all(min_position=last)
            role = one.status().role
        same = log == everything
        agree = agree and same
        last_read = str(log[-1].position) if log else "-"
        table.add_row(str(node_id), role, str(len(log)), last_read, _mark(same))
    narrator.say(f"read_all(min_position={last}) from each node: it waits until the node has")
    narrator.say("applied that position, so a client reads its own writes from any node")
    narrator.show(table)
    narrator.check(
        agree and len(everything) == last, f"all {len(cluster.nodes)} nodes return the same log"
    )


def _expected(version: int) -> str:
    return "NO_STREAM" if version == NO_STREAM else str(version)


def _result(result: AppendResult) -> str:
    first, last = result.first_position, result.last_position
    where = f"position {first}" if first == last else f"positions {first}-{last}"
    return f"{where}, stream version {result.stream_version}"


def _mark(ok: bool) -> str:
    return "[green]yes[/green]" if ok else "[red]no[/red]"
