"""Wire helpers only tests need: many frames in one buffer, and a message class's tag."""

from __future__ import annotations

from collections.abc import Iterable

from eventlog.protocol.frames import encode_frame
from eventlog.raft import codec
from eventlog.raft.messages import Message


def encode_frames(bodies: Iterable[object]) -> bytes:
    """Many frames in one buffer, as a peer that batches its writes sends them."""
    return b"".join([encode_frame(body) for body in bodies])


def message_tag(cls: type[Message]) -> int:
    """The wire tag number of a message class."""
    return codec._BY_CLASS[cls].tag
