"""A worker's rate: events applied per second over the last reporting interval, and how far
behind the log it is, logged every ``every`` seconds."""

from __future__ import annotations

import time

import attrs
import structlog

from projections.feed import Batch


@attrs.define
class Meter:
    log: structlog.typing.FilteringBoundLogger
    every: float = 10.0
    total: int = 0
    """Events applied since the worker started (handled or passed over; not those its
    filter left out on the node)."""
    checkpoint: int = 0
    last_timestamp_ms: int = 0
    """The leader's clock when the last applied event was proposed."""
    _since: float = attrs.field(factory=time.monotonic)
    _counted: int = 0

    def record(self, batch: Batch) -> None:
        self.total += len(batch.events)
        self._counted += len(batch.events)
        self.checkpoint = batch.last
        if batch.events:
            self.last_timestamp_ms = batch.events[-1].timestamp

    def due(self) -> bool:
        return time.monotonic() - self._since >= self.every

    def rate(self) -> float:
        elapsed = time.monotonic() - self._since
        return self._counted / elapsed if elapsed > 0 else 0.0

    def report(self, head: int | None) -> None:
        """Log the rate and lag, and start a new interval. ``head`` is the log's last
        position, if known."""
        fields: dict[str, object] = {
            "checkpoint": self.checkpoint,
            "events_per_s": round(self.rate(), 1),
            "events_total": self.total,
        }
        if head is not None:
            behind = max(0, head - self.checkpoint)
            fields["lag_events"] = behind
            age = time.time() - self.last_timestamp_ms / 1000 if self.last_timestamp_ms else 0.0
            fields["lag_s"] = round(max(0.0, age), 3) if behind else 0.0
        self.log.info("projection_progress", **fields)
        self._since, self._counted = time.monotonic(), 0
