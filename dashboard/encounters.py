"""Encounters: rooming a patient (two identifiers), status changes, portable devices.

Service functions over a SQLAlchemy session, no Flask: each changes the encounter inside the
caller's transaction, bumps ``revision`` and appends an audit entry with the patient id.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dashboard import audit, patients
from dashboard.models import (
    Appointment,
    Device,
    DeviceAssignment,
    Encounter,
    Patient,
    Reading,
    Room,
)

# Forward moves, plus "done" from anywhere (the patient left) and back to rooming from ready
# (the assistant forgot something).
TRANSITIONS = {
    "rooming": ("ready_for_physician", "done"),
    "ready_for_physician": ("with_physician", "rooming", "done"),
    "with_physician": ("done",),
    "done": (),
}
LABELS = {
    "rooming": "Rooming",
    "ready_for_physician": "Ready for physician",
    "with_physician": "With physician",
    "done": "Done",
}


class FormErrors(ValueError):
    """Errors per form field, shown next to each field."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC instants of a local calendar day (the server's time zone is the clinic's)."""
    start = datetime.combine(day, time.min).astimezone().astimezone(UTC)
    return start, start + timedelta(days=1)


def todays_appointments(db: Session, site: str, day: date) -> list[Appointment]:
    start, end = day_bounds(day)
    return list(
        db.scalars(
            select(Appointment)
            .where(
                Appointment.site == site,
                Appointment.scheduled_at >= start,
                Appointment.scheduled_at < end,
            )
            .order_by(Appointment.scheduled_at)
        )
    )


def open_encounter(db: Session, room_id: int) -> Encounter | None:
    return db.scalar(
        select(Encounter).where(Encounter.room_id == room_id, Encounter.ended_at.is_(None))
    )


def site_rooms(db: Session, site: str) -> list[Room]:
    return list(db.scalars(select(Room).where(Room.site == site).order_by(Room.name)))


def room_patient(
    db: Session,
    who: audit.Actor,
    *,
    site: str,
    appointment: Appointment,
    room_id: int | None,
    name: str,
    date_of_birth: str,
) -> Encounter:
    """Start the encounter of ``appointment`` in a room once both identifiers match."""
    errors: dict[str, str] = {}
    room = db.get(Room, room_id) if room_id else None
    if room is None or room.site != site:
        errors["room"] = "Choose the exam room."
    elif open_encounter(db, room.id) is not None:
        errors["room"] = f"{room.name} has a patient already; finish that visit first."
    if appointment.status != "scheduled":
        errors["appointment"] = f"This appointment is {appointment.status} already."
    errors.update(patients.identity_errors(appointment.patient, name, date_of_birth))
    if errors:
        audit.append(
            db, who, "identity_failed" if "name" in errors or "date_of_birth" in errors
            else "room_refused", "appointment", appointment.id,
            patient_id=appointment.patient_id, detail={"fields": sorted(errors)},
        )
        raise FormErrors(errors)
    now = datetime.now(UTC)
    encounter = Encounter(
        site=site,
        patient_id=appointment.patient_id,
        appointment_id=appointment.id,
        room_id=room.id,
        assistant_id=who.user_id,
        physician_id=appointment.physician_id,
        status="rooming",
        status_changed_at=now,
        reason_for_visit=appointment.reason,
        question_set_code=appointment.question_set_code,
        identity_confirmed_at=now,
        started_at=now,
        revision=1,
    )
    db.add(encounter)
    appointment.status = "roomed"
    db.flush()
    audit.append(
        db, who, "create", "encounter", encounter.id, patient_id=encounter.patient_id,
        detail={"room": room.name, "identifiers": ["name", "date_of_birth"]},
    )
    return encounter


def pending_count(db: Session, encounter: Encounter) -> int:
    return db.scalar(
        select(func.count())
        .select_from(Reading)
        .where(Reading.encounter_id == encounter.id, Reading.state == "pending")
    )


def set_status(db: Session, who: audit.Actor, encounter: Encounter, status: str) -> None:
    if status not in TRANSITIONS.get(encounter.status, ()):
        target = LABELS.get(status, status)
        raise FormErrors({"status": f"Cannot go from {LABELS[encounter.status]} to {target}."})
    if status == "ready_for_physician":
        waiting = pending_count(db, encounter)
        if waiting:
            raise FormErrors(
                {"status": f"Accept, edit or reject the {waiting} pending reading(s) first."}
            )
    now = datetime.now(UTC)
    old = encounter.status
    encounter.status = status
    encounter.status_changed_at = now
    encounter.revision += 1
    if status == "done":
        encounter.ended_at = now
        if encounter.appointment is not None:
            encounter.appointment.status = "done"
        for assignment in open_assignments(db, encounter):
            assignment.removed_at = now
            assignment.removed_by = who.user_id
    if status == "with_physician" and who.role == "physician":
        encounter.physician_id = who.user_id
    audit.append(
        db, who, "status", "encounter", encounter.id, patient_id=encounter.patient_id,
        detail={"from": old, "to": status},
    )


def open_assignments(db: Session, encounter: Encounter) -> list[DeviceAssignment]:
    return list(
        db.scalars(
            select(DeviceAssignment).where(
                DeviceAssignment.encounter_id == encounter.id,
                DeviceAssignment.removed_at.is_(None),
            )
        )
    )


def attach_device(db: Session, who: audit.Actor, encounter: Encounter, device: Device) -> None:
    """Assign a portable device to this encounter (ending any other assignment it had)."""
    if device.mobility != "portable":
        raise FormErrors({"device": f"{device.device_id} is fixed to its room."})
    now = datetime.now(UTC)
    for other in db.scalars(
        select(DeviceAssignment).where(
            DeviceAssignment.device_pk == device.id, DeviceAssignment.removed_at.is_(None)
        )
    ):
        other.removed_at = now
        other.removed_by = who.user_id
    db.add(DeviceAssignment(device_pk=device.id, encounter_id=encounter.id, attached_at=now,
                            attached_by=who.user_id))
    encounter.revision += 1
    audit.append(db, who, "attach", "device", device.id, patient_id=encounter.patient_id,
                 detail={"encounter": encounter.id})


def remove_device(db: Session, who: audit.Actor, encounter: Encounter, device: Device) -> None:
    now = datetime.now(UTC)
    for assignment in open_assignments(db, encounter):
        if assignment.device_pk == device.id:
            assignment.removed_at = now
            assignment.removed_by = who.user_id
    encounter.revision += 1
    audit.append(db, who, "remove", "device", device.id, patient_id=encounter.patient_id,
                 detail={"encounter": encounter.id})


def patient_of(db: Session, encounter: Encounter) -> Patient:
    return db.get(Patient, encounter.patient_id)
