"""The demo encounter whose Bundle is committed as docs/fhir/encounter-bundle.json.

It is built through the real code paths (a device message filed by ``Filer``, the
assistant's accept/edit/reject in ``dashboard.review``) in a throw-away SQLite database,
with fixed ids and times so the output is the same on every run:
``roomvitals export example`` rewrites the file, and a test checks it is current.
"""

from __future__ import annotations

import json
import tempfile
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from dashboard import audit, review
from dashboard.auth import create_user
from dashboard.db import make_engine, upgrade
from dashboard.filing import Filer
from dashboard.interop.export import load_encounter
from dashboard.models import Encounter, Patient, Reading, ReadingEvent, ReadingObservation, Room
from vitals import topics
from vitals.kinds import MDC_PULS_OXIM_PULS_RATE, kind
from vitals.message import DeviceInfo, Observation, encode_reading
from vitals.message import Reading as Message

SITE = "demo-clinic"
ROOM = "exam-1"
START = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
EXAMPLE_PATH = Path("docs/fhir/encounter-bundle.json")


def _obs(
    name: str, value: str | None, unit: str, mdc: int | None = None, absent: str | None = None
) -> Observation:
    spec = kind(name)
    return Observation(
        name, None if value is None else Decimal(value), unit, mdc or spec.mdc, spec.loinc, absent
    )


# (id, device id, device kind, model, serial, minutes after START, observations, flags)
DEVICE_READINGS = [
    (
        "6c1f3c1e-0d5a-4c43-9a51-1a3e1f000001",
        "exam-1-cuff",
        "bp_monitor",
        "Omron HEM-9210T",
        "2001234",
        2,
        (
            _obs("systolic", "128", "mm[Hg]"),
            _obs("diastolic", "82", "mm[Hg]"),
            _obs("mean_arterial_pressure", "97", "mm[Hg]"),
            _obs("pulse_rate", "71", "/min"),
        ),
        (),
    ),
    (
        "6c1f3c1e-0d5a-4c43-9a51-1a3e1f000002",
        "exam-1-cuff",
        "bp_monitor",
        "Omron HEM-9210T",
        "2001234",
        4,
        (_obs("systolic", "186", "mm[Hg]"), _obs("diastolic", "79", "mm[Hg]")),
        ("body_movement", "cuff_loose"),
    ),
    (
        "6c1f3c1e-0d5a-4c43-9a51-1a3e1f000003",
        "exam-1-oximeter",
        "pulse_oximeter",
        "Nonin 3150 WristOx2",
        "501234567",
        5,
        (_obs("spo2", "97", "%"), _obs("pulse_rate", "72", "/min", MDC_PULS_OXIM_PULS_RATE)),
        (),
    ),
    (
        "6c1f3c1e-0d5a-4c43-9a51-1a3e1f000004",
        "exam-1-thermometer",
        "thermometer",
        "Welch Allyn SureTemp (BLE)",
        "T-77",
        6,
        (_obs("temperature", "37.1", "Cel"),),
        (),
    ),
    (
        "6c1f3c1e-0d5a-4c43-9a51-1a3e1f000005",
        "exam-1-thermometer",
        "thermometer",
        "Welch Allyn SureTemp (BLE)",
        "T-77",
        7,
        (_obs("temperature", None, "Cel", absent="not-a-number"),),
        (),
    ),
    (
        "6c1f3c1e-0d5a-4c43-9a51-1a3e1f000006",
        "exam-1-scale",
        "scale",
        "Health o meter 2101KL",
        "21010012345",
        8,
        (_obs("weight", "81.40", "kg"), _obs("height", "178.00", "cm")),
        (),
    ),
]
REJECTED = "6c1f3c1e-0d5a-4c43-9a51-1a3e1f000002"
MANUAL_RESP_RATE = "6c1f3c1e-0d5a-4c43-9a51-1a3e1f000007"


def build_example_bundle() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="roomvitals-example-") as workdir:
        url = f"sqlite:///{Path(workdir) / 'example.sqlite3'}"
        upgrade(url)
        engine = make_engine(url)
        try:
            encounter_id = _populate(engine)
            with Session(engine) as db:
                export = load_encounter(db, encounter_id)
                assert export is not None
                return export.bundle()
        finally:
            engine.dispose()


def _populate(engine) -> int:
    filer = Filer(engine)
    status = {"state": "connected", "gateway_id": "suite-a", "transport": "ble"}
    for _, device_id, *_ in DEVICE_READINGS:
        filer.file_message(
            topics.device_status_topic(SITE, ROOM, device_id), json.dumps(status).encode()
        )
    with Session(engine) as db, db.begin():
        assistant = create_user(
            db, "alex.assistant", "assistant", "correct horse battery", "Alex Assistant"
        )
        patient = Patient(
            mrn="DEMO-1001",
            family_name="Rivera",
            given_name="Maria",
            date_of_birth=date(1968, 4, 2),
            sex="F",
            allergies=["penicillin"],
            created_at=START,
        )
        db.add(patient)
        db.flush()
        room = db.query(Room).filter_by(site=SITE, name=ROOM).one()
        encounter = Encounter(
            site=SITE,
            patient_id=patient.id,
            room_id=room.id,
            assistant_id=assistant.id,
            status="rooming",
            status_changed_at=START,
            reason_for_visit="Annual physical",
            identity_confirmed_at=START,
            started_at=START,
            revision=1,
        )
        db.add(encounter)
        db.flush()
        encounter_id, assistant_id = encounter.id, assistant.id
    for (
        reading_id,
        device_id,
        device_kind,
        model,
        serial,
        minutes,
        observations,
        flags,
    ) in DEVICE_READINGS:
        at = START + timedelta(minutes=minutes)
        message = Message(
            id=uuid.UUID(reading_id),
            device=DeviceInfo(device_id, device_kind, model, serial, "ble", "bluetooth-sig"),
            site=SITE,
            room=ROOM,
            measured_at=at,
            received_at=at + timedelta(seconds=2),
            observations=observations,
            flags=frozenset(flags),
            measured_at_source="device",
        )
        outcome = filer.file_message(
            topics.reading_topic(SITE, ROOM, device_id), encode_reading(message)
        )
        if outcome.status != "filed":
            raise RuntimeError(f"example reading {reading_id} was {outcome.status}")
    who = audit.Actor(assistant_id, "alex.assistant", "assistant", "127.0.0.1")
    with Session(engine) as db, db.begin():
        for reading_id, *_ in DEVICE_READINGS:
            reading = db.get(Reading, reading_id)
            if reading.state != "pending":
                raise RuntimeError(f"example reading {reading_id} is {reading.state}")
            if reading_id == REJECTED:
                review.reject(db, who, reading, "cuff loose and patient moving; repeated")
            else:
                review.accept(db, who, reading)
        _manual_resp_rate(db, encounter_id, assistant_id)
    return encounter_id


def _manual_resp_rate(db: Session, encounter_id: int, user_id: int) -> None:
    # Written directly (not review.enter_manual) only to fix its id and time for the example.
    at = START + timedelta(minutes=9)
    encounter = db.get(Encounter, encounter_id)
    spec = kind("resp_rate")
    db.add(
        Reading(
            id=MANUAL_RESP_RATE,
            device_pk=None,
            room_id=encounter.room_id,
            measured_at=at,
            measured_at_source="entered",
            received_at=at,
            filed_at=at,
            flags=[],
            raw="",
            encounter_id=encounter_id,
            state="accepted",
            source="manual",
            entered_by=user_id,
            accepted_by=user_id,
            accepted_at=at,
            state_changed_at=at,
        )
    )
    db.add(
        ReadingObservation(
            reading_id=MANUAL_RESP_RATE,
            position=0,
            kind="resp_rate",
            value="16",
            unit="/min",
            canonical_value=16.0,
            canonical_unit=spec.unit,
            mdc=spec.mdc,
            loinc=spec.loinc,
        )
    )
    db.add(
        ReadingEvent(
            reading_id=MANUAL_RESP_RATE,
            at=at,
            user_id=user_id,
            action="entered",
            to_state="accepted",
            encounter_id=encounter_id,
        )
    )


def write_example(path: Path = EXAMPLE_PATH) -> Path:
    from dashboard.interop.fhir import to_json

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_json(build_example_bundle()) + "\n", encoding="utf-8")
    return path
