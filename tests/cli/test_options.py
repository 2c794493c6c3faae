"""The options of every command: ``--version``, ``--log-level`` before or after the
subcommand (and on to the nodes ``cluster`` starts), and help that says what each option is,
its default and its unit."""

from __future__ import annotations

import logging
from importlib.metadata import version
from pathlib import Path

import click
import pytest
import structlog
from click.testing import CliRunner

from eventraft.cli import main
from eventraft.localcluster import free_ports, node_command

UNITS = {
    "--timeout": "Seconds",
    "--tick-ms": "Milliseconds",
    "--seconds": "Seconds",
    "--lease-ttl": "Seconds",
    "--report-every": "Seconds",
    "--event-bytes": "Bytes",
    "--base-port": "port",
}


def options() -> list[tuple[str, click.Option]]:
    found = [("eventraft", p) for p in main.params if isinstance(p, click.Option)]
    for name, command in sorted(main.commands.items()):
        found += [(name, p) for p in command.params if isinstance(p, click.Option)]
        for sub, subcommand in sorted(getattr(command, "commands", {}).items()):
            found += [
                (f"{name} {sub}", p) for p in subcommand.params if isinstance(p, click.Option)
            ]
    return found


def test_version_is_the_package_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"eventraft {version('eventraft')}\n"


@pytest.mark.parametrize("where", ["before", "after"])
def test_the_log_level_is_taken_before_or_after_the_subcommand(where: str) -> None:
    [port] = free_ports(1)
    command = ["status", "--cluster", f"127.0.0.1:{port}", "--timeout", "0.1", "--json"]
    level = ["--log-level", "DEBUG"]
    args = [*level, *command] if where == "before" else [*command, *level]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output  # the address is down: parsed, asked, failed
    debug = structlog.make_filtering_bound_logger(logging.DEBUG)
    assert structlog.get_config()["wrapper_class"] is debug


def test_every_command_takes_the_log_level() -> None:
    for name, command in main.commands.items():
        assert "--log-level" in {o for p in command.params for o in p.opts}, name
        for sub, subcommand in getattr(command, "commands", {}).items():
            assert "--log-level" in {o for p in subcommand.params for o in p.opts}, sub


def test_the_nodes_of_a_local_cluster_get_the_log_level() -> None:
    command = node_command(2, "1=h:1,2=h:2", Path("d"), "--cluster-id", "c", log_level="debug")
    assert command[command.index("node") + 1 :][-4:] == [
        "--log-level",
        "debug",
        "--cluster-id",
        "c",
    ]
    assert "--log-level" not in node_command(2, "2=h:2", Path("d"))


@pytest.mark.parametrize(("command", "option"), options(), ids=lambda v: getattr(v, "name", v))
def test_every_option_says_what_it_is_its_default_and_its_unit(
    command: str, option: click.Option
) -> None:
    if option.name in ("help", "version"):
        return
    help_text = option.help or ""
    assert len(help_text) > 15, f"{command} {option.opts}: no help"
    if not (option.required or option.is_flag):
        shows = option.show_default not in (None, False)
        assert shows or "[default:" in help_text or "[required:" in help_text, (
            f"{command} {option.opts} does not say its default"
        )
    for flag, unit in UNITS.items():
        if flag in option.opts:
            assert unit.lower() in help_text.lower(), f"{command} {flag}: no unit"
