"""Shared set-up of the clinic workflow tests: an app with the demo clinic seeded."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard import create_app
from dashboard.auth import create_user
from dashboard.filing import Filer
from dashboard.models import Appointment, AuditEvent, Patient
from dashboard.seed import seed_demo
from tests.test_message import make_reading
from vitals import topics
from vitals.message import DeviceInfo, Observation, encode_reading

PASSWORD = "correct horse battery"
SITE = "main"


def make_app(database_url: str, **config):
    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "SITE": SITE,
                      "UNITS": "metric", **config})
    with Session(app.extensions["roomvitals.engine"]) as db, db.begin():
        create_user(db, "ma.jones", "assistant", PASSWORD, "MA Jones")
        create_user(db, "dr.lee", "physician", PASSWORD, "Dr Lee")
        create_user(db, "admin.kim", "admin", PASSWORD, "Admin Kim")
        seed_demo(db, SITE)
    return app


def csrf(client, path="/login") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def login(client, username="ma.jones"):
    response = client.post("/login", data={"csrf_token": csrf(client), "username": username,
                                           "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    return csrf(client, "/assistant/" if username != "admin.kim" else "/admin/question-sets/")


def appointment(app, mrn: str) -> tuple[Appointment, Patient]:
    with Session(app.extensions["roomvitals.engine"]) as db:
        patient = db.scalar(select(Patient).where(Patient.mrn == mrn))
        found = db.scalar(select(Appointment).where(Appointment.patient_id == patient.id))
        db.expunge_all()
        return found, patient


def room_id(app, name: str) -> int:
    from dashboard.models import Room

    with Session(app.extensions["roomvitals.engine"]) as db:
        return db.scalar(select(Room.id).where(Room.site == SITE, Room.name == name))


def room(client, token, app, mrn="DEMO-1006", room_name="exam-1") -> int:
    """Room a demo patient; returns the encounter id."""
    appt, patient = appointment(app, mrn)
    response = client.post(f"/assistant/appointments/{appt.id}/room", data={
        "csrf_token": token, "room": room_id(app, room_name),
        "name": f"{patient.given_name} {patient.family_name}",
        "date_of_birth": patient.date_of_birth.isoformat()})
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[-1])


def bp_message(room_name="exam-1", device="cuff-1", systolic="128", diastolic="82", pulse="71",
               flags=frozenset(), measured_at=None, received_at=None, source="gateway"):
    now = datetime.now(UTC)
    reading = make_reading(
        id=uuid.uuid4(),
        device=DeviceInfo(device, "bp_monitor", "Omron HEM-907", "BP1", "ble", ""),
        site=SITE, room=room_name,
        measured_at=measured_at or now, received_at=received_at or now,
        measured_at_source=source,
        observations=(
            Observation("systolic", Decimal(systolic), "mm[Hg]", 150021, "8480-6"),
            Observation("diastolic", Decimal(diastolic), "mm[Hg]", 150022, "8462-4"),
            Observation("pulse_rate", Decimal(pulse), "/min", 149546, "8867-4"),
        ),
        flags=frozenset(flags),
    )
    return topics.reading_topic(SITE, room_name, device), encode_reading(reading), str(reading.id)


def file_bp(app, **kwargs) -> str:
    topic, payload, reading_id = bp_message(**kwargs)
    outcome = Filer(app.extensions["roomvitals.engine"]).file_message(topic, payload)
    assert outcome.status == "filed", outcome
    return reading_id


def audit_events(app, action=None, record_type=None):
    with Session(app.extensions["roomvitals.engine"]) as db:
        query = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            query = query.where(AuditEvent.action == action)
        if record_type:
            query = query.where(AuditEvent.record_type == record_type)
        return db.scalars(query).all()
