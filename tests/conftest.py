"""Shared by every test: structlog's configuration is global, and commands run in-process
(through click's CliRunner) configure it, so each test gets back the configuration it found.

Ctrl-C as a user's terminal gives it: pytest-xdist's workers start with SIGINT ignored, and a
child process inherits an ignored signal, so a test that sends SIGINT to a command it started
would find it ignored, or not, by whichever test ran before in the same worker (one that had
asyncio remove its own SIGINT handler put Python's default back)."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    saved = structlog.get_config()
    was_configured = structlog.is_configured()
    yield
    if was_configured:
        structlog.configure(**saved)
    else:
        structlog.reset_defaults()


@pytest.fixture(autouse=True, scope="session")
def _interruptible() -> None:
    signal.signal(signal.SIGINT, signal.default_int_handler)
