"""The physician's briefing: content for an adult and a child, live events, audit and roles.

Data goes in through the assistant's real pages and the real filing code (SQLite and
PostgreSQL); earlier visits are written as rows, as an EHR import would leave them.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from dashboard import briefing
from dashboard.models import Encounter, Patient, Reading, ReadingObservation
from tests.dashboard.workflow_helpers import audit_events, file_bp, login, room
from tests.dashboard.workflow_helpers import make_app as _make_app
from vitals.kinds import kind


@pytest.fixture
def app(database_url):
    app = _make_app(database_url, SSE_POLL_SECONDS=0.05)
    yield app
    app.extensions["roomvitals.engine"].dispose()


def db(app) -> Session:
    return Session(app.extensions["roomvitals.engine"])


def post(client, path, token, **data):
    response = client.post(path, data={"csrf_token": token, **data})
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    return response


def past_visit(app, encounter_id: int, days_ago: int, **values: float) -> None:
    """An earlier, finished visit of the same patient with accepted readings ``values``."""
    with db(app) as session, session.begin():
        current = session.get(Encounter, encounter_id)
        at = current.started_at - timedelta(days=days_ago)
        earlier = Encounter(
            site=current.site, patient_id=current.patient_id, room_id=current.room_id,
            status="done", status_changed_at=at, reason_for_visit="earlier visit",
            identity_confirmed_at=at, started_at=at, ended_at=at + timedelta(minutes=30),
            revision=1,
        )
        session.add(earlier)
        session.flush()
        reading = Reading(
            id=str(uuid.uuid4()), room_id=current.room_id, measured_at=at,
            measured_at_source="entered", received_at=at, filed_at=at, flags=[], raw="",
            encounter_id=earlier.id, state="accepted", source="manual", accepted_at=at,
            state_changed_at=at,
        )
        session.add(reading)
        for position, (name, value) in enumerate(values.items()):
            spec = kind(name)
            session.add(ReadingObservation(
                reading_id=reading.id, position=position, kind=name, value=str(value),
                unit=spec.unit, canonical_value=value, canonical_unit=spec.unit, mdc=spec.mdc,
                loinc=spec.loinc,
            ))


@pytest.fixture
def adult(app):
    """Samuel Adeyemi, 52, roomed for a blood pressure follow-up, with a visit's worth of data."""
    client = app.test_client()
    token = login(client)
    encounter_id = room(client, token, app, "DEMO-1006", "exam-1")
    past_visit(app, encounter_id, 60, weight=90.0, systolic=150, diastolic=95)
    past_visit(app, encounter_id, 30, weight=91.0, systolic=146, diastolic=92)
    accepted = file_bp(app, systolic="186", diastolic="96", pulse="104",
                       flags={"irregular_pulse"})
    post(client, f"/assistant/readings/{accepted}/accept", token)
    file_bp(app, systolic="150", diastolic="90", pulse="90")  # left pending
    base = f"/assistant/encounters/{encounter_id}"
    post(client, f"{base}/manual", token, temperature="38.4", temperature_unit="Cel",
         temperature_site="oral", spo2="93", resp_rate="22", weight="92.5", weight_unit="kg",
         height="180", height_unit="cm")
    post(client, f"{base}/details", token, reason_for_visit="Blood pressure follow-up",
         question_set="hypertension", pregnant="")
    post(client, f"{base}/triage", token, question_set="hypertension", home_readings="no",
         missed_doses="yes", headache="yes", chest_pain="no")
    post(client, f"{base}/labs/glucose_fingerstick", token, glucose="182", context="fasting")
    return client, token, encounter_id


def test_adult_briefing_shows_patient_vitals_flags_and_news2(app, adult):
    client, _, encounter_id = adult
    with db(app) as session:
        b = briefing.assemble(session, encounter_id, units="metric")
    assert b.name == "Samuel Adeyemi" and b.age_label == "52 years" and b.sex == "Male"
    assert b.allergies == ("Lisinopril (cough)",)
    assert b.reason == "Blood pressure follow-up"
    # Positives first, each group in question order; the unanswered question is pending.
    assert [(a.answer, a.positive) for a in b.answers] == [
        ("yes", True), ("yes", True), ("no", False), ("no", False)]
    assert [a.question for a in b.answers][:2] == [
        "Missed any blood pressure medicine this week?", "Headaches?"]
    vitals = {v.key: v for v in b.vitals}
    assert vitals["bp"].value == "186/96"
    assert {f.text for f in vitals["bp"].flags} == {
        "Severe BP elevation (>180/120)", "Stage 2 hypertension"}
    assert vitals["bp"].device_flags == ("irregular_pulse",)
    assert vitals["bp"].note == "one reading"
    assert any("Fever" in f.text for f in vitals["temperature"].flags)
    assert any("below target" in f.text for f in vitals["spo2"].flags)
    assert vitals["weight"].value == "92.5" and vitals["weight"].unit == "kg"
    derived = {v.key: v for v in b.derived}
    assert derived["bmi"].value == "28.5"  # 92.5 / 1.8^2 = 28.55 -> shown 28.5 (half-even)
    assert [f.text for f in derived["bmi"].flags] == ["Overweight"]
    assert derived["map"].value == "126"  # (186 + 2*96)/3
    assert derived["shock_index"].value == "0.56"
    # NEWS2: RR 22 -> 2, SpO2 93 -> 2, SBP 186 -> 0, pulse 104 -> 1, A -> 0, 38.4 -> 1 = 6.
    assert b.news2.total == 6 and b.news2.risk == "Medium"
    assert "assumes alert" in b.news2.note
    pending = " | ".join(b.pending)
    assert "1 device reading to review" in pending
    assert "1 triage question unanswered" in pending
    tests = {t.label: t for t in b.tests}
    assert tests["Fingerstick glucose"].abnormal and "182" in tests["Fingerstick glucose"].value
    # Change since previous visits: the last previous value, the difference, a chart.
    trends = {t.label: t for t in b.trends}
    assert trends["Weight"].previous == "91.0" and trends["Weight"].current == "92.5"
    assert trends["Weight"].difference == "+1.5"
    assert trends["Systolic"].difference == "+40"
    assert trends["Weight"].svg.startswith("<svg") and trends["Weight"].svg.count(",") == 3

    page = client.get(f"/briefing/{encounter_id}").get_data(as_text=True)
    assert "Samuel Adeyemi" in page and "Lisinopril (cough)" in page
    assert "186/96" in page and "Severe BP elevation" in page and "NEWS2" in page
    assert page.index("Missed any blood pressure") < page.index("Checking blood pressure")
    assert "<svg" in page and "<script>" not in page  # charts are markup, scripts are files


def test_news2_uses_the_consciousness_and_oxygen_the_assistant_recorded(app, adult):
    client, token, encounter_id = adult
    with db(app) as session:
        encounter = session.get(Encounter, encounter_id)
        details = {"reason_for_visit": encounter.reason_for_visit,
                   "question_set": encounter.question_set_code or "", "pregnant": ""}

    def news2(**recorded):
        post(client, f"/assistant/encounters/{encounter_id}/details", token,
             **details, **recorded)
        with db(app) as session:
            return briefing.assemble(session, encounter_id, units="metric").news2

    # The adult's vitals score 6 on room air, alert (test above). Responds to voice: +3;
    # any supplemental oxygen: +2 (RCP NEWS2 2017, Chart 1).
    line = news2(consciousness="V", on_oxygen="yes")
    assert line.total == 11 and line.risk == "High" and line.red_score
    assert "assumes" not in line.note
    # Scale 2 (target 88-92 %): SpO2 93 on oxygen scores 1 instead of scale 1's 2.
    line = news2(consciousness="V", on_oxygen="yes", spo2_scale="2")
    assert line.total == 10 and "SpO2 scale 2" in line.note
    # Recorded as alert on room air: the same 6 as assumed, without the caveat.
    line = news2(consciousness="A", on_oxygen="no")
    assert line.total == 6 and "assumes" not in line.note
    line = news2(consciousness="", on_oxygen="no")
    assert line.note.startswith("assumes alert") and "room air" not in line.note
    # Anything else is refused next to its field, and nothing is changed.
    response = client.post(f"/assistant/encounters/{encounter_id}/details",
                           data={"csrf_token": token, **details, "consciousness": "X"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Choose one of the list." in page
    assert (page.index('name="consciousness"') < page.index("Choose one of the list.")
            < page.index('name="on_oxygen"'))
    with db(app) as session:
        assert session.get(Encounter, encounter_id).consciousness is None


def test_units_follow_the_clinic_preference(database_url):
    app = _make_app(database_url, UNITS="us")
    try:
        client = app.test_client()
        token = login(client)
        encounter_id = room(client, token, app, "DEMO-1006", "exam-1")
        post(client, f"/assistant/encounters/{encounter_id}/manual", token, weight="92.5",
             weight_unit="kg", temperature="38.4", temperature_unit="Cel",
             temperature_site="oral")
        page = client.get(f"/briefing/{encounter_id}").get_data(as_text=True)
        assert re.search(r'class="value">203\.9</span> <span class="unit">lb', page)
        assert re.search(r'class="value">101\.1</span> <span class="unit">°F', page)
        with db(app) as session:  # stored canonical
            values = set(session.scalars(select(ReadingObservation.canonical_value)))
        assert {92.5, 38.4} <= values
    finally:
        app.extensions["roomvitals.engine"].dispose()


def test_child_briefing_uses_bmi_for_age_and_paediatric_centiles_without_news2(app):
    client = app.test_client()
    token = login(client)
    encounter_id = room(client, token, app, "DEMO-1003", "exam-2")  # Zoë, 7 y, F
    post(client, f"/assistant/encounters/{encounter_id}/manual", token, weight="30",
         weight_unit="kg", height="125", height_unit="cm", resp_rate="30")
    file_bp(app, room_name="exam-2", systolic="100", diastolic="60", pulse="128")
    with db(app) as session:
        pending = session.scalar(select(Reading).where(Reading.state == "pending"))
        patient = session.scalar(select(Patient).where(Patient.mrn == "DEMO-1003"))
    post(client, f"/assistant/readings/{pending.id}/accept", token)
    with db(app) as session:
        b = briefing.assemble(session, encounter_id, units="metric")
    assert b.age_label == "7 years" and b.news2 is None
    derived = {v.key: v for v in b.derived}
    # BMI 30 / 1.25^2 = 19.2: for a girl of 7 y 4 mo (CDC P85 about 18.0, P95 about 20.0)
    # that is overweight, not the adult "normal weight".
    assert derived["bmi"].value == "19.2"
    assert derived["bmi"].flags[0].text == "Overweight (BMI-for-age 93rd percentile)"
    assert "CDC BMI-for-age" in derived["bmi"].note
    assert "shock_index" not in derived  # an adult index
    vitals = {v.key: v for v in b.vitals}
    assert vitals["bp"].flags[0].text == "Adult BP categories do not apply under 18"
    # Fleming 2011, 6-8 years: HR 90th centile 111, 99th 123; RR 99th 27.
    assert vitals["pulse_rate"].flags[0].text.startswith("Above 99th centile (age 6-8 years")
    assert vitals["resp_rate"].flags[0].level == "alert"
    assert patient.sex == "F"
    page = client.get(f"/briefing/{encounter_id}").get_data(as_text=True)
    assert "NEWS2" not in page and "BMI-for-age" in page


def test_news2_is_not_shown_in_pregnancy(app):
    client = app.test_client()
    token = login(client)
    encounter_id = room(client, token, app, "DEMO-1005", "exam-1")  # Grace, 29, F
    base = f"/assistant/encounters/{encounter_id}"
    post(client, f"{base}/manual", token, resp_rate="16", spo2="98", temperature="36.8",
         temperature_unit="Cel", temperature_site="oral", systolic="112", diastolic="70",
         pulse_rate="80")
    with db(app) as session:
        unknown = briefing.assemble(session, encounter_id)
    assert unknown.news2.total == 0 and "pregnancy not asked" in unknown.news2.note
    post(client, f"{base}/details", token, reason_for_visit="Burning on urination",
         question_set="urinary", pregnant="yes")
    with db(app) as session:
        assert briefing.assemble(session, encounter_id).news2 is None


def test_an_implausible_value_is_never_shown_as_real(app):
    client = app.test_client()
    token = login(client)
    encounter_id = room(client, token, app, "DEMO-1006", "exam-1")
    with db(app) as session, session.begin():  # 98.6 degF charted as degC by a broken device
        now = datetime.now(UTC)
        reading = Reading(
            id=str(uuid.uuid4()), room_id=session.get(Encounter, encounter_id).room_id,
            measured_at=now, measured_at_source="entered", received_at=now, filed_at=now,
            flags=[], raw="", encounter_id=encounter_id, state="accepted", source="manual",
            state_changed_at=now)
        session.add(reading)
        spec = kind("temperature")
        session.add(ReadingObservation(
            reading_id=reading.id, position=0, kind="temperature", value="98.6", unit="Cel",
            canonical_value=98.6, canonical_unit="Cel", mdc=spec.mdc, loinc=spec.loinc))
    page = client.get(f"/briefing/{encounter_id}").get_data(as_text=True)
    assert "98.6" not in page and "Implausible value" in page
    assert "Fever" not in page


def test_query_count_does_not_grow_with_the_number_of_readings(app, adult):
    client, token, encounter_id = adult
    engine = app.extensions["roomvitals.engine"]

    def count_queries() -> int:
        statements: list[str] = []

        def record(conn, cursor, statement, *args):
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", record)
        try:
            with db(app) as session:
                assert briefing.assemble(session, encounter_id) is not None
        finally:
            event.remove(engine, "before_cursor_execute", record)
        return len(statements)

    few = count_queries()
    for systolic in range(120, 140):
        accepted = file_bp(app, systolic=str(systolic), diastolic="80", pulse="70")
        post(client, f"/assistant/readings/{accepted}/accept", token)
    for days in (90, 120, 150):
        past_visit(app, encounter_id, days, weight=89.0, pulse_rate=70)
    assert count_queries() == few
    assert few <= 15


def test_every_view_is_audited_with_the_patient(app, adult):
    client, _, encounter_id = adult
    with db(app) as session:
        patient_id = session.get(Encounter, encounter_id).patient_id
    for path in ("", "/body", "/print"):
        assert client.get(f"/briefing/{encounter_id}{path}").status_code == 200
    views = audit_events(app, action="view", record_type="briefing")
    assert [e.detail["page"] for e in views] == ["briefing", "briefing update", "print"]
    assert {e.patient_id for e in views} == {patient_id}
    assert {e.username for e in views} == {"ma.jones"}


def test_who_may_read_a_briefing(app, adult):
    _, _, encounter_id = adult
    anonymous = app.test_client().get(f"/briefing/{encounter_id}")
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/login")
    assert app.test_client().get(f"/briefing/{encounter_id}/events").status_code in (302, 401)
    physician = app.test_client()
    login(physician, "dr.lee")
    assert physician.get(f"/briefing/{encounter_id}").status_code == 200
    admin = app.test_client()
    login(admin, "admin.kim")
    assert admin.get(f"/briefing/{encounter_id}").status_code == 403
    assert physician.get("/briefing/999999").status_code == 404


def test_the_event_stream_pushes_a_revision_when_the_assistant_accepts(app, adult):
    client, token, encounter_id = adult
    physician = app.test_client()
    login(physician, "dr.lee")
    with db(app) as session:
        start = session.get(Encounter, encounter_id).revision
    response = physician.get(f"/briefing/{encounter_id}/events?revision={start}")
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    stream = iter(response.response)
    assert next(stream).decode().startswith("retry:")
    pending = file_bp(app, systolic="140", diastolic="85", pulse="75")  # filing bumps too
    post(client, f"/assistant/readings/{pending}/accept", token)
    with db(app) as session:
        now = session.get(Encounter, encounter_id).revision
    seen = []
    while str(now) not in seen:
        chunk = next(stream).decode()
        if chunk.startswith("event: revision"):
            seen.append(chunk.split("data: ")[1].strip())
    assert int(seen[-1]) == now > start
    response.close()
    # The body the page fetches then has the accepted reading.
    body = physician.get(f"/briefing/{encounter_id}/body").get_data(as_text=True)
    assert "140/85" in body and f'data-revision="{now}"' in body


def test_the_stream_says_when_the_visit_ends_and_when_it_is_gone(app, adult):
    client, token, encounter_id = adult
    response = client.get(f"/briefing/{encounter_id}/events?revision=0")
    stream = iter(response.response)
    next(stream)
    post(client, f"/assistant/encounters/{encounter_id}/status", token, status="done")
    chunks = []
    while not any(c.startswith("event: ended") for c in chunks):
        chunks.append(next(stream).decode())
    response.close()


def test_live_updates_do_not_keep_an_idle_login_alive(app, adult):
    client, _, encounter_id = adult
    with client.session_transaction() as session:
        session["last_seen"] = last = datetime.now(UTC).timestamp() - 600
    assert client.get(f"/briefing/{encounter_id}/body").status_code == 200
    with client.session_transaction() as session:
        assert session["last_seen"] == last
    # The stream ends with "expired" at the idle deadline (15 min after the last touch).
    with client.session_transaction() as session:
        session["last_seen"] = datetime.now(UTC).timestamp() - 15 * 60 + 3
    response = client.get(f"/briefing/{encounter_id}/events?revision=0")
    chunks = [c.decode() for c in response.response]
    assert chunks[-1].startswith("event: expired")
    # The login has expired: the page reload the script does goes to the login page.
    reload = client.get(f"/briefing/{encounter_id}")
    assert reload.status_code == 302 and "expired=1" in reload.headers["Location"]


def test_opening_the_page_counts_as_activity(app, adult):
    client, _, encounter_id = adult
    with client.session_transaction() as session:
        session["last_seen"] = last = datetime.now(UTC).timestamp() - 600
    assert client.get(f"/briefing/{encounter_id}").status_code == 200
    with client.session_transaction() as session:
        assert session["last_seen"] > last + 500


def test_the_room_address_shows_whoever_is_in_the_room(app, adult):
    client, _, encounter_id = adult
    response = client.get("/briefing/room/exam-1")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/briefing/{encounter_id}")
    empty = client.get("/briefing/room/exam-3")
    assert empty.status_code == 200 and "No patient is roomed here" in empty.get_data(True)
    assert client.get("/briefing/room/nowhere").status_code == 404


def test_sparkline_is_markup_only():
    svg = briefing.sparkline([90.0, 91.0, 92.5])
    assert svg.startswith("<svg") and "script" not in svg and "style=" not in svg
    assert briefing.sparkline([90.0]) == ""
