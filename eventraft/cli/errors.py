"""How a command fails, for a person: one line naming the problem, never a traceback.

Long names are cut short and durations rounded, because an error line is read on a terminal;
Ctrl-C ends any command quietly with exit code 130, as shells expect of an interrupted program.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Sequence
from typing import Any, NoReturn

import click

NAME_CHARS = 48
"""A name longer than this (a 2,000-character stream name) is cut in error lines."""
INTERRUPTED = 130
"""128 + SIGINT: the exit code shells give a program stopped by Ctrl-C."""

_DURATION = re.compile(r"(?<![\w.])(\d+\.\d+)(?= ?m?s\b)")


class BadInput(click.ClickException):
    """Input the command cannot take, said in one line (click's usage errors add the usage
    lines); exit code 2, as for other usage errors."""

    exit_code = 2


def clip(name: str, limit: int = NAME_CHARS) -> str:
    """``name`` short enough for one line, saying how long it really is."""
    if len(name) <= limit:
        return name
    return f"{name[:limit]}…({len(name)} characters)"


def duration(seconds: float) -> str:
    """Seconds to a millisecond at most: ``0.33333333`` reads ``0.333``, ``10.0`` reads ``10``."""
    return f"{round(seconds, 3):g}"


def message(error: BaseException | str, names: Sequence[str] = ()) -> str:
    """``error``'s text with each long name in ``names`` clipped and every duration rounded."""
    text = str(error)
    for name in names:
        if len(name) > NAME_CHARS:
            for form in (name, repr(name)[1:-1]):
                text = text.replace(form, clip(name))
    return _DURATION.sub(lambda match: duration(float(match[1])), text)


def fail(error: BaseException | str, names: Sequence[str] = ()) -> NoReturn:
    """Stop the command with ``error`` as one line (exit code 1)."""
    cause = error if isinstance(error, BaseException) else None
    raise click.ClickException(message(error, names)) from cause


def os_error_message(error: OSError, address: str | None = None) -> str:
    """An ``OSError`` in words: which address is taken, which file could not be opened."""
    reason = error.strerror or str(error)
    if error.errno == errno.EADDRINUSE and address is not None:
        return f"cannot listen on {address}: the address is in use (by another node or program)"
    if error.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL) and address is not None:
        return f"cannot listen on {address}: {reason}"
    if error.filename is not None:
        return f"{error.filename}: {reason}"
    return reason


def check_utf8(args: Sequence[str]) -> None:
    """Arguments the shell gave as bytes that are not UTF-8 (Python keeps them as lone
    surrogates) would fail deep inside a command; refuse them first, saying which one."""
    for number, arg in enumerate(args, start=1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError as error:
            raw = arg.encode("utf-8", "surrogateescape")[:NAME_CHARS]
            raise BadInput(
                f"argument {number} is not UTF-8 (byte {error.start + 1} of {raw!r})"
            ) from None


class Group(click.Group):
    """The ``eventraft`` group: checks every argument is text, and turns what reaches it
    unhandled from a person's mistake or a Ctrl-C into one line or a quiet exit."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        check_utf8(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            ctx.exit(INTERRUPTED)
        except UnicodeError as error:
            fail(f"input that is not UTF-8: {error}")
        except OSError as error:
            if error.errno == errno.EPIPE:
                raise  # click makes a closed pipe quiet
            fail(os_error_message(error))
