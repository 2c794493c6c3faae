"""The codec alone: golden bytes per format, round trips, and typed decoding errors."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import attrs
import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregates import (
    Codec,
    DecodeError,
    DomainEvent,
    EncodeError,
    EventMeta,
    Format,
    MalformedEvent,
    PendingEvent,
    Registry,
    UnknownEventType,
    UnsupportedSchemaVersion,
)
from eventlog import NewEvent, RecordedEvent
from eventlog.types import Position
from examples.bank import AccountOpened, MoneyDeposited

META = EventMeta(
    event_id="e-1",
    occurred_at=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
    correlation_id="c-1",
    causation_id="k-1",
)
GOLDEN = {
    Format.MSGPACK: (
        "82a56f776e6572a3616e6ea863757272656e6379a3455552",
        "85a6736368656d6102a86576656e745f6964a3652d31ab6f636375727265645f6174b9323032342d30"
        "312d30325430333a30343a30352b30303a3030ae636f7272656c6174696f6e5f6964a3632d31ac6361"
        "75736174696f6e5f6964a36b2d31",
    ),
    Format.JSON: (
        b'{"owner":"ann","currency":"EUR"}'.hex(),
        b'{"schema":2,"event_id":"e-1","occurred_at":"2024-01-02T03:04:05+00:00",'
        b'"correlation_id":"c-1","causation_id":"k-1"}'.hex(),
    ),
}


def recorded(new: NewEvent, *, stream: str = "Account-x", position: int = 7) -> RecordedEvent:
    return RecordedEvent(
        position=Position(position),
        stream=stream,
        version=1,
        type=new.type,
        data=new.data,
        metadata=new.metadata,
        id=bytes(16),
        timestamp=1_700_000_000_000,
    )


@pytest.mark.parametrize("format", list(Format))
def test_encoding_is_pinned_by_golden_bytes(format: Format) -> None:
    new = Codec(format=format).encode(PendingEvent(AccountOpened("ann", "EUR"), META))
    assert (new.type, new.data.hex(), new.metadata.hex()) == ("AccountOpened", *GOLDEN[format])


@pytest.mark.parametrize("format", list(Format))
def test_golden_bytes_decode_with_either_codec(format: Format) -> None:
    data, metadata = (bytes.fromhex(h) for h in GOLDEN[format])
    record = recorded(NewEvent("AccountOpened", data, metadata))
    for codec in (Codec(format=Format.MSGPACK), Codec(format=Format.JSON)):
        envelope = codec.decode(record)
        assert envelope.event == AccountOpened("ann", "EUR")
        assert envelope.meta == META
        assert (envelope.stream, envelope.version, envelope.position) == ("Account-x", 1, 7)
        assert envelope.schema_version == 2
        assert envelope.recorded_at == datetime.fromtimestamp(1_700_000_000, UTC)


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@attrs.frozen
class Line:
    sku: str
    quantity: int


@attrs.frozen
class Rich(DomainEvent):
    count: int
    ratio: float
    name: str
    flag: bool
    blob: bytes
    at: datetime
    day: date
    ref: uuid.UUID
    price: Decimal
    colour: Colour
    lines: tuple[Line, ...]
    tags: frozenset[str]
    scores: dict[str, int]
    note: str | None = None


RICH = Registry()
RICH.event("Rich")(Rich)

rich_events = st.builds(
    Rich,
    count=st.integers(-(2**63), 2**64 - 1),
    ratio=st.floats(allow_nan=False, allow_infinity=False),
    name=st.text(),
    flag=st.booleans(),
    blob=st.binary(),
    at=st.datetimes(timezones=st.just(UTC)),
    day=st.dates(),
    ref=st.uuids(),
    price=st.decimals(allow_nan=False, allow_infinity=False),
    colour=st.sampled_from(Colour),
    lines=st.lists(st.builds(Line, st.text(), st.integers(0, 1000))).map(tuple),
    tags=st.frozensets(st.text()),
    scores=st.dictionaries(st.text(), st.integers(-5, 5)),
    note=st.none() | st.text(),
)


@settings(max_examples=100, deadline=None)
@given(event=rich_events, format=st.sampled_from(Format))
def test_every_supported_value_round_trips_in_both_formats(event: Rich, format: Format) -> None:
    codec = Codec(RICH, format)
    assert codec.decode(recorded(codec.encode(PendingEvent(event, META)))).event == event


def test_an_unregistered_event_cannot_be_encoded() -> None:
    with pytest.raises(EncodeError, match="MoneyDeposited: the event class is not registered"):
        Codec(RICH).encode(PendingEvent(MoneyDeposited(5), META))


def test_a_value_the_format_cannot_hold_is_an_encode_error() -> None:
    with pytest.raises(EncodeError) as failed:
        Codec(format=Format.MSGPACK).encode(PendingEvent(MoneyDeposited(2**70), META))
    assert failed.value.type_name == "MoneyDeposited"


def meta_bytes(schema: int, format: Format = Format.MSGPACK) -> bytes:
    new = Codec(format=format).encode(PendingEvent(MoneyDeposited(1), META))
    raw = msgpack.unpackb(new.metadata) if format is Format.MSGPACK else None
    if raw is None:
        return new.metadata.replace(b'"schema":1', f'"schema":{schema}'.encode())
    packed: bytes = msgpack.packb({**raw, "schema": schema})
    return packed


def amount(value: object) -> bytes:
    packed: bytes = msgpack.packb({"amount": value})
    return packed


@pytest.mark.parametrize(
    ("new", "error", "reason"),
    [
        (NewEvent("Nope", amount(1), meta_bytes(1)), UnknownEventType, "no class registered"),
        (NewEvent("MoneyDeposited", amount(1), meta_bytes(2)), UnsupportedSchemaVersion, "2"),
        (NewEvent("MoneyDeposited", amount(1), meta_bytes(0)), UnsupportedSchemaVersion, "0"),
        (NewEvent("MoneyDeposited", amount("5"), meta_bytes(1)), MalformedEvent, "$.amount"),
        (NewEvent("MoneyDeposited", amount(None), meta_bytes(1)), MalformedEvent, "int"),
        (NewEvent("MoneyDeposited", b"\xc1", meta_bytes(1)), MalformedEvent, "msgpack"),
        (NewEvent("MoneyDeposited", b"[1]", meta_bytes(1, Format.JSON)), MalformedEvent, "list"),
        (NewEvent("MoneyDeposited", b"{}", meta_bytes(1, Format.JSON)), MalformedEvent, "missing"),
        (NewEvent("MoneyDeposited", amount(1), b""), MalformedEvent, "neither"),
        (NewEvent("MoneyDeposited", amount(1), b"\x80"), MalformedEvent, "schema"),
        (NewEvent("MoneyDeposited", amount(1), b"{not json"), MalformedEvent, "json"),
    ],
)
def test_decoding_errors_are_typed_and_name_type_stream_and_position(
    new: NewEvent, error: type[DecodeError], reason: str
) -> None:
    codec = Codec()
    for decode in (codec.decode, codec.decode_event):
        with pytest.raises(error) as failed:
            decode(recorded(new, stream="Account-42", position=99))
        assert (failed.value.type_name, failed.value.stream, failed.value.position) == (
            new.type,
            "Account-42",
            99,
        )
        assert reason in failed.value.reason
        assert "'Account-42' at position 99" in str(failed.value)


def test_an_upcaster_that_fails_on_stored_data_is_a_malformed_event() -> None:
    registry = Registry()

    @attrs.frozen
    class Renamed(DomainEvent):
        total: int

    registry.event("Renamed", version=2)(Renamed)
    registry.upcaster("Renamed", 1)(lambda payload: {"total": payload["sum"]})
    old = NewEvent("Renamed", amount(1), meta_bytes(1))
    with pytest.raises(MalformedEvent, match="KeyError"):
        Codec(registry).decode(recorded(old))
