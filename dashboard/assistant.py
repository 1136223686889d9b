"""The medical assistant's pages: schedule, rooming, the room view, the unassigned queue.

Views only: the rules live in ``encounters``, ``review``, ``triage``, ``screenings`` and
``display_units``. Every page that shows a patient appends an audit entry with the patient id.
"""

from __future__ import annotations

import os
from datetime import date
from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from dashboard import audit, display_units, encounters, labs, patients, review, screenings, triage
from dashboard.auth import actor, db_session, roles_required
from dashboard.display_units import EntryError
from dashboard.encounters import FormErrors
from dashboard.models import (
    Appointment,
    Device,
    Encounter,
    HearingScreening,
    LabResult,
    QuestionSet,
    Reading,
    ReadingObservation,
    Room,
    TriageAnswer,
    VisionScreening,
)
from vitals.kinds import KINDS

bp = Blueprint("assistant", __name__, url_prefix="/assistant")
CLINICAL = ("assistant", "physician")

FLAG_LABELS = {
    "cuff_loose": "cuff loose",
    "body_movement": "movement",
    "irregular_pulse": "irregular pulse",
    "low_signal": "low signal",
    "improper_position": "position",
    "motion": "motion",
    "low_perfusion": "low perfusion",
}

# Manual entry groups: one manual reading per group that has a value.
MANUAL_GROUPS = {
    "bp": ("systolic", "diastolic", "pulse_rate"),
    "resp_rate": ("resp_rate",),
    "spo2": ("spo2",),
    "pain_score": ("pain_score",),
    "temperature": ("temperature",),
    "weight": ("weight",),
    "height": ("height",),
}


def units_system() -> str:
    system = current_app.config.get("UNITS") or os.environ.get("ROOMVITALS_UNITS", "us")
    return system if system in display_units.SYSTEMS else "us"


def _site() -> str:
    return current_app.config["SITE"]


def _today() -> date:
    return date.today()


def _encounter(encounter_id: int) -> Encounter:
    encounter = db_session().get(Encounter, encounter_id)
    if encounter is None or encounter.site != _site():
        abort(404)
    return encounter


def _reading(reading_id: str) -> Reading:
    reading = db_session().get(Reading, reading_id)
    if reading is None or reading.room is None or reading.room.site != _site():
        abort(404)
    return reading


def _back(encounter: Encounter, anchor: str = "") -> Any:
    return redirect(url_for("assistant.encounter", encounter_id=encounter.id) + anchor)


@bp.app_template_global()
def shown(kind: str, canonical: float | None) -> display_units.Shown:
    return display_units.show(kind, canonical, units_system())


@bp.app_template_global()
def unit_choices(kind: str) -> list[tuple[str, str]]:
    preferred = display_units.display_unit(kind, units_system())
    units = sorted(KINDS[kind].units, key=lambda u: u != preferred)
    return [(u, display_units.LABELS.get(u, u)) for u in units]


@bp.get("/")
@roles_required(*CLINICAL)
def schedule() -> str:
    db = db_session()
    appointments = encounters.todays_appointments(db, _site(), _today())
    rooms = encounters.site_rooms(db, _site())
    open_by_room = {
        e.room_id: e
        for e in db.scalars(
            select(Encounter).where(Encounter.site == _site(), Encounter.ended_at.is_(None))
        )
    }
    unassigned = len(_unassigned(db))
    for appointment in appointments:
        audit.append(db, actor(), "view", "appointment", appointment.id,
                     patient_id=appointment.patient_id, detail={"page": "schedule"})
    db.commit()
    return render_template(
        "assistant/schedule.html", appointments=appointments, rooms=rooms,
        open_by_room=open_by_room, unassigned=unassigned, today=_today(),
        age=lambda p: patients.age(p.date_of_birth, _today()),
        labels=encounters.LABELS,
    )


@bp.route("/appointments/<int:appointment_id>/room", methods=["GET", "POST"])
@roles_required(*CLINICAL)
def room_patient(appointment_id: int) -> Any:
    db = db_session()
    appointment = db.get(Appointment, appointment_id)
    if appointment is None or appointment.site != _site():
        abort(404)
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            room_id = int(request.form.get("room", "0") or 0)
        except ValueError:
            room_id = 0
        try:
            encounter = encounters.room_patient(
                db, actor(), site=_site(), appointment=appointment, room_id=room_id,
                name=request.form.get("name", ""),
                date_of_birth=request.form.get("date_of_birth", ""),
            )
        except FormErrors as exc:
            errors = exc.errors
            db.commit()  # keep the audit entry of the failed identification
        else:
            db.commit()
            return _back(encounter)
    rooms = encounters.site_rooms(db, _site())
    busy = {e.room_id for e in db.scalars(
        select(Encounter).where(Encounter.site == _site(), Encounter.ended_at.is_(None)))}
    if request.method == "GET":
        audit.append(db, actor(), "view", "appointment", appointment.id,
                     patient_id=appointment.patient_id, detail={"page": "room patient"})
        db.commit()
    return render_template(
        "assistant/room_patient.html", appointment=appointment, rooms=rooms, busy=busy,
        errors=errors, form=request.form,
    ), (422 if errors else 200)


def _encounter_context(encounter: Encounter) -> dict[str, Any]:
    db = db_session()
    readings = list(db.scalars(
        select(Reading)
        .where(Reading.encounter_id == encounter.id)
        .options(selectinload(Reading.observations), selectinload(Reading.device),
                 selectinload(Reading.events))
        .order_by(Reading.received_at)
    ))
    sets = list(db.scalars(select(QuestionSet).where(QuestionSet.active).order_by(
        QuestionSet.label)))
    code = (request.args.get("question_set") or encounter.question_set_code
            or triage.suggest(sets, encounter.reason_for_visit))
    qset = next((s for s in sets if s.code == code), None)
    answers = {a.question_key: a for a in db.scalars(
        select(TriageAnswer).where(TriageAnswer.encounter_id == encounter.id))}
    portable = list(db.scalars(select(Device).where(
        Device.site == encounter.site, Device.mobility == "portable").order_by(Device.device_id)))
    attached = {a.device_pk for a in encounters.open_assignments(db, encounter)}
    patient = encounter.patient
    return {
        "encounter": encounter,
        "patient": patient,
        "age": patients.age(patient.date_of_birth, _today()),
        "pending": [r for r in readings if r.state == "pending"],
        "charted": [r for r in readings if r.state != "pending"],
        "bp_average": review.bp_average(readings),
        "orthostatic": review.orthostatic_set(readings),
        "sets": sets,
        "qset": qset,
        "answers": answers,
        "vision": db.scalars(select(VisionScreening).where(
            VisionScreening.encounter_id == encounter.id).order_by(VisionScreening.id)).all(),
        "hearing": db.scalars(select(HearingScreening).where(
            HearingScreening.encounter_id == encounter.id).order_by(HearingScreening.id)).all(),
        "labs": db.scalars(select(LabResult).where(
            LabResult.encounter_id == encounter.id).order_by(LabResult.id)).all(),
        "lab_tests": labs.TESTS,
        "lab_analytes": {t: labs.analytes(t) for t in labs.TESTS},
        "portable": portable,
        "attached": attached,
        "kinds": KINDS,
        "flag_labels": FLAG_LABELS,
        "labels": encounters.LABELS,
        "transitions": encounters.TRANSITIONS[encounter.status],
        "positions": review.POSITIONS,
        "sites": review.TEMPERATURE_SITES,
        "eyes": screenings.EYES,
        "ears": screenings.EARS,
        "frequencies": screenings.FREQUENCIES,
        "units": units_system(),
    }


def _render_encounter(encounter: Encounter, errors: dict[str, str] | None = None,
                      status: int = 200) -> Any:
    db = db_session()
    context = _encounter_context(encounter)
    audit.append(db, actor(), "view", "encounter", encounter.id,
                 patient_id=encounter.patient_id, detail={"page": "assistant room view"})
    db.commit()
    return render_template("assistant/encounter.html", errors=errors or {},
                           form=request.form, **context), status


@bp.get("/encounters/<int:encounter_id>")
@roles_required(*CLINICAL)
def encounter(encounter_id: int) -> Any:
    return _render_encounter(_encounter(encounter_id))


@bp.get("/encounters/<int:encounter_id>/pending")
@roles_required(*CLINICAL)
def pending_fragment(encounter_id: int) -> Any:
    """The pending readings section alone, for assistant.js to swap in when it changes."""
    found = _encounter(encounter_id)
    context = _encounter_context(found)
    db = db_session()
    audit.append(db, actor(), "view", "encounter", found.id, patient_id=found.patient_id,
                 detail={"page": "pending readings (live)"})
    db.commit()
    return render_template("assistant/_pending.html", errors={}, **context)


@bp.get("/encounters/<int:encounter_id>/revision")
@roles_required(*CLINICAL)
def revision(encounter_id: int) -> dict[str, Any]:
    """No patient data: the number a live view polls to know when to refresh."""
    found = _encounter(encounter_id)
    return {"revision": found.revision, "status": found.status}


def _act(reading: Reading, change) -> Any:
    db = db_session()
    encounter = reading.encounter
    try:
        change(db)
    except (review.ReviewError, EntryError) as exc:
        db.rollback()
        if encounter is None:
            return _render_unassigned({f"reading.{reading.id}": str(exc)}, 422)
        return _render_encounter(_encounter(encounter.id), {f"reading.{reading.id}": str(exc)},
                                 422)
    db.commit()
    if reading.encounter is None:
        return redirect(url_for("assistant.unassigned"))
    return _back(reading.encounter, f"#reading-{reading.id}")


@bp.post("/readings/<reading_id>/accept")
@roles_required(*CLINICAL)
def accept(reading_id: str) -> Any:
    reading = _reading(reading_id)
    position = request.form.get("body_position") or None

    def change(db) -> None:
        if position is not None:
            if position not in review.POSITIONS:
                raise review.ReviewError("Choose lying, sitting or standing.")
            reading.body_position = position
            reading.series = "orthostatic"
            minutes = request.form.get("minutes_after_standing", "").strip()
            if position == "standing":
                try:
                    reading.minutes_after_standing = float(minutes or 3)
                except ValueError:
                    raise review.ReviewError("Minutes after standing must be a number.") from None
        review.accept(db, actor(), reading)

    return _act(reading, change)


@bp.post("/readings/<reading_id>/reject")
@roles_required(*CLINICAL)
def reject(reading_id: str) -> Any:
    reading = _reading(reading_id)
    return _act(reading, lambda db: review.reject(db, actor(), reading,
                                                  request.form.get("reason", "")))


@bp.post("/readings/<reading_id>/error")
@roles_required(*CLINICAL)
def entered_in_error(reading_id: str) -> Any:
    reading = _reading(reading_id)
    return _act(reading, lambda db: review.entered_in_error(db, actor(), reading,
                                                            request.form.get("reason", "")))


@bp.post("/readings/<reading_id>/edit")
@roles_required(*CLINICAL)
def edit(reading_id: str) -> Any:
    reading = _reading(reading_id)
    try:
        position = int(request.form.get("position", ""))
    except ValueError:
        abort(400)
    obs = db_session().get(ReadingObservation, (reading.id, position))
    if obs is None:
        abort(404)

    def change(db) -> None:
        value, unit, canonical = display_units.parse(
            obs.kind, request.form.get("value", ""), request.form.get("unit") or None)
        review.edit(db, actor(), reading, obs, value, unit, canonical,
                    request.form.get("reason", ""))

    return _act(reading, change)


@bp.post("/encounters/<int:encounter_id>/manual")
@roles_required(*CLINICAL)
def manual(encounter_id: int) -> Any:
    found = _encounter(encounter_id)
    form = request.form
    errors: dict[str, str] = {}
    groups: list[tuple[list[review.Entry], dict[str, Any]]] = []
    for group, kinds in MANUAL_GROUPS.items():
        typed = {k: form.get(k, "").strip() for k in kinds}
        if not any(typed.values()):
            continue
        entries = []
        for name, text in typed.items():
            if not text:
                if name != "pulse_rate":
                    errors[f"manual.{name}"] = "Enter a value."
                continue
            try:
                value, unit, canonical = display_units.parse(name, text,
                                                             form.get(f"{name}_unit") or None)
            except EntryError as exc:
                errors[f"manual.{name}"] = str(exc)
                continue
            entries.append(review.Entry(name, value, unit, canonical))
        extra: dict[str, Any] = {}
        if group == "temperature":
            site = form.get("temperature_site", "")
            if site not in review.TEMPERATURE_SITES:
                errors["manual.temperature_site"] = "Choose where the temperature was taken."
            extra["body_site"] = site
        if group == "bp" and form.get("body_position"):
            if form["body_position"] not in review.POSITIONS:
                errors["manual.body_position"] = "Choose lying, sitting or standing."
            extra.update(body_position=form["body_position"], series="orthostatic")
            if form["body_position"] == "standing":
                try:
                    extra["minutes_after_standing"] = float(
                        form.get("minutes_after_standing") or 3)
                except ValueError:
                    errors["manual.minutes_after_standing"] = "Enter minutes as a number."
        groups.append((entries, extra))
    if not groups and not errors:
        errors["manual"] = "Enter at least one value."
    if errors:
        return _render_encounter(found, errors, 422)
    db = db_session()
    for entries, extra in groups:
        review.enter_manual(db, actor(), found, entries, **extra)
    db.commit()
    return _back(found, "#charted")


@bp.post("/encounters/<int:encounter_id>/details")
@roles_required(*CLINICAL)
def details(encounter_id: int) -> Any:
    """Reason for visit, the triage set in use, pregnancy status, and what NEWS2 needs
    besides the vitals: consciousness (ACVPU), supplemental oxygen, the SpO2 scale."""
    found = _encounter(encounter_id)
    db = db_session()
    reason = request.form.get("reason_for_visit", "").strip()
    if not reason:
        return _render_encounter(found, {"details.reason_for_visit": "Enter the reason."}, 422)
    found.reason_for_visit = reason[:2000]
    code = request.form.get("question_set") or None
    if code and db.scalar(select(QuestionSet).where(QuestionSet.code == code)) is None:
        return _render_encounter(found, {"details.question_set": "Unknown question set."}, 422)
    choices = {
        "pregnant": {"": None, "yes": True, "no": False},
        "consciousness": {"": None, **{letter: letter for letter in "ACVPU"}},
        "on_oxygen": {"": None, "yes": True, "no": False},
        "spo2_scale": {"": None, "1": 1, "2": 2},
    }
    chosen: dict[str, Any] = {}
    for field, allowed in choices.items():
        given = request.form.get(field, "")
        if given not in allowed:
            return _render_encounter(found, {f"details.{field}": "Choose one of the list."}, 422)
        chosen[field] = allowed[given]
    found.question_set_code = code
    found.pregnant = chosen["pregnant"]
    found.consciousness = chosen["consciousness"]
    found.on_oxygen = chosen["on_oxygen"]
    found.spo2_scale = chosen["spo2_scale"]
    found.revision += 1
    audit.append(db, actor(), "update", "encounter", found.id, patient_id=found.patient_id,
                 detail={"fields": ["reason_for_visit", "question_set", *choices]})
    db.commit()
    return _back(found, "#triage")


@bp.post("/encounters/<int:encounter_id>/triage")
@roles_required(*CLINICAL)
def answer_triage(encounter_id: int) -> Any:
    found = _encounter(encounter_id)
    db = db_session()
    qset = db.scalar(select(QuestionSet).where(
        QuestionSet.code == request.form.get("question_set", "")))
    if qset is None:
        return _render_encounter(found, {"triage": "Choose a question set."}, 422)
    errors = triage.record_answers(db, actor(), found, qset, request.form.to_dict())
    if errors:
        db.rollback()
        return _render_encounter(found, {f"triage.{k}": v for k, v in errors.items()}, 422)
    db.commit()
    return _back(found, "#triage")


def _screening(encounter_id: int, name: str, record) -> Any:
    found = _encounter(encounter_id)
    db = db_session()
    try:
        record(db, found)
    except FormErrors as exc:
        db.rollback()
        return _render_encounter(found, {f"{name}.{k}": v for k, v in exc.errors.items()}, 422)
    db.commit()
    return _back(found, f"#{name}")


@bp.post("/encounters/<int:encounter_id>/vision")
@roles_required(*CLINICAL)
def vision(encounter_id: int) -> Any:
    return _screening(encounter_id, "vision",
                      lambda db, e: screenings.record_vision(db, actor(), e, request.form))


@bp.post("/encounters/<int:encounter_id>/hearing")
@roles_required(*CLINICAL)
def hearing(encounter_id: int) -> Any:
    return _screening(encounter_id, "hearing",
                      lambda db, e: screenings.record_hearing(db, actor(), e, request.form))


@bp.post("/encounters/<int:encounter_id>/labs/<test>")
@roles_required(*CLINICAL)
def lab(encounter_id: int, test: str) -> Any:
    return _screening(encounter_id, f"lab-{test}", lambda db, e: screenings.record_lab(
        db, actor(), e, test, request.form, _today()))


@bp.post("/encounters/<int:encounter_id>/status")
@roles_required(*CLINICAL)
def status(encounter_id: int) -> Any:
    found = _encounter(encounter_id)
    db = db_session()
    try:
        encounters.set_status(db, actor(), found, request.form.get("status", ""))
    except FormErrors as exc:
        db.rollback()
        return _render_encounter(found, exc.errors, 422)
    db.commit()
    if found.status == "done":
        return redirect(url_for("assistant.schedule"))
    return _back(found)


@bp.post("/encounters/<int:encounter_id>/devices")
@roles_required(*CLINICAL)
def devices(encounter_id: int) -> Any:
    found = _encounter(encounter_id)
    db = db_session()
    device = db.get(Device, int(request.form.get("device", "0") or 0))
    if device is None or device.site != found.site:
        abort(404)
    try:
        if request.form.get("action") == "remove":
            encounters.remove_device(db, actor(), found, device)
        else:
            encounters.attach_device(db, actor(), found, device)
    except FormErrors as exc:
        db.rollback()
        return _render_encounter(found, exc.errors, 422)
    db.commit()
    return _back(found, "#devices")


def _unassigned(db) -> list[Reading]:
    return list(db.scalars(
        select(Reading)
        .join(Room, Room.id == Reading.room_id)
        .where(Room.site == _site(), Reading.state == "unassigned")
        .options(selectinload(Reading.observations), selectinload(Reading.device),
                 selectinload(Reading.room))
        .order_by(Reading.received_at.desc())
        .limit(200)
    ))


def _render_unassigned(errors: dict[str, str] | None = None, status: int = 200) -> Any:
    db = db_session()
    open_encounters = list(db.scalars(
        select(Encounter).where(Encounter.site == _site(), Encounter.ended_at.is_(None))
        .options(selectinload(Encounter.patient), selectinload(Encounter.room))
    ))
    for found in open_encounters:  # the assign menu names each open encounter's patient
        audit.append(db, actor(), "view", "encounter", found.id, patient_id=found.patient_id,
                     detail={"page": "unassigned queue"})
    db.commit()
    return render_template("assistant/unassigned.html", readings=_unassigned(db),
                           encounters=open_encounters, errors=errors or {}, form=request.form,
                           kinds=KINDS, flag_labels=FLAG_LABELS), status


@bp.get("/unassigned")
@roles_required(*CLINICAL)
def unassigned() -> Any:
    return _render_unassigned()


@bp.post("/readings/<reading_id>/assign")
@roles_required(*CLINICAL)
def assign(reading_id: str) -> Any:
    reading = _reading(reading_id)
    target = db_session().get(Encounter, int(request.form.get("encounter", "0") or 0))
    if target is None or target.site != _site():
        return _render_unassigned({f"reading.{reading.id}": "Choose the encounter."}, 422)

    def change(db) -> None:
        review.assign(db, actor(), reading, target, request.form.get("reason", ""))

    db = db_session()
    try:
        change(db)
    except review.ReviewError as exc:
        db.rollback()
        return _render_unassigned({f"reading.{reading.id}": str(exc)}, 422)
    db.commit()
    return redirect(url_for("assistant.unassigned"))


@bp.post("/readings/<reading_id>/discard")
@roles_required(*CLINICAL)
def discard(reading_id: str) -> Any:
    reading = _reading(reading_id)
    db = db_session()
    try:
        review.discard(db, actor(), reading, request.form.get("reason", ""))
    except review.ReviewError as exc:
        db.rollback()
        return _render_unassigned({f"reading.{reading.id}": str(exc)}, 422)
    db.commit()
    return redirect(url_for("assistant.unassigned"))
