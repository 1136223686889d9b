"""Rooming with two identifiers, routing of device readings, the unassigned queue."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard.audit import verify_chain
from dashboard.models import Device, Encounter, Reading, ReadingEvent
from tests.dashboard.workflow_helpers import (
    appointment,
    audit_events,
    file_bp,
    login,
    room,
    room_id,
)
from tests.dashboard.workflow_helpers import make_app as _make_app


@pytest.fixture
def app(database_url):
    app = _make_app(database_url)
    yield app
    app.extensions["roomvitals.engine"].dispose()


def reading(app, reading_id) -> Reading:
    with Session(app.extensions["roomvitals.engine"]) as db:
        found = db.get(Reading, reading_id)
        db.expunge_all()
        return found


def test_the_schedule_lists_todays_patients_of_every_age_and_audits_each(app):
    client = app.test_client()
    login(client)
    page = client.get("/assistant/").get_data(as_text=True)
    assert "Okafor, Mia" in page and "9 mo" in page and "Kowalski, Helen" in page
    viewed = {e.patient_id for e in audit_events(app, "view", "appointment")}
    assert len(viewed) == 8 and None not in viewed


def test_a_wrong_date_of_birth_is_refused_next_to_the_field(app):
    client = app.test_client()
    token = login(client)
    appt, patient = appointment(app, "DEMO-1006")
    response = client.post(f"/assistant/appointments/{appt.id}/room", data={
        "csrf_token": token, "room": room_id(app, "exam-1"),
        "name": f"{patient.given_name} {patient.family_name}",
        "date_of_birth": (patient.date_of_birth - timedelta(days=1)).isoformat()})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    field = page.index('name="date_of_birth"')
    error = page.index("This date of birth does not match")
    assert 0 < error - field < 400  # the message sits right after its field
    with Session(app.extensions["roomvitals.engine"]) as db:
        assert db.scalar(select(Encounter)) is None
    [failed] = audit_events(app, "identity_failed")
    assert failed.patient_id == patient.id


def test_a_wrong_name_is_refused_and_the_right_one_in_another_order_accepted(app):
    client = app.test_client()
    token = login(client)
    appt, patient = appointment(app, "DEMO-1005")  # Grace O'Brien
    wrong = client.post(f"/assistant/appointments/{appt.id}/room", data={
        "csrf_token": token, "room": room_id(app, "exam-2"), "name": "Grace Obrian",
        "date_of_birth": patient.date_of_birth.isoformat()})
    assert wrong.status_code == 422 and "This name does not match" in wrong.get_data(as_text=True)
    dob = patient.date_of_birth
    right = client.post(f"/assistant/appointments/{appt.id}/room", data={
        "csrf_token": token, "room": room_id(app, "exam-2"), "name": "obrien, grace",
        "date_of_birth": f"{dob.month:02d}/{dob.day:02d}/{dob.year}"})
    assert right.status_code == 302
    [created] = audit_events(app, "create", "encounter")
    assert created.patient_id == patient.id


def test_a_room_holds_one_patient_at_a_time(app):
    client = app.test_client()
    token = login(client)
    room(client, token, app, "DEMO-1006", "exam-1")
    appt, patient = appointment(app, "DEMO-1007")
    response = client.post(f"/assistant/appointments/{appt.id}/room", data={
        "csrf_token": token, "room": room_id(app, "exam-1"),
        "name": f"{patient.given_name} {patient.family_name}",
        "date_of_birth": patient.date_of_birth.isoformat()})
    assert response.status_code == 422
    assert "has a patient already" in response.get_data(as_text=True)


def test_a_device_reading_from_a_roomed_room_arrives_pending_for_that_encounter(app):
    client = app.test_client()
    token = login(client)
    encounter_id = room(client, token, app, "DEMO-1006", "exam-1")
    reading_id = file_bp(app, room_name="exam-1", flags={"cuff_loose"})
    row = reading(app, reading_id)
    assert (row.state, row.encounter_id, row.source) == ("pending", encounter_id, "device")
    page = client.get(f"/assistant/encounters/{encounter_id}/pending").get_data(as_text=True)
    assert reading_id in page and "cuff loose" in page and "cuff-1" in page
    revision = client.get(f"/assistant/encounters/{encounter_id}/revision").json["revision"]
    file_bp(app, room_name="exam-1")
    assert client.get(f"/assistant/encounters/{encounter_id}/revision").json["revision"] > revision


def test_readings_that_cannot_be_placed_go_to_the_unassigned_queue(app):
    client = app.test_client()
    token = login(client)
    room(client, token, app, "DEMO-1006", "exam-1")
    empty_room = file_bp(app, room_name="exam-3")
    now = datetime.now(UTC)
    from_memory = file_bp(app, room_name="exam-1", measured_at=now - timedelta(hours=2),
                          received_at=now, source="device")
    # A portable device in a roomed room still needs an assignment: never guessed.
    portable_id = file_bp(app, room_name="exam-1", device="spot-1")
    with Session(app.extensions["roomvitals.engine"]) as db, db.begin():
        db.scalar(select(Device).where(Device.device_id == "spot-1")).mobility = "portable"
    portable = file_bp(app, room_name="exam-1", device="spot-1")
    for reading_id in (empty_room, from_memory, portable):
        assert (reading(app, reading_id).state, reading(app, reading_id).encounter_id) == (
            "unassigned", None)
    assert reading(app, portable_id).state == "pending"  # static until marked portable
    page = client.get("/assistant/unassigned").get_data(as_text=True)
    assert empty_room in page and from_memory in page and portable in page


def test_a_portable_device_charts_to_the_encounter_it_is_assigned_to(app):
    client = app.test_client()
    token = login(client)
    encounter_id = room(client, token, app, "DEMO-1006", "exam-2")
    file_bp(app, room_name="exam-4", device="spot-1")
    with Session(app.extensions["roomvitals.engine"]) as db, db.begin():
        device = db.scalar(select(Device).where(Device.device_id == "spot-1"))
        device.mobility = "portable"
        device_pk = device.id
    response = client.post(f"/assistant/encounters/{encounter_id}/devices",
                           data={"csrf_token": token, "device": device_pk})
    assert response.status_code == 302
    # Carried from exam-4 (no patient) the reading still belongs to the assigned patient.
    reading_id = file_bp(app, room_name="exam-4", device="spot-1")
    assert reading(app, reading_id).encounter_id == encounter_id
    client.post(f"/assistant/encounters/{encounter_id}/devices",
                data={"csrf_token": token, "device": device_pk, "action": "remove"})
    assert reading(app, file_bp(app, room_name="exam-2", device="spot-1")).state == "unassigned"


def test_assign_and_discard_from_the_queue_record_who_and_why(app):
    client = app.test_client()
    token = login(client)
    encounter_id = room(client, token, app, "DEMO-1006", "exam-1")
    first = file_bp(app, room_name="exam-3")
    second = file_bp(app, room_name="exam-3")
    no_reason = client.post(f"/assistant/readings/{first}/assign",
                            data={"csrf_token": token, "encounter": encounter_id, "reason": ""})
    assert no_reason.status_code == 422 and "Give a reason" in no_reason.get_data(as_text=True)
    assert client.post(f"/assistant/readings/{first}/assign", data={
        "csrf_token": token, "encounter": encounter_id,
        "reason": "cuff in exam-3 used for this patient"}).status_code == 302
    assert client.post(f"/assistant/readings/{second}/discard", data={
        "csrf_token": token, "reason": "test inflation, no patient"}).status_code == 302
    assert (reading(app, first).state, reading(app, first).encounter_id) == (
        "pending", encounter_id)
    assert reading(app, second).state == "discarded"
    with Session(app.extensions["roomvitals.engine"]) as db:
        events = db.scalars(select(ReadingEvent).where(
            ReadingEvent.action.in_(["assign", "discard"])).order_by(ReadingEvent.id)).all()
        assert [(e.action, e.reason, e.user.username) for e in events] == [
            ("assign", "cuff in exam-3 used for this patient", "ma.jones"),
            ("discard", "test inflation, no patient", "ma.jones")]
        assert verify_chain(db) == []
    assign = audit_events(app, "assign")[0]
    assert assign.patient_id is not None


def test_admins_do_not_see_patients_and_assistants_do_not_edit_question_sets(app):
    admin = app.test_client()
    login(admin, "admin.kim")
    assert admin.get("/assistant/").status_code == 403
    assistant = app.test_client()
    login(assistant)
    assert assistant.get("/admin/question-sets/").status_code == 403
