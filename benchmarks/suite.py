"""``make bench``: every figure of eventraft beside its peers, in one run on one machine.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python benchmarks/suite.py [--runs 3] [--json bench.json] [--only a,b] [--quick]

Each scenario (one system, one group of figures) runs ``--runs`` times, each time in a fresh
process, and each figure is reported as the median with the min and max of its runs. One table
puts eventraft beside its peers with the ratio (above 1: eventraft is better) and the target,
and the JSON file keeps every run. A peer that is not installed is skipped with a message:
PySyncObj and ``eventsourcing`` come from the ``bench`` extra, PostgreSQL from Debian's
packages (``apt-get install postgresql``); the suite starts its own PostgreSQL server in a
temporary directory and stops it after.

Not a test: nothing here passes or fails; it measures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import attrs
from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import peer_eventsourcing  # noqa: E402
import peer_postgres  # noqa: E402


@attrs.frozen
class Scenario:
    name: str
    group: str
    system: str
    call: str
    """``module:function``, called with ``options[group]`` as keyword arguments."""

    def missing(self) -> str | None:
        """Why this scenario cannot run here, or None."""
        if self.system == "PySyncObj":
            try:
                import pysyncobj  # noqa: F401
            except ImportError:
                return "PySyncObj is not installed (pip install -e '.[bench]')"
        if (
            self.system.startswith("eventsourcing") or self.group == "g"
        ) and not peer_eventsourcing.installed():
            return "eventsourcing is not installed (pip install -e '.[bench]')"
        if self.system == "eventsourcing/PostgreSQL":
            return peer_postgres.missing()
        return None


SCENARIOS = [
    Scenario("a-eventraft", "a", "eventraft", "figures_cluster:eventraft_appends"),
    Scenario("a-pysyncobj", "a", "PySyncObj", "figures_cluster:pysyncobj_appends"),
    Scenario("b-eventraft", "b", "eventraft", "figures_local:eventraft_saves"),
    Scenario(
        "b-es-sqlite", "b", "eventsourcing/SQLite", "figures_local:eventsourcing_saves_sqlite"
    ),
    Scenario(
        "b-es-postgres",
        "b",
        "eventsourcing/PostgreSQL",
        "figures_local:eventsourcing_saves_postgres",
    ),
    Scenario("c-eventraft", "c", "eventraft", "figures_local:eventraft_loads"),
    Scenario("c-es-sqlite", "c", "eventsourcing/SQLite", "figures_local:eventsourcing_loads"),
    Scenario("d-eventraft", "d", "eventraft", "figures_local:eventraft_catch_up"),
    Scenario("d-es-sqlite", "d", "eventsourcing/SQLite", "figures_local:eventsourcing_catch_up"),
    Scenario("e-eventraft", "e", "eventraft", "figures_cluster:eventraft_failover"),
    Scenario("e-pysyncobj", "e", "PySyncObj", "figures_cluster:pysyncobj_failover"),
    Scenario("f-eventraft", "f", "eventraft", "figures_cluster:eventraft_overload"),
    Scenario("g-eventraft", "g", "eventraft", "figures_module:eventraft_module"),
    Scenario(
        "g-es-sqlite", "g", "eventsourcing/SQLite", "figures_module:eventsourcing_module_sqlite"
    ),
    Scenario(
        "g-es-postgres",
        "g",
        "eventsourcing/PostgreSQL",
        "figures_module:eventsourcing_module_postgres",
    ),
]


SIZES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "a": ({"seconds": 10.0, "appenders": 64, "samples": 2000},
          {"seconds": 1.0, "appenders": 16, "samples": 100}),
    "b": ({"seconds": 5.0}, {"seconds": 1.0}),
    "c": ({"events": 10_000, "repeat": 7}, {"events": 1000, "repeat": 3}),
    "d": ({"events": 500_000}, {"events": 20_000}),
    "e": ({"kills": 5}, {"kills": 1}),
    "f": ({"seconds": 30.0, "in_flight": 10_000}, {"seconds": 5.0, "in_flight": 1000}),
    "g": ({"seconds": 5.0, "events": 20_000}, {"seconds": 1.0, "events": 2000}),
}  # fmt: skip
"""Each group's arguments: (the figures', ``--quick``'s, which only checks the suite runs)."""


def options(quick: bool) -> dict[str, dict[str, Any]]:
    return {group: sizes[1 if quick else 0] for group, sizes in SIZES.items()}


@attrs.frozen
class Row:
    """One line of the table: a figure of eventraft, and the peer it is put beside."""

    group: str
    label: str
    key: str
    unit: str
    higher_is_better: bool
    peer: str | None = None
    peer_key: str | None = None
    target: str = ""
    target_met: Any = None
    """``(ours, peer) -> bool``: whether the target holds (None: no target)."""
    peer_note: str = ""
    """How the peer ran, when not as in the other rows (said under its name)."""


def _at_least(floor: float, times: float = 0.0) -> Any:
    return lambda ours, peer: ours >= floor and (peer is None or ours >= times * peer)


def _at_most(ceiling: float) -> Any:
    return lambda ours, peer: ours <= ceiling


ROWS = [
    Row("a", "single-event appends/s, 64 appenders, one client", "shared", "/s", True,
        "PySyncObj", "shared", ">= 40,000 and 4x", _at_least(40_000, 4)),
    Row("a", "single-event appends/s, 64 appenders, a client each", "separate", "/s", True,
        "PySyncObj", "separate", ">= 40,000 and 4x", _at_least(40_000, 4)),
    Row("a", "single-event appends/s, 64 appenders, one client", "shared", "/s", True,
        "PySyncObj", "shared_nobatch", ">= 40,000 and 4x", _at_least(40_000, 4),
        peer_note="appendEntriesUseBatch=False"),
    Row("a", "events/s in 100-event appends, 64 appenders", "batch100", "/s", True,
        "PySyncObj", "batch100", ">= 300,000", _at_least(300_000)),
    Row("a", "events/s in 100-event appends, 64 appenders", "batch100", "/s", True,
        "PySyncObj", "batch100_nobatch", ">= 300,000", _at_least(300_000),
        peer_note="appendEntriesUseBatch=False"),
    Row("a", "latency p50, one append in flight", "p50", " ms", False,
        "PySyncObj", "p50", "<= 1.5 ms", _at_most(1.5)),
    Row("a", "latency p99, one append in flight", "p99", " ms", False,
        "PySyncObj", "p99", "<= 5 ms", _at_most(5.0)),
    Row("b", "durable single-event saves/s, 1 thread", "threads1", "/s", True,
        "eventsourcing/SQLite", "threads1", ">= 1x SQLite", _at_least(0, 1)),
    Row("b", "durable single-event saves/s, 16 threads", "threads16", "/s", True,
        "eventsourcing/SQLite", "threads16", ">= 10x SQLite", _at_least(0, 10)),
    Row("b", "durable single-event saves/s, 1 thread", "threads1", "/s", True,
        "eventsourcing/PostgreSQL", "threads1"),
    Row("b", "durable single-event saves/s, 16 threads", "threads16", "/s", True,
        "eventsourcing/PostgreSQL", "threads16", ">= 3x PostgreSQL", _at_least(0, 3)),
    Row("c", "load a 10,000-event aggregate, no snapshot", "replay_ms", " ms", False,
        "eventsourcing/SQLite", "replay_ms", "<= 60 ms", _at_most(60)),
    Row("c", "load it from a snapshot", "snapshot_ms", " ms", False,
        "eventsourcing/SQLite", "snapshot_ms", "< 1 ms", _at_most(1)),
    Row("d", "catch-up events/s into SQLite", "sqlite", "/s", True,
        "eventsourcing/SQLite", "sqlite", ">= 120,000", _at_least(120_000)),
    Row("d", "catch-up events/s into LMDB", "lmdb", "/s", True,
        "eventsourcing/SQLite", "sqlite", ">= 200,000", _at_least(200_000)),
    Row("e", "failover: kill -9 of the leader to the next commit, median", "median", " s",
        False, "PySyncObj", "median", "<= 0.5 s", _at_most(0.5)),
    Row("e", "failover, max", "max", " s", False, "PySyncObj", "max", "<= 1 s", _at_most(1)),
    Row("f", "overload: appends/s with 64 in flight", "steady", "/s", True),
    Row("f", "overload: appends/s with 10,000 in flight, median", "rate", "/s", True),
    Row("f", "overload: worst second over the 64-in-flight rate", "worst_share", "", True,
        target=">= 0.8", target_met=_at_least(0.8)),
    Row("f", "overload: leader changes", "leader_changes", "", False,
        target="0", target_met=_at_most(0)),
    Row("f", "overload: errors other than Overloaded", "errors", "", False,
        target="0", target_met=_at_most(0)),
    Row("f", "overload: acknowledged appends lost or twice", "lost", "", False,
        target="0", target_met=_at_most(0)),
    Row("f", "overload: leader RSS at start, MiB (LMDB's mapped pages included)", "rss_start",
        "", False),
    Row("f", "overload: leader RSS at end, MiB", "rss_end", "", False),
    Row("f", "overload: leader heap (RssAnon) after 1 s, MiB", "anon_start", "", False),
    Row("f", "overload: leader heap (RssAnon) half way, MiB", "anon_mid", "", False),
    Row("f", "overload: leader heap (RssAnon) at end, MiB", "anon_end", "", False,
        target="flat"),
    Row("g", "eventsourcing app on a 3-node cluster: saves/s, 1 thread", "cluster_threads1",
        "/s", True, "eventsourcing/SQLite", "threads1"),
    Row("g", "eventsourcing app on a 3-node cluster: saves/s, 1 thread", "cluster_threads1",
        "/s", True, "eventsourcing/PostgreSQL", "threads1"),
    Row("g", "eventsourcing app on a 3-node cluster: saves/s, 16 threads", "cluster_threads16",
        "/s", True, "eventsourcing/SQLite", "threads16"),
    Row("g", "eventsourcing app on a 3-node cluster: saves/s, 16 threads", "cluster_threads16",
        "/s", True, "eventsourcing/PostgreSQL", "threads16"),
    Row("g", "eventsourcing app on a 3-node cluster: notification reads/s", "cluster_reads",
        "/s", True, "eventsourcing/SQLite", "reads"),
    Row("g", "eventsourcing app on a 3-node cluster: notification reads/s", "cluster_reads",
        "/s", True, "eventsourcing/PostgreSQL", "reads"),
    Row("g", "eventsourcing app, embedded store: saves/s, 1 thread", "embedded_threads1",
        "/s", True, "eventsourcing/SQLite", "threads1"),
    Row("g", "eventsourcing app, embedded store: saves/s, 16 threads", "embedded_threads16",
        "/s", True, "eventsourcing/SQLite", "threads16"),
    Row("g", "eventsourcing app, embedded store: notification reads/s", "embedded_reads",
        "/s", True, "eventsourcing/SQLite", "reads"),
]  # fmt: skip


# -- running --------------------------------------------------------------------------------
def run_scenario(scenario: Scenario, arguments: dict[str, Any]) -> dict[str, float]:
    """One run in a fresh process; its last line of output is the figures as JSON."""
    completed = subprocess.run(
        [
            sys.executable,
            __file__,
            "--scenario",
            scenario.name,
            "--arguments",
            json.dumps(arguments),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "EVENTRAFT_LOG_LEVEL": "warning"},
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{scenario.name} failed:\n{completed.stderr[-3000:]}")
    figures: dict[str, float] = json.loads(completed.stdout.strip().splitlines()[-1])
    return figures


def run_in_this_process(name: str, arguments: dict[str, Any]) -> None:
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    scenario = next(s for s in SCENARIOS if s.name == name)
    module_name, function_name = scenario.call.split(":")
    module = __import__(module_name)
    print(json.dumps(getattr(module, function_name)(**arguments)), flush=True)


@attrs.frozen
class Summary:
    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: list[float]) -> Summary:
        return cls(statistics.median(values), min(values), max(values))


def summarize(runs: list[dict[str, float]]) -> dict[str, Summary]:
    return {key: Summary.of([run[key] for run in runs]) for key in runs[0]}


def _value(summary: Summary, unit: str) -> str:
    digits = 2 if abs(summary.median) < 100 else 0
    return (
        f"{summary.median:,.{digits}f}{unit} "
        f"[dim]({summary.low:,.{digits}f}-{summary.high:,.{digits}f})[/dim]"
    )


def table(results: dict[str, dict[str, Summary]], skipped: dict[str, str]) -> Table:
    out = Table(
        title=f"eventraft and its peers: {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, medians of the runs (min-max)"
    )
    for column in ("", "figure", "eventraft", "peer", "peer's", "ratio", "target", "met"):
        out.add_column(
            column, justify="right" if column in ("eventraft", "peer's", "ratio") else "left"
        )
    for row in ROWS:
        ours = results.get(f"{row.group}-eventraft", {}).get(row.key)
        if ours is None:
            continue
        peer_name = _scenario_of(row.group, row.peer)
        peer = results.get(peer_name, {}).get(row.peer_key or "") if peer_name else None
        ratio = ""
        if peer is not None and peer.median and ours.median:
            value = ours.median / peer.median if row.higher_is_better else peer.median / ours.median
            ratio = f"{value:.2f}x"
        peer_cell = (
            _value(peer, row.unit)
            if peer is not None
            else (skipped.get(peer_name or "", "") and "skipped")
        )
        met = ""
        if row.target_met is not None:
            met = "yes" if row.target_met(ours.median, peer.median if peer else None) else "no"
        out.add_row(
            row.group, row.label, _value(ours, row.unit),
            f"{row.peer} ({row.peer_note})" if row.peer_note else row.peer or "",
            peer_cell, ratio, row.target, met,
        )  # fmt: skip
    return out


def _scenario_of(group: str, system: str | None) -> str | None:
    """The name of the scenario that measures ``system`` in ``group``."""
    names = [s.name for s in SCENARIOS if s.group == group and s.system == system]
    return names[0] if names and system else None


NOTES = (
    "PySyncObj keeps its log in memory and does not fsync, and its appends are called in the "
    "leader's own process; eventraft fsyncs on a majority and its clients are in another "
    "process over TCP. PySyncObj's throughput is with its defaults (which batch: a call waits "
    "for the next append period) and with appendEntriesUseBatch=False, its latency with the "
    "latter. The eventsourcing library runs its own recorders: "
    "SQLite in WAL mode with synchronous=FULL (one fsync per commit), PostgreSQL with fsync "
    "and synchronous_commit on. In (g) the same application and recorder calls run on each "
    "module: the library's SQLite and PostgreSQL ones, and eventraft.eventsourcing on a "
    "3-node cluster of this machine (each save fsynced on a majority) and on an embedded store."
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, default=Path("bench.json"))
    parser.add_argument("--only", default="", help="groups to run, e.g. a,b (default: all)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the suite")
    parser.add_argument("--scenario", help=argparse.SUPPRESS)
    parser.add_argument("--arguments", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scenario:
        run_in_this_process(args.scenario, json.loads(args.arguments))
        return
    console = Console(width=max(Console().width, 170))
    groups = set(args.only.split(",")) if args.only else None
    sizes = options(args.quick)
    runs: dict[str, list[dict[str, float]]] = {}
    skipped: dict[str, str] = {}
    started = time.monotonic()
    for scenario in SCENARIOS:
        if groups is not None and scenario.group not in groups:
            continue
        if (why := scenario.missing()) is not None:
            console.print(f"[yellow]skipped[/yellow] {scenario.name}: {why}")
            skipped[scenario.name] = why
            continue
        for n in range(args.runs):
            with console.status(f"{scenario.name}: run {n + 1} of {args.runs}"):
                runs.setdefault(scenario.name, []).append(
                    run_scenario(scenario, sizes[scenario.group])
                )
    results = {name: summarize(figures) for name, figures in runs.items()}
    console.print(table(results, skipped))
    console.print(NOTES, style="dim")
    console.print("ratio > 1: eventraft is better (more per second, or less time).")
    report = {
        "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
        "seconds": time.monotonic() - started,
        "options": sizes,
        "runs": runs,
        "summary": {
            name: {key: attrs.asdict(summary) for key, summary in figures.items()}
            for name, figures in results.items()
        },
        "skipped": skipped,
    }
    args.json.write_text(json.dumps(report, indent=2))
    console.print(f"every run: {args.json}")


if __name__ == "__main__":
    main()
