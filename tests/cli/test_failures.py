"""A command that cannot do its job says why in one line and exits non-zero: a port in use, a
data dir that is a file, input that is not UTF-8. Long names are cut short, durations
rounded."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from eventraft.cli.errors import clip, message
from eventraft.localcluster import free_ports
from tests.cli.commandline import eventraft, free_base_port, one_line_error


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port some other program listens on."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "not-a-dir"
    path.write_text("")
    return path


def test_a_node_on_a_port_in_use_says_so_in_one_line(taken_port: int, tmp_path: Path) -> None:
    result = eventraft(
        "node", "--id", "1", "--cluster", f"1=127.0.0.1:{taken_port}",
        "--data-dir", str(tmp_path / "data"), "--insecure",
    )  # fmt: skip
    assert one_line_error(result) == (
        f"Error: cannot listen on 127.0.0.1:{taken_port}: the address is in use "
        "(by another node or program)"
    )


def test_a_cluster_on_a_port_in_use_says_so_before_starting_any_node(tmp_path: Path) -> None:
    base = free_base_port(3)
    with socket.create_server(("127.0.0.1", base + 1)):
        result = eventraft(
            "cluster", "--data-dir", str(tmp_path / "data"), "--base-port", str(base)
        )
    assert one_line_error(result) == (
        f"Error: node 2 cannot start: 127.0.0.1:{base + 1} is in use (by another node or "
        "program); choose another --base-port"
    )
    assert result.returncode == 1
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("command", ["node", "cluster"])
def test_a_data_dir_that_is_a_file_says_so_in_one_line(command: str, a_file: Path) -> None:
    [port] = free_ports(1)
    args = {
        "node": ["--id", "1", "--cluster", f"1=127.0.0.1:{port}", "--insecure"],
        "cluster": ["--nodes", "1", "--base-port", str(port)],
    }[command]
    result = eventraft(command, *args, "--data-dir", str(a_file))
    line = one_line_error(result)
    assert str(a_file) in line and "not a directory" in line, line


@pytest.mark.parametrize(
    "args",
    [
        ["node", "--id", "1", "--cluster", b"1=\xff:7001", "--data-dir", "d", "--insecure"],
        ["cluster", "--data-dir", b"data-\xff"],
        ["append", "--cluster", "127.0.0.1:1", b"order-\xff", "--data", "1"],
        ["append", "--cluster", "127.0.0.1:1", "order-1", "--data", b'"\xfe"'],
        ["read", "--cluster", "127.0.0.1:1", "--stream", b"\xff"],
        ["status", "--cluster", b"\xff:1"],
    ],
    ids=["node", "cluster", "append-stream", "append-data", "read", "status"],
)
def test_arguments_that_are_not_utf8_are_refused_in_one_line(
    args: list[str | bytes], tmp_path: Path
) -> None:
    result = eventraft(*args)
    line = one_line_error(result)
    position = next(i for i, arg in enumerate(args, 1) if isinstance(arg, bytes))
    assert line.startswith(f"Error: argument {position} is not UTF-8"), line
    assert result.returncode == 2


def test_standard_input_that_is_not_utf8_is_refused_in_one_line() -> None:
    result = eventraft("append", "--cluster", "127.0.0.1:1", "order-1", stdin=b'{"a": 1}\n\xff\n')
    assert one_line_error(result) == (
        "Error: line 2 of standard input is not UTF-8 (byte 1 is 0xff); "
        "give --raw to append it as it is"
    )


def test_a_long_stream_name_is_not_echoed_whole() -> None:
    name = "x" * 2000
    result = eventraft("append", "--cluster", "127.0.0.1:1", name, "--data", "{}")
    line = one_line_error(result)
    assert name not in line and len(line) < 200, line
    assert f"'{'x' * 48}…(2000 characters)' is 2000 bytes; 1 to 1024 allowed" in line


def test_names_in_error_messages_are_clipped() -> None:
    name = "order-" + "9" * 994
    error = f"stream {name!r} is at version 2, expected 0"
    assert message(error, names=[name]) == f"stream {clip(name)!r} is at version 2, expected 0"
    assert message("stream 'short' is at version 2", names=["short"]).endswith(
        "'short' is at version 2"
    )


def test_durations_print_rounded() -> None:
    [port] = free_ports(1)
    status = eventraft("status", "--cluster", f"127.0.0.1:{port}", "--timeout", "0.33333333")
    append = eventraft("append", "--cluster", f"127.0.0.1:{port}", "s", "--data", "1",
                       "--timeout", "0.33333333")  # fmt: skip
    for output in (status.stdout + status.stderr, one_line_error(append)):
        assert "within 0.333s" in output and "0.33333333" not in output, output
    assert message("done in 12.3456789 s, 0.1000000001s and 2.0 ms") == (
        "done in 12.346 s, 0.1s and 2 ms"
    )
