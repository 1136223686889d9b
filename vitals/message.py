"""The reading message: dataclasses, JSON encoding, schema validation, reading ids.

The JSON Schema (``vitals/schema/reading.schema.json``) is checked when the gateway
publishes and when the dashboard ingests. Numbers travel as JSON numbers written from
``Decimal`` and are parsed back into ``Decimal``, so a weight of ``90.90`` keeps its two
decimal places end to end.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema

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


def new_reading_id() -> uuid.UUID:
    """Id of a measurement that the device did not time-stamp: made once, then stored."""
    return uuid.uuid4()


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


@cache
def _validator():
    schema = json.loads(
        resources.files("vitals").joinpath("schema/reading.schema.json").read_text("utf-8")
    )
    return fastjsonschema.compile(schema)


def reading_schema() -> dict[str, Any]:
    return json.loads(
        resources.files("vitals").joinpath("schema/reading.schema.json").read_text("utf-8")
    )


def validate_document(document: dict[str, Any]) -> None:
    """Check a decoded message against the JSON Schema and the rules a schema cannot say."""
    try:
        _validator()(document)
    except fastjsonschema.JsonSchemaException as exc:
        raise MessageError(f"schema: {exc.message}") from None
    unknown = set(document["flags"]) - FLAGS
    if unknown:
        raise MessageError(f"flags: unknown flag(s) {sorted(unknown)}")
    for index, obs in enumerate(document["observations"]):
        where = f"observations[{index}]"
        kind = KINDS[obs["kind"]]
        if obs["unit"] not in kind.units:
            raise MessageError(f"{where}.unit: {obs['unit']!r} is not a unit of {kind.name}")
        if obs["mdc"] not in kind.mdc_codes:
            raise MessageError(f"{where}.mdc: {obs['mdc']} is not an MDC code of {kind.name}")
        if obs["loinc"] != kind.loinc:
            raise MessageError(f"{where}.loinc: {kind.name} is LOINC {kind.loinc}")
        if obs["value"] is None and "absent_reason" not in obs:
            raise MessageError(f"{where}: a null value needs an absent_reason")
        if obs["value"] is not None and "absent_reason" in obs:
            raise MessageError(f"{where}: a value and an absent_reason together")
    for name in ("measured_at", "received_at"):
        try:
            parse_time(document[name])
        except ValueError:
            raise MessageError(f"{name}: {document[name]!r} is not a valid date-time") from None


def to_document(reading: Reading) -> dict[str, Any]:
    device: dict[str, Any] = {
        "id": reading.device.id,
        "kind": reading.device.kind,
        "model": reading.device.model,
        "serial": reading.device.serial,
        "transport": reading.device.transport,
        "protocol": reading.device.protocol,
    }
    if reading.device.clock_offset_s is not None:
        device["clock_offset_s"] = Decimal(str(round(reading.device.clock_offset_s, 3)))
    observations = []
    for obs in reading.observations:
        item: dict[str, Any] = {
            "kind": obs.kind,
            "value": obs.value,
            "unit": obs.unit,
            "mdc": obs.mdc,
            "loinc": obs.loinc,
        }
        if obs.absent_reason is not None:
            item["absent_reason"] = obs.absent_reason
        observations.append(item)
    return {
        "schema": SCHEMA_VERSION,
        "id": str(reading.id),
        "device": device,
        "site": reading.site,
        "room": reading.room,
        "measured_at": format_time(reading.measured_at),
        "measured_at_source": reading.measured_at_source,
        "received_at": format_time(reading.received_at),
        "observations": observations,
        "flags": sorted(reading.flags),
        "raw": reading.raw,
    }


def encode_reading(reading: Reading) -> bytes:
    """Validate and serialise; raises ``MessageError`` rather than publish a bad message."""
    check_segment("site", reading.site)
    check_segment("room", reading.room)
    document = to_document(reading)
    try:
        text = decimal_json.dumps(document)
    except decimal_json.NumberError as exc:
        raise MessageError(str(exc)) from None
    payload = text.encode("utf-8")
    validate_document(json.loads(payload, parse_float=Decimal))
    return payload


def decode_reading(payload: bytes) -> Reading:
    """Parse and validate a reading message; every failure is a ``MessageError``."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise MessageError(f"payload is {len(payload)} bytes, over {MAX_PAYLOAD_BYTES}")
    try:
        document = json.loads(payload, parse_float=Decimal, parse_constant=_reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MessageError(f"not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise MessageError("not a JSON object")
    validate_document(document)
    return from_document(document)


def _reject_constant(name: str) -> None:
    raise MessageError(f"{name} is not valid JSON")


def from_document(document: dict[str, Any]) -> Reading:
    dev = document["device"]
    return Reading(
        id=uuid.UUID(document["id"]),
        device=DeviceInfo(
            id=dev["id"],
            kind=dev["kind"],
            model=dev["model"],
            serial=dev["serial"],
            transport=dev["transport"],
            protocol=dev["protocol"],
            clock_offset_s=(
                float(dev["clock_offset_s"]) if dev.get("clock_offset_s") is not None else None
            ),
        ),
        site=document["site"],
        room=document["room"],
        measured_at=parse_time(document["measured_at"]),
        received_at=parse_time(document["received_at"]),
        observations=tuple(
            Observation(
                kind=o["kind"],
                value=None if o["value"] is None else Decimal(o["value"]),
                unit=o["unit"],
                mdc=o["mdc"],
                loinc=o["loinc"],
                absent_reason=o.get("absent_reason"),
            )
            for o in document["observations"]
        ),
        flags=frozenset(document["flags"]),
        raw=document["raw"],
        measured_at_source=document["measured_at_source"],
    )


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
