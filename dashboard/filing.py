"""Filing reading messages into the database, each reading id exactly once.

The insert of a reading is an insert-or-ignore on its primary key (the message id), done
in the same transaction as its observations, so a re-delivered or re-published message
files nothing and two ingest workers racing on one message file it once.

A filed reading is never charted by itself: it becomes a *pending* reading of the encounter
it provably belongs to (``route_many``), or goes to the *unassigned* queue. Never a guess.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, bindparam, select, update
from sqlalchemy.orm import Session

from dashboard.bulk import (
    DriverInsert,
    WriterTurn,
    begin_immediate,
    driver_insert,
    insert_ignore,
    insert_ignore_many,
    insert_many,
    present,
)
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

NO_ENCOUNTER = "no encounter could be known for this reading"

HISTORY_TOLERANCE = timedelta(minutes=10)
"""A device-timed reading older than this when the gateway received it is a stored record
(a memory download, a re-sync): it may be the previous patient's, so it is never routed."""


@dataclass(frozen=True)
class Outcome:
    status: str  # "filed" | "duplicate" | "rejected" | "status"
    reason: str = ""
    reading_id: str | None = None


@dataclass(frozen=True)
class _Parsed:
    """A reading message that passed every check, with its observation rows."""

    reading: Reading
    observation_rows: list[dict[str, Any]]


class _RoutingChanged(Exception):
    """An encounter a batch was routed to ended before the batch's write transaction."""


ROUTING_ATTEMPTS = 5
"""Batches decided again at most this often when encounters end meanwhile (each encounter
ends once, so a second decision almost always stands); the last attempt is not checked."""


@dataclass(frozen=True)
class _Prepared:
    """A batch's reading rows, decided before the write transaction (``_prepare_readings``)."""

    batch: list[tuple[int, Reading]]
    first: dict[str, tuple[int, Reading]]
    """reading id -> its first (index, reading) in the batch"""
    rows: list[dict[str, Any]]
    """the readings rows, sorted by id"""
    arrival_order: list[str]
    observation_rows: dict[str, list[dict[str, Any]]]
    events: dict[str, dict[str, Any]]
    driver: tuple[DriverInsert, ...]
    """SQLite: the readings, observations and events inserts as driver parameters"""
    routed: frozenset[int]
    """the encounters the batch's readings were routed to"""


@dataclass
class FilingCounters:
    filed: int = 0
    duplicates: int = 0
    rejected: int = 0
    statuses: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


class Filer:
    """Files MQTT messages; ``file_messages`` writes a batch in one transaction.

    A batch costs about ten statements whatever its size (devices and routing read first;
    then readings, observations, events and encounter revisions written, each multi-row), so
    a few round trips and one commit carry hundreds of readings. Exactly-once: the readings
    insert is an insert-or-ignore on the id (on SQLite: the ids present are looked up with
    the write lock held), and only the ids it inserted get observations and events. Rows are
    written in a fixed order (sorted keys), so two workers' batches cannot deadlock.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.counters = FilingCounters()
        self._room_ids_known: dict[tuple[str, str], int] = {}
        """(site, room) -> id of rooms already in the database: rooms are never deleted or
        renamed, so a batch from known rooms skips two round trips."""
        self._writer_turn = WriterTurn(engine)

    def file_message(self, topic: str, payload: bytes) -> Outcome:
        """File one MQTT message; never raises for bad input, only for database failures."""
        return self.file_messages([(topic, payload)])[0]

    def file_messages(self, messages: Sequence[tuple[str, bytes]]) -> list[Outcome]:
        """File messages in one transaction; an outcome per message, in order.

        Raises only for database failures, and then nothing of the batch is filed (the
        caller acknowledges nothing and the broker delivers the messages again).
        """
        outcomes: list[Outcome | None] = [None] * len(messages)
        rejects: list[tuple[int, str, bytes, str]] = []
        statuses: list[tuple[int, topics.Topic, dict[str, Any]]] = []
        readings: list[tuple[int, Reading]] = []
        observation_rows: dict[str, list[dict[str, Any]]] = {}  # reading id -> its rows
        for index, (topic, payload) in enumerate(messages):
            parsed = self._parse(topic, payload)
            if isinstance(parsed, Outcome):
                outcomes[index] = parsed
            elif isinstance(parsed, _Parsed):
                readings.append((index, parsed.reading))
                observation_rows[str(parsed.reading.id)] = parsed.observation_rows
            elif isinstance(parsed, tuple) and parsed[0] == "reject":
                rejects.append((index, parsed[1], payload, parsed[2]))
            else:
                statuses.append((index, parsed[1], parsed[2]))
        try:
            for attempt in range(ROUTING_ATTEMPTS):
                prepared = self._prepare_readings(readings, observation_rows) if readings else None
                delta = FilingCounters()
                try:
                    # The turn is let go only after the commit (the outer context ends last).
                    with self._writer_turn, Session(self.engine) as session, session.begin():
                        if self.engine.dialect.name == "sqlite":
                            begin_immediate(session)
                        if prepared is not None and attempt + 1 < ROUTING_ATTEMPTS:
                            _check_routes(session, prepared)  # before anything is written
                        for index, where, status in statuses:
                            self._device_status(session, where, status)
                            outcomes[index] = Outcome("status")
                            delta.statuses += 1
                        if prepared is not None:
                            for index, outcome in self._write_readings(session, prepared):
                                outcomes[index] = outcome
                                if outcome.status == "filed":
                                    delta.filed += 1
                                else:
                                    delta.duplicates += 1
                        for index, topic, payload, reason in rejects:
                            outcomes[index] = self._reject(session, topic, payload, reason, delta)
                except _RoutingChanged:
                    continue  # rolled back; decided again against the encounters as they are
                break
        except Exception:
            self._room_ids_known.clear()  # rolled back: a room created in it does not exist
            raise
        # Counted only once the transaction committed (a failed batch is filed again).
        self.counters.filed += delta.filed
        self.counters.duplicates += delta.duplicates
        self.counters.statuses += delta.statuses
        self.counters.rejected += delta.rejected
        for key, number in delta.reasons.items():
            self.counters.reasons[key] = self.counters.reasons.get(key, 0) + number
        return [o if o is not None else Outcome("ignored") for o in outcomes]

    # parsing (no database) -------------------------------------------------------------
    def _parse(self, topic: str, payload: bytes) -> Any:
        """A Reading, ("status", where, status), ("reject", topic, reason) or an Outcome."""
        try:
            where = topics.parse_topic(topic)
        except topics.TopicError as exc:
            return ("reject", topic, f"topic: {exc}")
        if where.type == topics.DEVICE_STATUS:
            if not payload:
                return Outcome("status")  # a cleared retained message
            try:
                status = json.loads(payload)
                if not isinstance(status, dict) or not isinstance(status.get("state"), str):
                    raise ValueError("expected an object with a 'state' string")
            except ValueError as exc:
                return ("reject", where_topic(where), f"device status: {exc}")
            return ("status", where, status)
        if where.type != topics.READING:
            return Outcome("ignored")
        try:
            reading = decode_reading(payload)
        except MessageError as exc:
            return ("reject", topic, str(exc))
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
            return ("reject", topic, f"topic and payload disagree on {', '.join(mismatch)}")
        try:
            rows = [
                self._observation_row(reading, position)
                for position in range(len(reading.observations))
            ]
        except (ArithmeticError, ValueError) as exc:
            return ("reject", topic, f"observations: {exc}")
        return _Parsed(reading, rows)

    # readings --------------------------------------------------------------------------
    def _prepare_readings(
        self, batch: list[tuple[int, Reading]], observation_rows: dict[str, list[dict[str, Any]]]
    ) -> _Prepared:
        """Everything a batch's write needs, decided before the write transaction.

        Rooms and devices are written here, in a transaction of their own and only when one
        is new or has changed (a portable device moved): both are registries that a filed
        reading needs to exist and that never go away. Routing reads the encounters as they
        are now, as a READ COMMITTED transaction would. So the write transaction holds the
        database's write lock (SQLite has a single one) only while the readings' own rows go
        in, and a second worker's batch can be decided meanwhile (``bench/ingest.py``).
        """
        # The first copy of an id in the batch is filed; later copies are duplicates.
        first: dict[str, tuple[int, Reading]] = {}
        for index, reading in batch:
            first.setdefault(str(reading.id), (index, reading))
        readings = [r for _, r in first.values()]
        with Session(self.engine) as session, session.begin():
            rooms = self._room_ids(session, {(r.site, r.room) for r in readings})
            devices = self._device_pks(session, readings, rooms)
            encounters = route_many(
                session,
                [(r, devices[(r.site, r.device.id)][0], rooms[(r.site, r.room)]) for r in readings],
                {pk: mobility for pk, mobility in devices.values()},
            )
        now = datetime.now(UTC)
        rows: list[dict[str, Any]] = []
        events: dict[str, dict[str, Any]] = {}
        for reading, encounter_id in zip(readings, encounters, strict=True):
            reading_id = str(reading.id)
            state = "unassigned" if encounter_id is None else "pending"
            rows.append(
                {
                    "id": reading_id,
                    "device_pk": devices[(reading.site, reading.device.id)][0],
                    "room_id": rooms[(reading.site, reading.room)],
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
                }
            )
            events[reading_id] = {
                "reading_id": reading_id,
                "at": now,
                "action": "filed",
                "to_state": state,
                "encounter_id": encounter_id,
                "reason": "" if encounter_id else NO_ENCOUNTER,
            }
        rows.sort(key=lambda row: row["id"])  # a fixed order: two workers cannot deadlock
        order = [str(r.id) for r in readings]
        driver: tuple[DriverInsert, ...] = ()
        if self.engine.dialect.name == "sqlite":
            dialect = self.engine.dialect
            observations = [o for rid in order for o in observation_rows[rid]]
            driver = tuple(
                driver_insert(table, table_rows, key, dialect)
                for table, table_rows, key in (
                    (ReadingRow.__table__, rows, "id"),
                    (ReadingObservation.__table__, observations, "reading_id"),
                    (ReadingEvent.__table__, [events[rid] for rid in order], "reading_id"),
                )
                if table_rows
            )
        routed = frozenset(e for e in encounters if e is not None)
        return _Prepared(batch, first, rows, order, observation_rows, events, driver, routed)

    @staticmethod
    def _write_readings(session: Session, prepared: _Prepared) -> list[tuple[int, Outcome]]:
        if prepared.driver:
            # SQLite, with the write lock held since BEGIN IMMEDIATE (dashboard.bulk).
            skip = present(session, ReadingRow.__table__, "id", prepared.arrival_order)
            for insert in prepared.driver:
                insert.run(session, skip)
            new = [rid for rid in prepared.arrival_order if rid not in skip]
        else:
            inserted = insert_ignore_many(session, ReadingRow.__table__, prepared.rows, ["id"])
            # Only the readings this insert filed; the others were filed before.
            new = [rid for rid in prepared.arrival_order if rid in inserted]
            observations = [o for rid in new for o in prepared.observation_rows[rid]]
            insert_many(session, ReadingObservation.__table__, observations)
            insert_many(session, ReadingEvent.__table__, [prepared.events[rid] for rid in new])
        bumps: dict[int, int] = {}
        for rid in new:
            eid = prepared.events[rid]["encounter_id"]
            if eid is not None:
                bumps[eid] = bumps.get(eid, 0) + 1
        if bumps:
            encounters = Encounter.__table__
            session.execute(
                encounters.update()
                .where(encounters.c.id == bindparam("eid"))
                .values(revision=encounters.c.revision + bindparam("n")),
                [{"eid": eid, "n": n} for eid, n in sorted(bumps.items())],
            )
        filed_now = set(new)
        outcomes = []
        for index, reading in prepared.batch:
            reading_id = str(reading.id)
            filed = reading_id in filed_now and prepared.first[reading_id][0] == index
            outcomes.append(
                (index, Outcome("filed" if filed else "duplicate", reading_id=reading_id))
            )
        return outcomes

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

    def _room_ids(self, session: Session, keys: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
        known = self._room_ids_known
        if keys <= known.keys():
            return {key: known[key] for key in keys}
        ordered = sorted(keys)
        insert_ignore_many(
            session, Room.__table__, [{"site": s, "name": n} for s, n in ordered], ["site", "name"]
        )
        found: dict[tuple[str, str], int] = {}
        for site in {s for s, _ in ordered}:
            names = [n for s, n in ordered if s == site]
            for room_id, name in session.execute(
                select(Room.id, Room.name).where(Room.site == site, Room.name.in_(names))
            ):
                found[(site, name)] = room_id
        known.update(found)
        return found

    def _device_pks(
        self,
        session: Session,
        readings: list[Reading],
        rooms: dict[tuple[str, str], int],
    ) -> dict[tuple[str, str], tuple[int, str]]:
        """(site, device id) -> (primary key, mobility); creates and updates the devices."""
        latest: dict[tuple[str, str], dict[str, Any]] = {}
        for reading in readings:  # in arrival order: the last message says where it is now
            dev = reading.device
            latest[(reading.site, dev.id)] = {
                "site": reading.site,
                "device_id": dev.id,
                "kind": dev.kind,
                "model": dev.model,
                "serial": dev.serial,
                "transport": dev.transport,
                "protocol": dev.protocol,
                "room_id": rooms[(reading.site, reading.room)],
            }
        keys = sorted(latest)
        # Read first: the devices of a batch are almost always known and unchanged, and then
        # the batch writes nothing here.
        found = self._devices_found(session, keys)
        missing = [key for key in keys if key not in found]
        if missing:
            insert_ignore_many(
                session, Device.__table__, [latest[k] for k in missing], ["site", "device_id"]
            )
            found.update(self._devices_found(session, missing))
        changed: list[dict[str, Any]] = []
        for key in keys:
            row, want = found[key], latest[key]
            # A portable device follows the room it last reported from.
            if any(getattr(row, f) != want[f] for f in _DEVICE_FIELDS):
                changed.append({"pk": row.id, **{f"new_{f}": want[f] for f in _DEVICE_FIELDS}})
        if changed:
            table = Device.__table__
            session.execute(
                table.update()
                .where(table.c.id == bindparam("pk"))
                .values({f: bindparam(f"new_{f}") for f in _DEVICE_FIELDS}),
                changed,
            )
        return {key: (row.id, row.mobility) for key, row in found.items()}

    @staticmethod
    def _devices_found(session: Session, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Any]:
        """(site, device id) -> its row (id, mobility and the fields a message sets)."""
        found: dict[tuple[str, str], Any] = {}
        columns = [Device.__table__.c[f] for f in _DEVICE_FIELDS]
        for site in sorted({s for s, _ in keys}):
            ids = [d for s, d in keys if s == site]
            for row in session.execute(
                select(Device.id, Device.device_id, Device.mobility, *columns).where(
                    Device.site == site, Device.device_id.in_(ids)
                )
            ):
                found[(site, row.device_id)] = row
        return found

    def _device_status(self, session: Session, where: topics.Topic, status: dict) -> None:
        room_id = self._room_ids(session, {(where.site, where.room or "")})[
            (where.site, where.room or "")
        ]
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

    def _reject(
        self, session: Session, topic: str, payload: bytes, reason: str, delta: FilingCounters
    ) -> Outcome:
        delta.rejected += 1
        key = reason.split(":", 1)[0]
        delta.reasons[key] = delta.reasons.get(key, 0) + 1
        # The reason names the field; payloads carry no patient data by contract, but only
        # the topic and reason are logged, never the payload itself.
        log.warning("rejected message on %s: %s", topic[:200], reason[:500])
        session.add(
            RejectedMessage(
                topic=topic[:512],
                reason=reason[:2000],
                payload=payload[:4096].decode("utf-8", "replace").replace("\x00", "\ufffd"),
                received_at=datetime.now(UTC),
            )
        )
        return Outcome("rejected", reason)


_DEVICE_FIELDS = ("room_id", "kind", "model", "serial", "transport", "protocol")
"""What a reading message says about its device; the registry follows the latest message."""


def _utc(moment: datetime) -> datetime:
    # SQLite gives back a stored instant's UTC digits without their offset.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def route_many(
    session: Session,
    readings: list[tuple[Reading, int, int]],
    mobility: dict[int, str],
) -> list[int | None]:
    """The encounter each (reading, device pk, room id) provably belongs to, or None (the
    unassigned queue); two queries for the whole batch.

    - A stored record (device time more than ``HISTORY_TOLERANCE`` before the gateway received
      it) is never routed: it may be the previous patient's.
    - A portable device charts to the encounter it was assigned to when the gateway received
      the reading (``DeviceAssignment`` window), and nowhere otherwise, whatever room it is in.
    - A static device charts to its room's open encounter if the reading was received after the
      encounter started (the patient was identified).
    The gateway's receive time is used for the windows: device clocks are not trusted.
    """
    portable = sorted({pk for _, pk, _ in readings if mobility.get(pk) == "portable"})
    static_rooms = sorted({room for _, pk, room in readings if mobility.get(pk) != "portable"})
    open_in_room: dict[int, list[tuple[datetime, int]]] = {}
    if static_rooms:
        for eid, room_id, started in session.execute(
            select(Encounter.id, Encounter.room_id, Encounter.started_at).where(
                Encounter.room_id.in_(static_rooms), Encounter.ended_at.is_(None)
            )
        ):
            open_in_room.setdefault(room_id, []).append((_utc(started), eid))
    assignments: dict[int, list[tuple[datetime, datetime | None, int]]] = {}
    if portable:
        for device_pk, attached, removed, eid in session.execute(
            select(
                DeviceAssignment.device_pk,
                DeviceAssignment.attached_at,
                DeviceAssignment.removed_at,
                DeviceAssignment.encounter_id,
            )
            .join(Encounter, Encounter.id == DeviceAssignment.encounter_id)
            .where(DeviceAssignment.device_pk.in_(portable), Encounter.ended_at.is_(None))
        ):
            assignments.setdefault(device_pk, []).append(
                (_utc(attached), None if removed is None else _utc(removed), eid)
            )
    routed: list[int | None] = []
    for reading, device_pk, room_id in readings:
        received = reading.received_at.astimezone(UTC)
        if (
            reading.measured_at_source == "device"
            and "device_clock_not_set" not in reading.flags
            and received - reading.measured_at > HISTORY_TOLERANCE
        ):
            routed.append(None)
        elif mobility.get(device_pk) == "portable":
            windows = [
                (attached, eid)
                for attached, removed, eid in assignments.get(device_pk, [])
                if attached <= received and (removed is None or removed > received)
            ]
            routed.append(max(windows)[1] if windows else None)
        else:
            started = [eid for at, eid in open_in_room.get(room_id, []) if at <= received]
            routed.append(started[0] if started else None)
    return routed


def _check_routes(session: Session, prepared: _Prepared) -> None:
    """Raise ``_RoutingChanged`` if an encounter the batch was routed to has ended since.

    Routing is decided before the write transaction (``Filer._prepare_readings``), and an
    encounter closed meanwhile would get pending readings no one reviews any more; they
    belong in the unassigned queue. Only ending changes a routing decision: it is made on the
    gateway's receive time, which lies before any encounter or assignment begun meanwhile.
    On PostgreSQL the rows are locked (in id order, so two workers cannot deadlock) until the
    commit, so an encounter cannot end between this check and the readings' insert; SQLite's
    write lock, held since BEGIN IMMEDIATE, does the same.
    """
    if not prepared.routed:
        return
    query = (
        select(Encounter.id)
        .where(Encounter.id.in_(sorted(prepared.routed)), Encounter.ended_at.is_(None))
        .order_by(Encounter.id)
        .with_for_update()
    )
    if set(session.scalars(query)) != prepared.routed:
        raise _RoutingChanged


def where_topic(where: topics.Topic) -> str:
    return topics.device_status_topic(where.site, where.room or "", where.device_id or "")
