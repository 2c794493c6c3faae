"""Where an ``eventsourcing`` application's records go in the log, and how they read back.

An application's events go to the stream ``<category>-<originator id>``, its snapshots to
``$snapshot-<category>-<originator id>`` (the aggregates layer's own layout, so ``eventraft
read`` shows both alike), and what downstream category ``C`` records of upstream application
``U`` to the tracking record ``C:U``. A category has no ``-`` and no ``:``, so one prefix
``<category>-`` selects one application's events and nothing of a category that merely
starts with the same letters, and a tracking name splits back at its first ``:``.
"""

from __future__ import annotations

import functools
import re
from uuid import UUID

import attrs

__all__ = [
    "CATEGORY",
    "MAX_CATEGORY_CHARS",
    "Naming",
    "check_category",
    "originator_id_of",
]

CATEGORY = re.compile(r"[\w.]+")
"""Letters, digits, ``_`` and ``.`` (``\\w`` is Unicode-aware): what application class names
are made of, and nothing that a stream prefix, a tracking name or a ``$`` system stream
gives meaning to."""
MAX_CATEGORY_CHARS = 128
"""Short enough that ``$snapshot-<category>-<uuid>`` stays far below the log's 1,024 bytes."""
SNAPSHOTS = "snapshots"
"""The purpose the library asks ``aggregate_recorder`` for its snapshot store with."""


def check_category(category: str) -> str | None:
    """Why ``category`` cannot name an application's streams, or None if it can."""
    if not category:
        return "it is empty"
    if len(category) > MAX_CATEGORY_CHARS:
        return f"it is longer than {MAX_CATEGORY_CHARS} characters"
    if not CATEGORY.fullmatch(category):
        return (
            "it may hold letters, digits, '_' and '.' only (no '-': stream names are "
            "'<category>-<id>'; no ':': tracking names are '<category>:<upstream>'; no '$')"
        )
    return None


@functools.lru_cache(maxsize=1 << 16)
def originator_id_of(text: str) -> UUID | str:
    """The originator id a stream name holds: a UUID when the text is one in its canonical
    form (as ``str(uuid)`` writes it), else the text itself, as the library's SQLite and
    PostgreSQL recorders give UUIDs back from their UUID columns. Remembered for the
    aggregates seen last: a page of notifications names the same few streams again and
    again, and a ``UUID`` is immutable, so one object serves them all."""
    if len(text) == 36:
        try:
            parsed = UUID(text)
        except ValueError:
            return text
        if str(parsed) == text:
            return parsed
    return text


@attrs.frozen
class Naming:
    """The streams and tracking records of one category (an application)."""

    category: str

    @property
    def prefix(self) -> str:
        """What every event stream of the category starts with (and no other's does)."""
        return f"{self.category}-"

    def stream(self, originator_id: UUID | str) -> str:
        return f"{self.category}-{originator_id}"

    def sparse_prefix(self, purpose: str) -> str:
        """The system streams of another ``aggregate_recorder`` purpose: snapshots (named as
        the aggregates layer names its own), or ``$<purpose>-<category>-`` for any other."""
        kind = "snapshot" if purpose == SNAPSHOTS else purpose
        return f"${kind}-{self.category}-"

    def originator_id(self, stream: str) -> UUID | str:
        """The originator id of one of the category's event streams."""
        return originator_id_of(stream[len(self.prefix) :])

    def tracking(self, application_name: str) -> str:
        """The tracking record of what this category processed of ``application_name``'s
        notifications: tracking names are global in the log, so each downstream category
        has its own."""
        return f"{self.category}:{application_name}"
