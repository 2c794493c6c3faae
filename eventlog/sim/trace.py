"""Human-readable, deterministic trace lines (no hashes, ids or addresses in them)."""

from __future__ import annotations

from typing import Any

import attrs

from eventlog.raft.messages import Message

__all__ = [
    "TraceLogger",
    "describe",
]


def describe(m: Message) -> str:
    parts = [f"{m.TAG} {m.src}->{m.dst} t{m.term}"]
    for field in attrs.fields(type(m)):
        if field.name in ("src", "dst", "term"):
            continue
        value = getattr(m, field.name)
        if field.name == "entries":
            value = f"[{value[0].index}..{value[-1].index}]" if value else "[]"
        parts.append(
            f"{field.name}={value!r}" if isinstance(value, bytes) else f"{field.name}={value}"
        )
    return " ".join(parts)


@attrs.define
class TraceLogger:
    """The core's logger inside the simulator: its events become trace lines."""

    lines: list[str]
    node: int
    clock: Any

    def _emit(self, event: str, fields: dict[str, Any]) -> None:
        rendered = " ".join(f"{key}={value}" for key, value in fields.items())
        self.lines.append(f"{self.clock():10.3f} n{self.node} {event} {rendered}".rstrip())

    def debug(self, event: str, **fields: Any) -> None:
        self._emit(event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._emit(event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._emit(event, fields)
