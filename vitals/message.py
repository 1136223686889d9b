"""The reading message: dataclasses, JSON encoding, contract validation, reading ids.

The contract is the JSON Schema ``vitals/schema/reading.schema.json`` plus the rules a
schema cannot say (flag vocabulary, the units and codes of each kind, valid timestamps).
It is checked when the gateway publishes and when the dashboard ingests, both CPU-bound on
it, so the check is a typed ``msgspec`` decoder whose structs mirror the schema exactly
(tests/test_message_codec.py cross-checks it against the schema itself). Numbers travel as
JSON numbers written from ``Decimal`` and are parsed back into ``Decimal``, so a weight of
``90.90`` keeps its two decimal places end to end.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from vitals import decimal_json
from vitals.flags import FLAGS
from vitals.kinds import KINDS
from vitals.topics import check_segment

SCHEMA_VERSION = 1
MAX_PAYLOAD_BYTES = 64 * 1024

# Namespace of deterministic reading ids (UUIDv5). Fixed forever: changing it would make a
# re-sync of stored device records file them a second time.
READING_NAMESPACE = uuid.UUID("6f1d3c52-8f0e-5c1b-9a55-2d0f3e7c9b41")


class MessageError(ValueError):
    """A message that is not valid JSON or breaks the contract; the text says where."""


@dataclass(frozen=True)
class Observation:
    kind: str
    value: Decimal | None
    unit: str
    mdc: int
    loinc: str
    absent_reason: str | None = None


@dataclass(frozen=True)
class DeviceInfo:
    id: str
    kind: str
    model: str = ""
    serial: str = ""
    transport: str = "serial"
    protocol: str = ""
    clock_offset_s: float | None = None


@dataclass(frozen=True)
class Reading:
    id: uuid.UUID
    device: DeviceInfo
    site: str
    room: str
    measured_at: datetime
    received_at: datetime
    observations: tuple[Observation, ...]
    flags: frozenset[str] = frozenset()
    raw: str = ""
    measured_at_source: str = "gateway"
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def observation(self, kind: str) -> Observation | None:
        return next((o for o in self.observations if o.kind == kind), None)


_ID_POOL_BYTES = 16 * 256
_id_pool = threading.local()


def new_reading_id() -> uuid.UUID:
    """Id of a measurement that the device did not time-stamp: made once, then stored.

    A random (version 4) UUID whose bytes come from ``os.urandom`` 256 ids at a time, kept per
    thread (no lock). ``uuid.uuid4()`` calls ``os.urandom`` for each id, and CPython lets go
    of the interpreter lock around that system call: in the gateway's readings thread, the
    one every reading passes through, each id then waited for the lock behind the links'
    threads (bench/gateway_throughput.py). A pool filled in another process (before a fork)
    is never used: ids must not repeat.
    """
    pool = _id_pool.__dict__
    pid = os.getpid()
    if pool.get("pid") != pid or pool["offset"] >= _ID_POOL_BYTES:
        pool["pid"], pool["bytes"], pool["offset"] = pid, os.urandom(_ID_POOL_BYTES), 0
    offset = pool["offset"]
    pool["offset"] = offset + 16
    return uuid.UUID(bytes=pool["bytes"][offset:offset + 16], version=4)


def record_reading_id(
    device_identity: str, device_timestamp: datetime, values: tuple[tuple[str, str], ...]
) -> uuid.UUID:
    """Deterministic id of a device-time-stamped record, so a re-sync yields the same id."""
    name = "|".join(
        [device_identity, device_timestamp.isoformat()]
        + [f"{kind}={value}" for kind, value in sorted(values)]
    )
    return uuid.uuid5(READING_NAMESPACE, name)


def format_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise MessageError("timestamps in messages must carry a UTC offset")
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def reading_schema() -> dict[str, Any]:
    """The published contract (a fresh copy each call, so a caller may change it)."""
    return json.loads(
        resources.files("vitals").joinpath("schema/reading.schema.json").read_text("utf-8")
    )


# The schema's patterns with "$" written "\Z": Python's "$" also matches before a final
# newline, JSON Schema's does not. fastjsonschema does the same. Each pattern costs a regex
# run per message, so two are left to rules that imply them (tests/test_message_codec.py
# checks the implications): a LOINC must equal its kind's, a flag must be in the vocabulary.
_Segment = Annotated[
    str, Meta(min_length=1, max_length=128, pattern=r"^[^/+#\u0024\u0000][^/+#\u0000]*\Z")
]
_Timestamp = Annotated[
    str, Meta(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})\Z")
]
_Uuid = Annotated[
    str, Meta(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
]
# Schema: ^([0-9a-f]{2})*$. The repeated group is slow (about 30 µs per kB); an even length
# is checked in _check instead.
_Raw = Annotated[str, Meta(max_length=8192, pattern=r"^[0-9a-f]*\Z")]
_DeviceKind = Literal[
    "scale", "bp_monitor", "thermometer", "pulse_oximeter", "heart_rate_monitor", "stadiometer"
]
_Transport = Literal["serial", "ble", "manual", "plugin"]
_ObservationKind = Literal[
    "systolic",
    "diastolic",
    "mean_arterial_pressure",
    "pulse_rate",
    "spo2",
    "temperature",
    "weight",
    "height",
    "bmi",
    "resp_rate",
]
_AbsentReason = Literal[
    "not-a-number", "error", "positive-infinity", "negative-infinity", "unknown"
]


# The wire form, one struct per schema object. ``value`` and ``clock_offset_s`` are ``Any``
# because msgspec's ``Decimal`` type would also take a JSON string, which the schema
# forbids: the decoder's ``float_hook`` makes every JSON fraction an exact ``Decimal`` and
# ``_check`` then admits only int, Decimal and null there. gc=False: these hold no cycles.
class _WireDevice(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    id: _Segment
    kind: _DeviceKind
    model: Annotated[str, Meta(max_length=200)]
    serial: Annotated[str, Meta(max_length=200)]
    transport: _Transport
    protocol: Annotated[str, Meta(max_length=100)]
    clock_offset_s: Any = None


class _WireObservation(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    kind: _ObservationKind
    value: Any
    unit: Annotated[str, Meta(min_length=1, max_length=20)]
    mdc: Annotated[int, Meta(ge=0)]
    loinc: str  # pattern implied by the kind's LOINC
    # Absent is None, but a JSON null is refused: the schema has no null absent_reason.
    absent_reason: _AbsentReason = None  # type: ignore[assignment]


class _WireReading(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    schema: Literal[1]
    id: _Uuid
    device: _WireDevice
    site: _Segment
    room: _Segment
    measured_at: _Timestamp
    measured_at_source: Literal["device", "gateway"]
    received_at: _Timestamp
    observations: Annotated[list[_WireObservation], Meta(min_length=1, max_length=32)]
    flags: list[str]  # pattern implied by the vocabulary
    raw: _Raw


# Shared by every thread: msgspec's Encoder and Decoder are thread-safe since 0.16.
_DECODER = msgspec.json.Decoder(_WireReading, float_hook=Decimal)
_ENCODER = msgspec.json.Encoder(decimal_format="number")


def _schema_error(exc: msgspec.ValidationError) -> MessageError:
    """msgspec's "Expected `str` - at `$.room`" as "schema: room: expected `str`"."""
    text, at, where = str(exc).rpartition(" - at `")
    if not at:
        text, where = str(exc), "$`"
    if not where.startswith("$"):  # e.g. a non-string key of a dict given to validate_document
        return MessageError(f"schema: {exc}")
    path = where[1:-1].removeprefix(".")
    for lead, say in (
        ("Object missing required field `", "required field is missing"),
        ("Object contains unknown field `", "unknown field: a message must not contain it"),
    ):
        if text.startswith(lead):
            name = text[len(lead) : -1]
            return MessageError(
                f"schema: {path}.{name}: {say}" if path else f"schema: {name}: {say}"
            )
    text = text[0].lower() + text[1:]
    if not path and text.startswith("expected `object`"):
        return MessageError(f"not a JSON object ({text})")
    return MessageError(f"schema: {path}: {text}" if path else f"schema: {text}")


def _decode_wire(payload: bytes) -> _WireReading:
    try:
        return _DECODER.decode(payload)
    except msgspec.ValidationError as exc:
        raise _schema_error(exc) from None
    except msgspec.DecodeError as exc:
        raise MessageError(f"not JSON: {exc}") from None


def _convert_wire(document: dict[str, Any]) -> _WireReading:
    try:
        return msgspec.convert(document, _WireReading)
    except msgspec.ValidationError as exc:
        raise _schema_error(exc) from None


def _is_number_or_null(value: Any) -> bool:
    """A JSON number as decoded here (int or finite Decimal; bool and float are not) or null."""
    kind = type(value)
    return value is None or kind is int or (kind is Decimal and value.is_finite())


# (units, MDC codes, LOINC) of each kind, made once: Kind.mdc_codes builds a set per call.
_KIND_RULES = {kind.name: (kind.units, kind.mdc_codes, kind.loinc) for kind in KINDS.values()}


def _check(wire: _WireReading) -> tuple[datetime, datetime]:
    """What the structs cannot say; returns the parsed ``measured_at`` and ``received_at``."""
    if not _is_number_or_null(wire.device.clock_offset_s):
        raise MessageError(
            f"schema: device.clock_offset_s: {wire.device.clock_offset_s!r} is not a number or null"
        )
    if len(wire.raw) % 2:
        raise MessageError(f"schema: raw: {len(wire.raw)} hex digits, not whole bytes")
    if wire.flags:
        _check_flags(wire.flags)
    for index, obs in enumerate(wire.observations):
        _check_observation(index, obs)
    return (
        _parse_timestamp("measured_at", wire.measured_at),
        _parse_timestamp("received_at", wire.received_at),
    )


def _check_flags(flags: list[str]) -> None:
    if len(set(flags)) != len(flags):
        raise MessageError(f"schema: flags: {flags} repeats a flag")
    unknown = set(flags) - FLAGS
    if unknown:
        raise MessageError(f"flags: unknown flag(s) {sorted(unknown)}")


def _check_observation(index: int, obs: _WireObservation) -> None:
    if not _is_number_or_null(obs.value):
        raise MessageError(
            f"schema: observations[{index}].value: {obs.value!r} is not a number or null"
        )
    units, mdc_codes, loinc = _KIND_RULES[obs.kind]
    if obs.unit not in units:
        raise MessageError(f"observations[{index}].unit: {obs.unit!r} is not a unit of {obs.kind}")
    if obs.mdc not in mdc_codes:
        raise MessageError(f"observations[{index}].mdc: {obs.mdc} is not an MDC code of {obs.kind}")
    if obs.loinc != loinc:
        raise MessageError(f"observations[{index}].loinc: {obs.kind} is LOINC {loinc}")
    if obs.value is None and obs.absent_reason is None:
        raise MessageError(f"observations[{index}]: a null value needs an absent_reason")
    if obs.value is not None and obs.absent_reason is not None:
        raise MessageError(f"observations[{index}]: a value and an absent_reason together")


def _parse_timestamp(name: str, text: str) -> datetime:
    try:
        return parse_time(text)
    except ValueError:
        raise MessageError(f"{name}: {text!r} is not a valid date-time") from None


def validate_document(document: dict[str, Any]) -> None:
    """Check a decoded message (numbers int or Decimal) against the whole contract."""
    _check(_convert_wire(document))


def to_document(reading: Reading) -> dict[str, Any]:
    """The message as JSON values: numbers as ``Decimal``, times and the id as text."""
    return _document(reading, wire=False)


def _document(reading: Reading, *, wire: bool) -> dict[str, Any]:
    """``to_document``, or with ``wire`` what ``_ENCODER`` turns into the same JSON, faster.

    For the wire, UTC times and the id stay objects (msgspec writes them as ``format_time``
    and ``str`` do, in C) and numbers are checked and made plain (``_wire_number``).
    """
    dev = reading.device
    device: dict[str, Any] = {
        "id": dev.id,
        "kind": dev.kind,
        "model": dev.model,
        "serial": dev.serial,
        "transport": dev.transport,
        "protocol": dev.protocol,
    }
    if dev.clock_offset_s is not None:
        offset = Decimal(str(round(dev.clock_offset_s, 3)))
        device["clock_offset_s"] = _wire_number(offset, "device.clock_offset_s") if wire else offset
    observations = []
    for index, obs in enumerate(reading.observations):
        item: dict[str, Any] = {
            "kind": obs.kind,
            "value": _wire_number(obs.value, index) if wire else obs.value,
            "unit": obs.unit,
            "mdc": obs.mdc,
            "loinc": obs.loinc,
        }
        if obs.absent_reason is not None:
            item["absent_reason"] = obs.absent_reason
        observations.append(item)
    time = _wire_time if wire else format_time
    return {
        "schema": SCHEMA_VERSION,
        "id": reading.id if wire and type(reading.id) is uuid.UUID else str(reading.id),
        "device": device,
        "site": reading.site,
        "room": reading.room,
        "measured_at": time(reading.measured_at),
        "measured_at_source": reading.measured_at_source,
        "received_at": time(reading.received_at),
        "observations": observations,
        "flags": sorted(reading.flags),
        "raw": reading.raw,
    }


def _wire_time(moment: datetime) -> datetime | str:
    # msgspec writes a UTC datetime exactly as format_time does ("...T14:00:00Z", six
    # fraction digits when there are microseconds), but it would drop the seconds of an
    # odd offset that format_time keeps (and the schema then refuses): UTC only.
    if type(moment) is datetime and moment.tzinfo is UTC:
        return moment
    return format_time(moment)


def _wire_number(value: Any, where: int | str) -> Any:
    """A Decimal as its own digits in plain notation (as ``decimal_json`` writes it)."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise MessageError(
                f"{_number_at(where)}: non-finite numbers are sent as null with an absent reason"
            )
        # str() would write 1E+2 or 1E-7: valid JSON, but the wire has always been plain.
        if "E" in str(value):
            return msgspec.Raw(format(value, "f").encode())
        return value
    if isinstance(value, float):
        raise MessageError(
            f"{_number_at(where)}: numbers are Decimal, never float"
            " (the device's precision is kept)"
        )
    return value


def _number_at(where: int | str) -> str:
    return f"observations[{where}].value" if isinstance(where, int) else where


def encode_reading(reading: Reading) -> bytes:
    """Validate and serialise; raises ``MessageError`` rather than publish a bad message."""
    check_segment("site", reading.site)
    check_segment("room", reading.room)
    try:
        payload = _ENCODER.encode(_document(reading, wire=True))
    except (TypeError, UnicodeEncodeError, msgspec.EncodeError) as exc:
        raise MessageError(f"cannot encode: {exc}") from None
    # Decoding what is about to be published is the cheapest complete check (a few µs), and
    # it checks exactly what the ingest will check.
    _check(_decode_wire(payload))
    return payload


def decode_reading(payload: bytes) -> Reading:
    """Parse and validate a reading message; every failure is a ``MessageError``."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise MessageError(f"payload is {len(payload)} bytes, over {MAX_PAYLOAD_BYTES}")
    wire = _decode_wire(payload)
    measured_at, received_at = _check(wire)
    return _reading(wire, measured_at, received_at)


def from_document(document: dict[str, Any]) -> Reading:
    """A ``Reading`` of a decoded document; checks its shape, not the other rules."""
    wire = _convert_wire(document)
    return _reading(wire, parse_time(wire.measured_at), parse_time(wire.received_at))


def _reading(wire: _WireReading, measured_at: datetime, received_at: datetime) -> Reading:
    dev = wire.device
    return Reading(
        id=uuid.UUID(wire.id),
        device=DeviceInfo(
            id=dev.id,
            kind=dev.kind,
            model=dev.model,
            serial=dev.serial,
            transport=dev.transport,
            protocol=dev.protocol,
            clock_offset_s=None if dev.clock_offset_s is None else float(dev.clock_offset_s),
        ),
        site=wire.site,
        room=wire.room,
        measured_at=measured_at,
        received_at=received_at,
        observations=tuple(
            Observation(
                kind=o.kind,
                value=_exact(o.value),
                unit=o.unit,
                mdc=o.mdc,
                loinc=o.loinc,
                absent_reason=o.absent_reason,
            )
            for o in wire.observations
        ),
        flags=frozenset(wire.flags),
        raw=wire.raw,
        measured_at_source=wire.measured_at_source,
    )


def _exact(value: Any) -> Decimal | None:
    return value if value is None or type(value) is Decimal else Decimal(value)


@dataclass(frozen=True)
class LiveValues:
    """Streaming values for the live view only (QoS 0 on the ``live`` topic; never filed)."""

    device_id: str
    site: str
    room: str
    at: datetime
    observations: tuple[Observation, ...]
    flags: frozenset[str] = frozenset()


def encode_live(live: LiveValues) -> bytes:
    """``{"schema": 1, "device": id, "at": time, "values": [{kind, value, unit}], "flags": []}``."""
    unknown = set(live.flags) - FLAGS
    if unknown:
        raise MessageError(f"flags: unknown flag(s) {sorted(unknown)}")
    for obs in live.observations:
        if obs.unit not in KINDS[obs.kind].units:
            raise MessageError(f"live {obs.kind}: {obs.unit!r} is not a unit of {obs.kind}")
    document = {
        "schema": SCHEMA_VERSION,
        "device": check_segment("device id", live.device_id),
        "site": live.site,
        "room": live.room,
        "at": format_time(live.at),
        "values": [{"kind": o.kind, "value": o.value, "unit": o.unit} for o in live.observations],
        "flags": sorted(live.flags),
    }
    try:
        return decimal_json.dumps(document).encode("utf-8")
    except decimal_json.NumberError as exc:
        raise MessageError(str(exc)) from None


def utcnow() -> datetime:
    return datetime.now(UTC)
