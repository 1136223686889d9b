"""Privacy: no patient identifier leaves the database except to an authorised screen.

1. A realistic visit on real parts (the simulated scale on a pty -> gateway -> Mosquitto ->
   ingest -> accept -> briefing -> FHIR export -> audit search), with a patient whose name,
   MRN and birth date are distinctive strings (the scale even sends the MRN in its patient-ID
   field). A raw MQTT subscriber on ``#`` keeps every topic and payload; every component's
   Python logging is captured at DEBUG, including the web server's access log. None of the
   identifiers may appear in any of it (plain, lower-cased, or hex as in ``raw``).
2. gunicorn (``roomvitals web``) logs the URLs it serves without their query strings.
3. Authorisation by relation: a clinic's assistant and physician reach nothing of another
   clinic (another ``SITE``) through any route, with that clinic's record ids in the URL.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from dashboard import create_app
from dashboard.auth import create_user
from dashboard.db import make_engine, upgrade
from dashboard.filing import Filer
from dashboard.ingest import IngestWorker
from dashboard.models import Appointment, Encounter, Patient, Reading, Room
from device_gateway.gateway import Gateway
from roomvitals.broker import free_port, wait_for_port
from simulators.serial.healthometer_esc import HealthOMeterScale, ScaleState
from simulators.serial.pty_port import PtyPort
from tests.dashboard.workflow_helpers import bp_message
from tests.gateway.conftest import gateway_config
from tests.helpers import Browser, Collector, wait_until
from vitals.mqtt import BrokerConfig

PASSWORD = "correct horse battery"
GIVEN, FAMILY = "Quillonia", "Vandersteegh"
MRN = "PRV-7Q3X9K"  # 10 characters: fits the scale's patient-ID field
BIRTH = date(1961, 7, 23)


def identifiers() -> list[str]:
    return [GIVEN, FAMILY, MRN, BIRTH.isoformat(), BIRTH.strftime("%m/%d/%Y"),
            BIRTH.strftime("%Y%m%d")]


def leaks(text: str) -> list[str]:
    """The identifiers found in ``text``: as they are, in any case, or hex-encoded."""
    lowered = text.lower()
    found = []
    for value in identifiers():
        if value.lower() in lowered or value.encode().hex() in lowered:
            found.append(value)
    return found


def seed_visit(db: Session, site: str) -> Appointment:
    for role, name in (("assistant", "ma.jones"), ("physician", "dr.lee"), ("admin", "admin.kim")):
        create_user(db, name, role, PASSWORD)
    db.add(Room(site=site, name="exam-1"))
    patient = Patient(mrn=MRN, given_name=GIVEN, family_name=FAMILY, date_of_birth=BIRTH,
                      sex="F", allergies=["NKDA"], created_at=datetime.now(UTC))
    db.add(patient)
    db.flush()
    appointment = Appointment(site=site, patient_id=patient.id, scheduled_at=datetime.now(UTC),
                              reason="Blood pressure check", status="scheduled")
    db.add(appointment)
    db.flush()
    return appointment


def test_no_identifier_in_mqtt_traffic_or_any_log(tmp_path, mosquitto, caplog):
    caplog.set_level(logging.DEBUG)
    url = f"sqlite:///{tmp_path / 'privacy.sqlite3'}"
    upgrade(url)
    scale = HealthOMeterScale(PtyPort(tmp_path / "dev" / "scale"), ScaleState(weight=Decimal(0)))
    config = gateway_config(tmp_path, mosquitto.port, scale.port.path)
    app = create_app({"DATABASE_URL": url, "SITE": config.site, "UNITS": "metric"})
    engine = make_engine(url)
    with Session(engine) as db, db.begin():
        appointment_id = seed_visit(db, config.site).id
    sniffer = Collector(mosquitto.port, "#")
    ingest = IngestWorker(engine, BrokerConfig(port=mosquitto.port),
                          client_id=f"privacy-{uuid.uuid4().hex[:8]}")
    gateway = Gateway(config)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        scale.start()
        ingest.start()
        assert ingest.connected.wait(10)
        gateway.start()
        # The assistant rooms the patient (name and birth date go in a POST body).
        assistant = Browser(base)
        assert assistant.login("ma.jones", PASSWORD)[0] == 200
        with Session(engine) as db:
            room_id = db.scalar(select(Room.id).where(Room.site == config.site))
        token = assistant.csrf(f"/assistant/appointments/{appointment_id}/room")
        status, _ = assistant.request(f"/assistant/appointments/{appointment_id}/room", {
            "csrf_token": token, "room": str(room_id), "name": f"{GIVEN} {FAMILY}",
            "date_of_birth": BIRTH.isoformat()})
        assert status == 200
        with Session(engine) as db:
            encounter_id = db.scalar(select(Encounter.id))
        # The patient steps on the scale, which sends the MRN in its patient-ID field.
        scale.set(weight=Decimal("81.3"), height=Decimal("168.00"), patient_id=MRN)

        def pending() -> str | None:
            with Session(engine) as db:
                return db.scalar(select(Reading.id).where(Reading.encounter_id == encounter_id,
                                                          Reading.state == "pending"))

        reading_id = wait_until(pending, timeout=20)
        token = assistant.csrf(f"/assistant/encounters/{encounter_id}")
        status, page = assistant.request(f"/assistant/readings/{reading_id}/accept",
                                         {"csrf_token": token})
        assert status == 200 and FAMILY in page
        # The physician reads the briefing and exports; the admin searches the audit trail.
        physician = Browser(base)
        assert physician.login("dr.lee", PASSWORD)[0] == 200
        status, page = physician.request(f"/briefing/{encounter_id}")
        assert status == 200 and FAMILY in page and "81.3" in page
        status, bundle = physician.request(f"/fhir/Bundle/encounter/{encounter_id}")
        assert status == 200 and MRN in bundle
        status, found = physician.request(f"/fhir/Observation?patient={MRN}")
        assert status == 200 and re.search(r'"total": ?[1-9]', found) and "81.3" in found
        admin = Browser(base)
        assert admin.login("admin.kim", PASSWORD)[0] == 200
        status, page = admin.request(f"/admin/audit/?mrn={MRN}")
        assert status == 200 and MRN in page
        assert admin.request(f"/admin/audit/export.csv?mrn={MRN}")[0] == 200
        # A stale link with the MRN, followed while logged out, goes through the login page.
        assert Browser(base).request(f"/admin/audit/?mrn={MRN}")[0] == 200
        token = assistant.csrf(f"/assistant/encounters/{encounter_id}")
        assert assistant.request(f"/assistant/encounters/{encounter_id}/status",
                                 {"csrf_token": token, "status": "done"})[0] == 200
        wait_until(lambda: sniffer.on("reading"), timeout=10)
    finally:
        server.shutdown()
        gateway.stop()
        ingest.stop()
        scale.stop()
        sniffer.close()
        engine.dispose()
        app.extensions["roomvitals.engine"].dispose()

    # What the broker carried: every topic and payload.
    assert sniffer.on("reading"), "the sniffer saw no reading: the capture is broken"
    for message in sniffer.messages:
        assert not leaks(message.topic), message.topic
        payload = message.payload.decode("utf-8", "replace")
        assert not leaks(payload), (message.topic, leaks(payload), payload[:300])
    # What every component logged, access log lines included.
    access = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any("/fhir/Observation " in line for line in access), access[:5]
    assert any("/admin/audit/ " in line for line in access)
    assert {r.name.split(".")[0] for r in caplog.records} >= {"werkzeug", "device_gateway"}
    for record in caplog.records:
        text = " ".join([record.name, record.getMessage(), record.exc_text or ""])
        assert not leaks(text), (record.name, text[:300])
    assert not leaks(caplog.text)


def test_gunicorn_logs_paths_without_query_strings(tmp_path):
    url = f"sqlite:///{tmp_path / 'gunicorn.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as db, db.begin():
        seed_visit(db, "main")
    engine.dispose()
    port = free_port()
    web = subprocess.Popen(
        [sys.executable, "-m", "roomvitals.cli", "web", "--port", str(port), "--database", url,
         "--no-upgrade", "--workers", "1", "--threads", "4"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "ROOMVITALS_SITE": "main"},
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(web.stdout), daemon=True)
    reader.start()
    try:
        wait_for_port(port, timeout=30)
        browser = Browser(f"http://127.0.0.1:{port}")
        assert browser.login("dr.lee", PASSWORD)[0] == 200
        assert browser.request(f"/fhir/Observation?patient={MRN}")[0] == 200
        assert browser.request(f"/assistant/?search={FAMILY}")[0] == 200
        assert Browser(f"http://127.0.0.1:{port}").request(f"/fhir/Observation?patient={MRN}")[
            0] == 401
        wait_until(lambda: sum("/fhir/Observation" in line for line in lines) >= 2, timeout=10)
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(timeout=30)
        reader.join(timeout=10)
    output = "".join(lines)
    assert re.search(r'"GET /fhir/Observation" 200', output), output[-2000:]
    assert not leaks(output), output[-2000:]


# --- Authorisation by relation: another clinic's records are out of reach ---------------------

OTHER_SITE = "north"
OTHER_GIVEN, OTHER_FAMILY, OTHER_MRN = "Ottoline", "Northcliffe-Zed", "NORTH-9001"


@pytest.fixture
def two_clinics(database_url):
    """This app's clinic ("main") with the demo data, and "north" with one patient in a room,
    an encounter, a pending reading and an appointment today."""
    from dashboard.seed import seed_demo

    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "SITE": "main",
                      "UNITS": "metric"})
    engine = app.extensions["roomvitals.engine"]
    with Session(engine) as db, db.begin():
        for role, name in (("assistant", "ma.jones"), ("physician", "dr.lee"),
                           ("admin", "admin.kim")):
            create_user(db, name, role, PASSWORD)
        seed_demo(db, "main")
        north_room = Room(site=OTHER_SITE, name="exam-1")
        patient = Patient(mrn=OTHER_MRN, given_name=OTHER_GIVEN, family_name=OTHER_FAMILY,
                          date_of_birth=date(1950, 2, 3), sex="M", allergies=[],
                          created_at=datetime.now(UTC))
        db.add_all([north_room, patient])
        db.flush()
        appointment = Appointment(site=OTHER_SITE, patient_id=patient.id,
                                  scheduled_at=datetime.now(UTC), reason="North visit",
                                  status="roomed")
        db.add(appointment)
        db.flush()
        now = datetime.now(UTC)
        encounter = Encounter(site=OTHER_SITE, patient_id=patient.id,
                              appointment_id=appointment.id, room_id=north_room.id,
                              status="rooming", status_changed_at=now, reason_for_visit="North",
                              identity_confirmed_at=now, started_at=now)
        db.add(encounter)
        db.flush()
        ids = {"encounter_id": encounter.id, "appointment_id": appointment.id,
               "patient_id": patient.id, "room_id": north_room.id}
    topic, payload, reading_id = bp_message(room_name="exam-1", systolic="187")
    topic = topic.replace("/main/", f"/{OTHER_SITE}/")
    payload = payload.replace(b'"site":"main"', f'"site":"{OTHER_SITE}"'.encode())
    assert Filer(engine).file_message(topic, payload).status == "filed"
    with Session(engine) as db:
        reading = db.get(Reading, reading_id)
        assert reading.state == "pending" and reading.encounter_id == ids["encounter_id"]
    ids["reading_id"] = reading_id
    yield app, ids
    engine.dispose()


def _foreign_urls(app, ids):
    values = {"encounter_id": ids["encounter_id"], "appointment_id": ids["appointment_id"],
              "reading_id": ids["reading_id"], "site": OTHER_SITE, "name": "exam-1",
              "test": "glucose_fingerstick", "tablet_id": 1, "code": "x"}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        url = rule.rule
        for arg in rule.arguments:
            url = re.sub(rf"<(?:[^:<>]+:)?{arg}>", str(values.get(arg, 1)), url)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, url
    for query in (f"patient={OTHER_MRN}", f"patient={ids['patient_id']}",
                  f"encounter={ids['encounter_id']}"):
        yield "fhir.observation_search", "GET", f"/fhir/Observation?{query}"


@pytest.mark.parametrize("username", ["ma.jones", "dr.lee"])
def test_another_clinics_records_are_out_of_reach_on_every_route(two_clinics, username):
    app, ids = two_clinics
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"csrf_token": token, "username": username,
                                       "password": PASSWORD}).status_code == 302
    form = {"csrf_token": token, "room": str(ids["room_id"]), "encounter": str(ids["encounter_id"]),
            "status": "done", "reason": "test", "name": f"{OTHER_GIVEN} {OTHER_FAMILY}",
            "date_of_birth": "1950-02-03", "value": "120", "kind": "systolic"}
    checked = 0
    for endpoint, method, url in _foreign_urls(app, ids):
        if endpoint == "auth.logout":
            continue
        response = client.open(url, method=method, data=form if method != "GET" else None)
        body = response.get_data(as_text=True)
        for secret in (OTHER_FAMILY, OTHER_MRN, ids["reading_id"], f"{OTHER_SITE}</small>"):
            assert secret not in body, (endpoint, method, url, response.status_code, secret)
        if method != "GET":
            assert response.status_code in (400, 403, 404, 405, 422) or (
                response.status_code == 302 and "/login" not in response.headers["Location"]
                and str(ids["encounter_id"]) not in response.headers["Location"]
            ), (endpoint, url, response.status_code)
        checked += 1
    assert checked > 40
    with Session(app.extensions["roomvitals.engine"]) as db:
        reading = db.get(Reading, ids["reading_id"])
        encounter = db.get(Encounter, ids["encounter_id"])
        assert reading.state == "pending" and encounter.ended_at is None
        assert encounter.status == "rooming"
        from dashboard.models import AuditEvent

        seen = db.scalars(select(AuditEvent).where(AuditEvent.patient_id == ids["patient_id"],
                                                   AuditEvent.username == username)).all()
        assert seen == [], [(e.action, e.record_type, e.detail) for e in seen]
