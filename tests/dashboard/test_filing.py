"""Filing reading messages into SQLite and PostgreSQL, each reading id exactly once."""

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from dashboard.filing import Filer
from dashboard.models import (
    Device,
    Encounter,
    Reading,
    ReadingEvent,
    ReadingObservation,
    RejectedMessage,
)
from tests.helpers import open_encounter
from tests.test_message import make_reading
from vitals import topics
from vitals.message import Observation, encode_reading

TOPIC = topics.reading_topic("main", "exam-1", "scale-1")


def count(engine, model) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(model))


def test_files_a_reading_with_exact_and_canonical_values(engine):
    obs = (
        Observation("weight", Decimal("200.5"), "[lb_av]", 188736, "29463-7"),
        Observation("height", Decimal("70.00"), "[in_i]", 188740, "8302-2"),
    )
    reading = make_reading(observations=obs)
    outcome = Filer(engine).file_message(TOPIC, encode_reading(reading))
    assert outcome.status == "filed"
    with Session(engine) as session:
        row = session.get(Reading, str(reading.id))
        assert row.device.device_id == "scale-1" and row.room.name == "exam-1"
        weight, height = row.observations
        assert (weight.value, weight.unit, weight.canonical_unit) == ("200.5", "[lb_av]", "kg")
        assert weight.canonical_value == pytest.approx(90.9453, abs=1e-9)
        assert (height.value, height.canonical_value) == ("70.00", pytest.approx(177.8))


def test_a_message_delivered_twice_is_filed_once(engine):
    payload = encode_reading(make_reading())
    filer = Filer(engine)
    assert filer.file_message(TOPIC, payload).status == "filed"
    assert filer.file_message(TOPIC, payload).status == "duplicate"
    assert (count(engine, Reading), count(engine, ReadingObservation)) == (1, 1)
    assert (filer.counters.filed, filer.counters.duplicates) == (1, 1)


def test_a_batch_mixing_filed_and_new_readings_files_only_the_new_ones(engine):
    old = [encode_reading(make_reading(id=uuid.uuid4())) for _ in range(3)]
    new = [encode_reading(make_reading(id=uuid.uuid4())) for _ in range(2)]
    filer = Filer(engine)
    assert [o.status for o in filer.file_messages([(TOPIC, p) for p in old])] == ["filed"] * 3
    batch = [old[0], new[0], old[1], new[1], new[1], old[2]]
    outcomes = filer.file_messages([(TOPIC, p) for p in batch])
    assert [o.status for o in outcomes] == [
        "duplicate",
        "filed",
        "duplicate",
        "filed",
        "duplicate",
        "duplicate",
    ]
    # One observation and one "filed" event per reading, none twice.
    assert count(engine, Reading) == count(engine, ReadingObservation) == 5
    assert count(engine, ReadingEvent) == 5


def test_a_batch_from_known_unchanged_devices_writes_no_device_row(engine):
    statements: list[str] = []
    filer = Filer(engine)
    filer.file_message(TOPIC, encode_reading(make_reading(id=uuid.uuid4())))
    event.listen(
        engine,
        "before_cursor_execute",
        lambda conn, cursor, sql, *_: statements.append(sql.lower()),
    )
    filer.file_message(TOPIC, encode_reading(make_reading(id=uuid.uuid4())))
    assert not [s for s in statements if "insert into devices" in s or "update devices" in s]
    # A device reporting from another room is moved there (it follows its latest message).
    moved = make_reading(id=uuid.uuid4(), room="exam-2")
    filer.file_message(topics.reading_topic("main", "exam-2", "scale-1"), encode_reading(moved))
    assert [s for s in statements if "update devices" in s]
    with Session(engine) as session:
        assert session.scalars(select(Device)).one().room.name == "exam-2"


def test_an_encounter_ended_between_routing_and_writing_gets_no_pending_reading(engine):
    encounter_id = open_encounter(
        engine, "main", "exam-1", since=datetime.now(UTC) - timedelta(hours=1)
    )
    now = datetime.now(UTC)
    reading = make_reading(id=uuid.uuid4(), measured_at=now, received_at=now)

    class EndedMeanwhile(Filer):
        """The assistant closes the encounter right after the batch was routed to it."""

        def _prepare_readings(self, *args):
            prepared = super()._prepare_readings(*args)
            if prepared.routed:
                with Session(self.engine) as session, session.begin():
                    session.get(Encounter, encounter_id).ended_at = datetime.now(UTC)
            return prepared

    # In the same batch, a device status from a room not seen before: filed once, by the
    # attempt that stands.
    status_topic = topics.device_status_topic("main", "exam-9", "bp-9")
    status = json.dumps({"state": "connected", "transport": "serial"}).encode()
    outcomes = EndedMeanwhile(engine).file_messages(
        [(status_topic, status), (TOPIC, encode_reading(reading))]
    )
    assert [o.status for o in outcomes] == ["status", "filed"]
    with Session(engine) as session:
        row = session.get(Reading, str(reading.id))
        assert (row.state, row.encounter_id) == ("unassigned", None)
        [event] = session.scalars(select(ReadingEvent)).all()
        assert (event.to_state, event.encounter_id) == ("unassigned", None)
        device = session.scalars(select(Device).where(Device.device_id == "bp-9")).one()
        assert (device.state, device.room.name) == ("connected", "exam-9")


def test_a_reading_for_an_open_encounter_is_pending_in_it(engine):
    encounter_id = open_encounter(
        engine, "main", "exam-1", since=datetime.now(UTC) - timedelta(hours=1)
    )
    now = datetime.now(UTC)
    reading = make_reading(id=uuid.uuid4(), measured_at=now, received_at=now)
    assert Filer(engine).file_message(TOPIC, encode_reading(reading)).status == "filed"
    with Session(engine) as session:
        row = session.get(Reading, str(reading.id))
        assert (row.state, row.encounter_id) == ("pending", encounter_id)
        assert session.get(Encounter, encounter_id).revision == 1


def test_racing_workers_file_once(engine):
    payloads = [encode_reading(make_reading(id=uuid.uuid4())) for _ in range(20)]
    filers = [Filer(engine), Filer(engine)]
    barrier = threading.Barrier(2)

    def work(filer):
        barrier.wait()
        for payload in payloads:
            filer.file_message(TOPIC, payload)

    threads = [threading.Thread(target=work, args=(f,)) for f in filers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert count(engine, Reading) == 20
    assert sum(f.counters.filed for f in filers) == 20
    assert sum(f.counters.duplicates for f in filers) == 20


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        (TOPIC, b"{not json", "not JSON"),
        (TOPIC, b'{"schema": 1}', "schema"),
        ("roomvitals/v1/main/reading/exam-2/scale-1", None, "disagree on room"),
        ("roomvitals/v1/main/reading/exam-1", None, "topic"),
    ],
)
def test_bad_messages_go_to_the_dead_letter_table(engine, topic, payload, reason):
    payload = payload or encode_reading(make_reading())
    filer = Filer(engine)
    outcome = filer.file_message(topic, payload)
    assert outcome.status == "rejected" and reason in outcome.reason
    assert filer.counters.rejected == 1
    assert count(engine, Reading) == 0
    with Session(engine) as session:
        [row] = session.scalars(select(RejectedMessage)).all()
        assert reason in row.reason and row.topic == topic


def test_nul_bytes_in_a_bad_payload_are_kept_safely(engine):
    outcome = Filer(engine).file_message(TOPIC, b"\x00\xff\x00")
    assert outcome.status == "rejected"
    assert count(engine, RejectedMessage) == 1


def test_device_status_updates_the_device(engine):
    topic = topics.device_status_topic("main", "exam-1", "scale-1")
    filer = Filer(engine)
    status = {
        "state": "disconnected",
        "last_error": "port /dev/ttyUSB0 lost",
        "transport": "serial",
    }
    assert filer.file_message(topic, json.dumps(status).encode()).status == "status"
    assert filer.file_message(topic, b"").status == "status"  # a cleared retained message
    assert filer.file_message(topic, b"[]").status == "rejected"
    with Session(engine) as session:
        device = session.scalars(select(Device)).one()
        assert (device.state, device.status["last_error"]) == (
            "disconnected",
            "port /dev/ttyUSB0 lost",
        )
