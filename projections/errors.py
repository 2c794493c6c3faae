"""One root for every error of the projection layer, split by who is at fault: the
projection's code, an event it cannot handle, the target, or a worker that lost its lease."""

from __future__ import annotations

from pathlib import Path


class ProjectionError(Exception):
    """Root of every error raised by :mod:`projections`."""


class ProjectionDefinitionError(ProjectionError):
    """A projection class is defined inconsistently (no name, two handlers for one type, a
    handler for an event type nobody registered, ...). Raised when the class is defined or
    bound, before any event is read."""


class PoisonEvent(ProjectionError):
    """An event the projection cannot apply: it does not decode, or a handler raised.

    Under the ``stop`` policy the worker stops with this error; under ``park`` the event is
    written to the target's dead-letter table instead. Either way it is never skipped
    silently."""

    def __init__(
        self, projection: str, position: int, stream: str, type_name: str, reason: str
    ) -> None:
        self.projection, self.position, self.stream = projection, position, stream
        self.type_name, self.reason = type_name, reason
        super().__init__(
            f"projection {projection!r} cannot apply event {type_name!r} of stream {stream!r} "
            f"at position {position}: {reason}"
        )


class TargetError(ProjectionError):
    """The read-model target cannot be used as asked (not this projection's, a layout that
    cannot be switched, a handler that ended the transaction, a full map, ...)."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path, self.reason = Path(path), reason
        super().__init__(f"target {str(path)!r}: {reason}")


class Fenced(ProjectionError):
    """The target holds a fencing token higher than this writer's: another worker has taken
    the projection over since this one was granted its lease, so this one must not write."""

    def __init__(self, projection: str, token: int, stored_token: int) -> None:
        self.projection, self.token, self.stored_token = projection, token, stored_token
        super().__init__(
            f"projection {projection!r}: token {token} is fenced off by stored token {stored_token}"
        )


class CheckpointMoved(ProjectionError):
    """The target's checkpoint is not where this writer expected it: the batch does not
    follow the stored checkpoint, so it is not applied. The writer resumes from the target."""

    def __init__(self, projection: str, expected: int, stored: int) -> None:
        self.projection, self.expected, self.stored = projection, expected, stored
        super().__init__(
            f"projection {projection!r}: expected checkpoint {expected}, the target holds {stored}"
        )


class LeaseLost(ProjectionError):
    """This worker no longer holds the projection's lease (refused, or not renewed in time);
    it stops writing and goes back to standby."""

    def __init__(self, projection: str, reason: str) -> None:
        self.projection, self.reason = projection, reason
        super().__init__(f"projection {projection!r} lost its lease: {reason}")


class FeedEnded(ProjectionError):
    """The source closed the subscription (an embedded store was closed): nothing more will
    come."""


class Interrupted(ProjectionError):
    """A rebuild was stopped by a signal before it switched the target; nothing switched."""
