"""Filing reading messages into the database, each reading id exactly once.

The insert of a reading is an insert-or-ignore on its primary key (the message id), done
in the same transaction as its observations, so a re-delivered or re-published message
files nothing and two ingest workers racing on one message file it once.

A filed reading is never charted by itself: it becomes a *pending* reading of the encounter
it provably belongs to (``route``), or goes to the *unassigned* queue. Never a guess.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Table, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from dashboard.models import (
    Device,
    DeviceAssignment,
    Encounter,
    ReadingEvent,
    ReadingObservation,
    RejectedMessage,
    Room,
)
from dashboard.models import Reading as ReadingRow
from vitals import topics
from vitals.kinds import kind
from vitals.message import MessageError, Reading, decode_reading
from vitals.units import convert

log = logging.getLogger(__name__)

HISTORY_TOLERANCE = timedelta(minutes=10)
"""A device-timed reading older than this when the gateway received it is a stored record
(a memory download, a re-sync): it may be the previous patient's, so it is never routed."""


@dataclass(frozen=True)
class Outcome:
    status: str  # "filed" | "duplicate" | "rejected" | "status"
    reason: str = ""
    reading_id: str | None = None


@dataclass
class FilingCounters:
    filed: int = 0
    duplicates: int = 0
    rejected: int = 0
    statuses: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


def insert_ignore(
    session: Session, table: Table, values: dict[str, Any] | list[dict[str, Any]], keys: list[str]
) -> int:
    """INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL; returns rows inserted."""
    dialect = session.get_bind().dialect.name
    builder = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}.get(dialect)
    if builder is None:
        raise RuntimeError(f"database {dialect!r} is not supported (SQLite or PostgreSQL)")
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT ... ON CONFLICT DO NOTHING.
    statement = (
        builder(table)
        .values(values)
        .on_conflict_do_nothing(index_elements=keys)
        .returning(table.c[keys[0]])
    )
    return len(session.execute(statement).all())


class Filer:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.counters = FilingCounters()

    def file_message(self, topic: str, payload: bytes) -> Outcome:
        """File one MQTT message; never raises for bad input, only for database failures."""
        try:
            where = topics.parse_topic(topic)
        except topics.TopicError as exc:
            return self._reject(topic, payload, f"topic: {exc}")
        if where.type == topics.DEVICE_STATUS:
            return self._device_status(where, payload)
        if where.type != topics.READING:
            return Outcome("ignored")
        try:
            reading = decode_reading(payload)
        except MessageError as exc:
            return self._reject(topic, payload, str(exc))
        mismatch = [
            name
            for name, a, b in (
                ("site", where.site, reading.site),
                ("room", where.room, reading.room),
                ("device", where.device_id, reading.device.id),
            )
            if a != b
        ]
        if mismatch:
            return self._reject(
                topic, payload, f"topic and payload disagree on {', '.join(mismatch)}"
            )
        try:
            observations = [
                self._observation_row(reading, i) for i in range(len(reading.observations))
            ]
        except (ArithmeticError, ValueError) as exc:
            return self._reject(topic, payload, f"observations: {exc}")
        with Session(self.engine) as session, session.begin():
            room_id = self._room_id(session, reading.site, reading.room)
            device_pk = self._device_pk(session, reading, room_id)
            encounter_id = route(session, reading, device_pk, room_id)
            now = datetime.now(UTC)
            state = "unassigned" if encounter_id is None else "pending"
            inserted = insert_ignore(
                session,
                ReadingRow.__table__,
                {
                    "id": str(reading.id),
                    "device_pk": device_pk,
                    "room_id": room_id,
                    "measured_at": reading.measured_at,
                    "measured_at_source": reading.measured_at_source,
                    "received_at": reading.received_at,
                    "filed_at": now,
                    "flags": sorted(reading.flags),
                    "raw": reading.raw,
                    "clock_offset_s": reading.device.clock_offset_s,
                    "encounter_id": encounter_id,
                    "state": state,
                    "source": "device",
                    "state_changed_at": now,
                },
                ["id"],
            )
            if not inserted:
                self.counters.duplicates += 1
                return Outcome("duplicate", reading_id=str(reading.id))
            session.execute(ReadingObservation.__table__.insert(), observations)
            session.add(
                ReadingEvent(
                    reading_id=str(reading.id),
                    at=now,
                    action="filed",
                    to_state=state,
                    encounter_id=encounter_id,
                    reason="" if encounter_id else "no encounter could be known for this reading",
                )
            )
            if encounter_id is not None:
                session.execute(
                    update(Encounter)
                    .where(Encounter.id == encounter_id)
                    .values(revision=Encounter.revision + 1)
                )
        self.counters.filed += 1
        return Outcome("filed", reading_id=str(reading.id))

    @staticmethod
    def _observation_row(reading: Reading, position: int) -> dict[str, Any]:
        obs = reading.observations[position]
        spec = kind(obs.kind)
        canonical = None if obs.value is None else convert(obs.value, obs.unit, spec.unit)
        return {
            "reading_id": str(reading.id),
            "position": position,
            "kind": obs.kind,
            "value": None if obs.value is None else format(obs.value, "f"),
            "unit": obs.unit,
            "canonical_value": None if canonical is None else float(canonical),
            "canonical_unit": spec.unit,
            "mdc": obs.mdc,
            "loinc": obs.loinc,
            "absent_reason": obs.absent_reason,
        }

    def _room_id(self, session: Session, site: str, name: str) -> int:
        insert_ignore(session, Room.__table__, {"site": site, "name": name}, ["site", "name"])
        return session.scalar(select(Room.id).where(Room.site == site, Room.name == name))

    def _device_pk(self, session: Session, reading: Reading, room_id: int) -> int:
        dev = reading.device
        insert_ignore(
            session,
            Device.__table__,
            {
                "site": reading.site,
                "device_id": dev.id,
                "kind": dev.kind,
                "model": dev.model,
                "serial": dev.serial,
                "transport": dev.transport,
                "protocol": dev.protocol,
                "room_id": room_id,
            },
            ["site", "device_id"],
        )
        pk = session.scalar(
            select(Device.id).where(Device.site == reading.site, Device.device_id == dev.id)
        )
        # A portable device follows the room it last reported from.
        session.execute(
            update(Device)
            .where(Device.id == pk)
            .values(
                room_id=room_id,
                kind=dev.kind,
                model=dev.model,
                serial=dev.serial,
                transport=dev.transport,
                protocol=dev.protocol,
            )
        )
        return pk

    def _device_status(self, where: topics.Topic, payload: bytes) -> Outcome:
        if not payload:
            return Outcome("status")  # a cleared retained message
        try:
            status = json.loads(payload)
            if not isinstance(status, dict) or not isinstance(status.get("state"), str):
                raise ValueError("expected an object with a 'state' string")
        except ValueError as exc:
            return self._reject(where_topic(where), payload, f"device status: {exc}")
        with Session(self.engine) as session, session.begin():
            room_id = self._room_id(session, where.site, where.room or "")
            insert_ignore(
                session,
                Device.__table__,
                {
                    "site": where.site,
                    "device_id": where.device_id,
                    "kind": "unknown",
                    "model": "",
                    "serial": "",
                    "transport": str(status.get("transport", "")),
                    "protocol": str(status.get("protocol", "")),
                    "room_id": room_id,
                },
                ["site", "device_id"],
            )
            session.execute(
                update(Device)
                .where(Device.site == where.site, Device.device_id == where.device_id)
                .values(
                    state=status["state"][:32],
                    status=status,
                    status_at=datetime.now(UTC),
                    room_id=room_id,
                )
            )
        self.counters.statuses += 1
        return Outcome("status")

    def _reject(self, topic: str, payload: bytes, reason: str) -> Outcome:
        self.counters.rejected += 1
        key = reason.split(":", 1)[0]
        self.counters.reasons[key] = self.counters.reasons.get(key, 0) + 1
        # The reason names the field; payloads carry no patient data by contract, but only
        # the topic and reason are logged, never the payload itself.
        log.warning("rejected message on %s: %s", topic[:200], reason[:500])
        with Session(self.engine) as session, session.begin():
            session.add(
                RejectedMessage(
                    topic=topic[:512],
                    reason=reason[:2000],
                    payload=payload[:4096].decode("utf-8", "replace").replace("\x00", "\ufffd"),
                    received_at=datetime.now(UTC),
                )
            )
        return Outcome("rejected", reason)


def route(session: Session, reading: Reading, device_pk: int, room_id: int) -> int | None:
    """The encounter a device reading provably belongs to, or None (the unassigned queue).

    - A stored record (device time more than ``HISTORY_TOLERANCE`` before the gateway received
      it) is never routed: it may be the previous patient's.
    - A portable device charts to the encounter it was assigned to when the gateway received
      the reading (``DeviceAssignment`` window), and nowhere otherwise, whatever room it is in.
    - A static device charts to its room's open encounter if the reading was received after the
      encounter started (the patient was identified).
    The gateway's receive time is used for the windows: device clocks are not trusted.
    """
    # UTC throughout: SQLite stores a datetime's digits without its offset.
    received = reading.received_at.astimezone(UTC)
    if (
        reading.measured_at_source == "device"
        and "device_clock_not_set" not in reading.flags
        and received - reading.measured_at > HISTORY_TOLERANCE
    ):
        return None
    mobility = session.scalar(select(Device.mobility).where(Device.id == device_pk))
    if mobility == "portable":
        return session.scalar(
            select(DeviceAssignment.encounter_id)
            .join(Encounter, Encounter.id == DeviceAssignment.encounter_id)
            .where(
                DeviceAssignment.device_pk == device_pk,
                DeviceAssignment.attached_at <= received,
                or_(DeviceAssignment.removed_at.is_(None), DeviceAssignment.removed_at > received),
                Encounter.ended_at.is_(None),
            )
            .order_by(DeviceAssignment.attached_at.desc())
            .limit(1)
        )
    return session.scalar(
        select(Encounter.id).where(
            Encounter.room_id == room_id,
            Encounter.ended_at.is_(None),
            Encounter.started_at <= received,
        )
    )


def where_topic(where: topics.Topic) -> str:
    return topics.device_status_topic(where.site, where.room or "", where.device_id or "")
