"""Accept, edit, reject; manual entry; repeat and orthostatic BP; triage; screenings; status."""

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard.models import (
    Encounter,
    LabResult,
    QuestionSet,
    Reading,
    ReadingEvent,
    TriageAnswer,
)
from tests.dashboard.workflow_helpers import audit_events, file_bp, login, room
from tests.dashboard.workflow_helpers import make_app as _make_app


@pytest.fixture
def app(database_url):
    app = _make_app(database_url)
    yield app
    app.extensions["roomvitals.engine"].dispose()


@pytest.fixture
def roomed(app):
    client = app.test_client()
    token = login(client)
    encounter_id = room(client, token, app, "DEMO-1006", "exam-1")  # Samuel Adeyemi, 52
    return client, token, encounter_id


def db(app):
    return Session(app.extensions["roomvitals.engine"])


def post(client, path, token, **data):
    return client.post(path, data={"csrf_token": token, **data})


def test_accept_edit_and_reject_keep_the_history(app, roomed):
    client, token, encounter_id = roomed
    accepted, edited, rejected = (file_bp(app, systolic=s) for s in ("128", "182", "250"))
    assert post(client, f"/assistant/readings/{accepted}/accept", token).status_code == 302
    no_reason = post(client, f"/assistant/readings/{edited}/edit", token, position="0",
                     value="132", unit="mm[Hg]", reason="")
    assert no_reason.status_code == 422 and "Give a reason" in no_reason.get_data(as_text=True)
    assert post(client, f"/assistant/readings/{edited}/edit", token, position="0", value="132",
                unit="mm[Hg]", reason="patient was talking; repeated manually").status_code == 302
    assert post(client, f"/assistant/readings/{rejected}/reject", token,
                reason="cuff loose").status_code == 302
    # A reviewed reading cannot be reviewed again.
    again = post(client, f"/assistant/readings/{rejected}/accept", token)
    assert again.status_code == 422 and "is rejected" in again.get_data(as_text=True)
    with db(app) as session:
        states = {r.id: (r.state, r.accepted_by is not None)
                  for r in session.scalars(select(Reading))}
        assert states[accepted] == ("accepted", True)
        assert states[edited] == ("accepted", True)
        assert states[rejected] == ("rejected", False)
        systolic = session.get(Reading, edited).observations[0]
        assert (systolic.value, systolic.canonical_value) == ("132", 132.0)
        [edit] = session.scalars(select(ReadingEvent).where(ReadingEvent.action == "edit")).all()
        assert (edit.kind, edit.old_value, edit.new_value, edit.reason, edit.user.username) == (
            "systolic", "182", "132", "patient was talking; repeated manually", "ma.jones")
        [reject] = session.scalars(
            select(ReadingEvent).where(ReadingEvent.action == "reject")).all()
        assert reject.reason == "cuff loose"
    page = client.get(f"/assistant/encounters/{encounter_id}").get_data(as_text=True)
    assert "182 → 132" in page
    patients = {e.patient_id for e in audit_events(app, record_type="reading")}
    assert len(patients) == 1 and None not in patients
    assert post(client, f"/assistant/readings/{accepted}/error", token,
                reason="wrong patient's cuff").status_code == 302
    with db(app) as session:
        assert session.get(Reading, accepted).state == "entered_in_error"


def test_the_average_of_repeated_blood_pressures(app, roomed):
    client, token, encounter_id = roomed
    for systolic, diastolic in (("142", "91"), ("137", "88"), ("135", "86")):
        post(client, f"/assistant/readings/{file_bp(app, systolic=systolic, diastolic=diastolic)}"
             "/accept", token)
    rejected = file_bp(app, systolic="200", diastolic="120")
    assert post(client, f"/assistant/readings/{rejected}/reject", token,
                reason="patient moving").status_code == 302
    page = client.get(f"/assistant/encounters/{encounter_id}").get_data(as_text=True)
    # (142+137+135)/3 = 138, (91+88+86)/3 = 88.33 -> 88; the rejected one is left out.
    assert "average of 3: <strong>138/88 mmHg</strong> (stage 1)" in page


def test_an_orthostatic_set_lying_sitting_standing(app, roomed):
    client, token, encounter_id = roomed
    for position, systolic, diastolic, pulse in (("lying", "132", "84", "68"),
                                                 ("sitting", "124", "80", "76"),
                                                 ("standing", "110", "78", "92")):
        reading_id = file_bp(app, systolic=systolic, diastolic=diastolic, pulse=pulse)
        assert post(client, f"/assistant/readings/{reading_id}/accept", token,
                    body_position=position, minutes_after_standing="3").status_code == 302
    page = client.get(f"/assistant/encounters/{encounter_id}").get_data(as_text=True)
    assert "systolic drop 22, diastolic drop 6, pulse rise 24" in page
    assert "<strong>orthostatic hypotension</strong>" in page
    assert "average of" not in page  # positional readings are not averaged as repeats


def test_manual_entry_is_marked_manual_and_implausible_values_are_refused(app, roomed):
    client, token, encounter_id = roomed
    bad = post(client, f"/assistant/encounters/{encounter_id}/manual", token,
               resp_rate="16", temperature="98.6", temperature_unit="Cel",
               temperature_site="oral", pain_score="11")
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert "not a plausible body temperature" in page and "Was it °F?" in page
    assert "Pain is a whole number from 0 to 10." in page
    with db(app) as session:
        assert session.scalar(select(Reading)) is None  # nothing charted from a bad form
    no_site = post(client, f"/assistant/encounters/{encounter_id}/manual", token,
                   temperature="37.2", temperature_unit="Cel")
    assert "Choose where the temperature was taken." in no_site.get_data(as_text=True)
    ok = post(client, f"/assistant/encounters/{encounter_id}/manual", token,
              resp_rate="16", pain_score="3", temperature="99.5",
              temperature_unit="[degF]", temperature_site="tympanic", height="70",
              height_unit="[in_i]")
    assert ok.status_code == 302
    with db(app) as session:
        rows = session.scalars(select(Reading).where(Reading.encounter_id == encounter_id)).all()
        assert {r.source for r in rows} == {"manual"}
        assert {r.state for r in rows} == {"accepted"}
        by_kind = {o.kind: (o, r) for r in rows for o in r.observations}
        temperature, reading = by_kind["temperature"]
        assert (temperature.value, temperature.unit, reading.body_site) == (
            "99.5", "[degF]", "tympanic")
        assert temperature.canonical_value == pytest.approx(37.5)
        assert by_kind["height"][0].canonical_value == pytest.approx(177.8)
        assert by_kind["pain_score"][0].loinc == "72514-3"
    page = client.get(f"/assistant/encounters/{encounter_id}").get_data(as_text=True)
    assert page.count('class="manual">manual') == 4
    assert "37.5</span> <span class=\"unit\">°C" in page  # shown as the clinic prefers


def test_triage_questions_follow_the_reason_for_visit(app, roomed):
    client, token, encounter_id = roomed
    page = client.get(f"/assistant/encounters/{encounter_id}").get_data(as_text=True)
    assert "Blood pressure follow-up" in page and "Missed any blood pressure medicine" in page
    bad = post(client, f"/assistant/encounters/{encounter_id}/triage", token,
               question_set="hypertension", headache="maybe")
    assert bad.status_code == 422 and "Answer yes or no." in bad.get_data(as_text=True)
    assert post(client, f"/assistant/encounters/{encounter_id}/triage", token,
                question_set="hypertension", home_readings="yes", missed_doses="no",
                headache="yes").status_code == 302
    with db(app) as session:
        answers = session.scalars(select(TriageAnswer).order_by(TriageAnswer.position)).all()
        assert [(a.question_key, a.answer, a.positive) for a in answers] == [
            ("home_readings", "yes", True), ("missed_doses", "no", False),
            ("headache", "yes", True)]
        assert answers[0].question_text == "Checking blood pressure at home?"
    # Changing the reason switches the set; an admin's edit of a set is data, not code.
    post(client, f"/assistant/encounters/{encounter_id}/details", token,
         reason_for_visit="Sore throat", question_set="sore_throat")
    assert "Contact with someone with strep throat?" in client.get(
        f"/assistant/encounters/{encounter_id}").get_data(as_text=True)
    admin = app.test_client()
    admin_token = login(admin, "admin.kim")
    bad_set = post(admin, "/admin/question-sets/sore_throat", admin_token, label="Sore throat",
                   questions="fever | maybe | Fever?", active="yes")
    assert bad_set.status_code == 422 and "line 1: type must be" in bad_set.get_data(
        as_text=True)
    assert post(admin, "/admin/question-sets/sore_throat", admin_token, label="Sore throat",
                keywords="throat", active="yes",
                questions="fever | yes_no | Fever?\nrash | yes_no | Sandpaper rash?"
                ).status_code == 302
    with db(app) as session:
        qset = session.scalar(select(QuestionSet).where(QuestionSet.code == "sore_throat"))
        assert (qset.version, [q["key"] for q in qset.questions]) == (2, ["fever", "rash"])
    assert "Sandpaper rash?" in client.get(
        f"/assistant/encounters/{encounter_id}").get_data(as_text=True)


def test_vision_hearing_and_labs_with_reference_ranges(app, roomed):
    client, token, encounter_id = roomed
    assert post(client, f"/assistant/encounters/{encounter_id}/vision", token, eye="right",
                numerator="20", denominator="40").status_code == 302
    bad = post(client, f"/assistant/encounters/{encounter_id}/vision", token, eye="left",
               numerator="20", denominator="x")
    assert bad.status_code == 422 and "Enter a whole number." in bad.get_data(as_text=True)
    assert post(client, f"/assistant/encounters/{encounter_id}/hearing", token, ear="left",
                frequency_hz="4000", level_db="25", result="refer").status_code == 302
    assert post(client, f"/assistant/encounters/{encounter_id}/labs/glucose_fingerstick", token,
                glucose="112", context="fasting").status_code == 302
    assert post(client, f"/assistant/encounters/{encounter_id}/labs/hemoglobin", token,
                hemoglobin="12.4").status_code == 302
    dip = {"glucose": "negative", "protein": "trace", "ketones": "negative",
           "blood": "negative", "leukocytes": "1+", "nitrite": "positive", "ph": "6.0",
           "specific_gravity": "1.020"}
    assert post(client, f"/assistant/encounters/{encounter_id}/labs/urine_dipstick", token,
                **dip).status_code == 302
    wrong = post(client, f"/assistant/encounters/{encounter_id}/labs/rapid_strep", token,
                 strep_a_antigen="probably")
    assert wrong.status_code == 422 and "Choose one of: negative, positive, invalid." in (
        wrong.get_data(as_text=True))
    with db(app) as session:
        results = {(r.test, r.analyte): r for r in session.scalars(select(LabResult))}
        glucose = results[("glucose_fingerstick", "glucose")]
        assert (glucose.value, glucose.unit, glucose.reference_text, glucose.interpretation) == (
            "112", "mg/dL", "70-99", "high")
        hemoglobin = results[("hemoglobin", "hemoglobin")]  # a man of 52: WHO < 13.0 is low
        assert (hemoglobin.reference_low, hemoglobin.interpretation) == (13.0, "low")
        assert results[("urine_dipstick", "protein")].interpretation == "normal"
        assert results[("urine_dipstick", "nitrite")].interpretation == "abnormal"
        assert results[("urine_dipstick", "leukocytes")].loinc == "5799-2"
    page = client.get(f"/assistant/encounters/{encounter_id}").get_data(as_text=True)
    assert "right: 20/40" in page and "left 4000 Hz at 25 dB" in page
    kinds = {e.record_type for e in audit_events(app, "create")}
    assert {"vision", "hearing", "lab"} <= kinds
    assert all(e.patient_id for e in audit_events(app, "create")
               if e.record_type in ("vision", "hearing", "lab"))


def test_ready_for_physician_waits_for_pending_readings(app, roomed):
    client, token, encounter_id = roomed
    pending = file_bp(app)
    refused = post(client, f"/assistant/encounters/{encounter_id}/status", token,
                   status="ready_for_physician")
    assert refused.status_code == 422
    assert "Accept, edit or reject the 1 pending reading(s) first." in refused.get_data(
        as_text=True)
    post(client, f"/assistant/readings/{pending}/accept", token)
    assert post(client, f"/assistant/encounters/{encounter_id}/status", token,
                status="ready_for_physician").status_code == 302
    with db(app) as session:
        encounter = session.get(Encounter, encounter_id)
        assert encounter.status == "ready_for_physician" and encounter.ended_at is None
    skip = post(client, f"/assistant/encounters/{encounter_id}/status", token, status="rooming")
    assert skip.status_code == 302  # back to rooming is allowed (forgot something)
    ready, back = audit_events(app, "status")
    assert ready.detail == {"from": "rooming", "to": "ready_for_physician"}
    assert back.detail == {"from": "ready_for_physician", "to": "rooming"}
    assert ready.patient_id is not None and ready.patient_id == back.patient_id


def test_age_is_in_months_for_infants():
    from dashboard.patients import age

    assert age(date(2025, 3, 15), date(2025, 12, 14)).label == "8 mo"
    assert age(date(2025, 3, 15), date(2025, 12, 15)).label == "9 mo"
    assert age(date(2000, 2, 29), date(2026, 2, 28)).years == 25
