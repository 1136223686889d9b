"""The demo clinic: four exam rooms, patients of every age, today's appointments, triage sets.

Called by ``roomvitals demo`` after the accounts exist. The patients are invented; the
MRNs start with ``DEMO-`` so they can never be mistaken for real records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard import audit, triage
from dashboard.bulk import insert_ignore
from dashboard.models import Appointment, Patient, Room, User


@dataclass(frozen=True)
class DemoPatient:
    given: str
    family: str
    age_days: int
    sex: str
    allergies: tuple[str, ...]
    reason: str
    question_set: str | None


DEMO_PATIENTS = (
    DemoPatient("Mia", "Okafor", 9 * 30 + 4, "F", ("NKDA",), "Fever since yesterday",
                "fever_child"),
    DemoPatient("Leo", "Hansen", 3 * 365 + 40, "M", ("Amoxicillin",), "Sore throat, fever",
                "sore_throat"),
    DemoPatient("Zoë", "Martínez", 7 * 365 + 120, "F", ("NKDA",), "Well-child check",
                "well_child"),
    DemoPatient("Ethan", "Nguyen", 15 * 365 + 200, "M", ("Peanuts",), "School sports physical",
                "well_child"),
    DemoPatient("Grace", "O'Brien", 29 * 365 + 10, "F", ("NKDA",),
                "Burning on urination", "urinary"),
    DemoPatient("Samuel", "Adeyemi", 52 * 365 + 77, "M", ("Lisinopril (cough)",),
                "Blood pressure follow-up", "hypertension"),
    DemoPatient("Helen", "Kowalski", 78 * 365 + 300, "F", ("Penicillin", "Sulfa"),
                "Dizziness when standing", "hypertension"),
    DemoPatient("Arjun", "Patel", 41 * 365 + 15, "M", (), "Cough for a week", "cough"),
)


def seed_demo(db: Session, site: str, *, rooms: int = 4, today: date | None = None) -> int:
    """Create the demo clinic in ``db`` (idempotent per MRN); returns the appointments made."""
    today = today or date.today()
    for number in range(1, rooms + 1):
        insert_ignore(db, Room.__table__, {"site": site, "name": f"exam-{number}"},
                      ["site", "name"])
    triage.ensure_defaults(db)
    physician = db.scalar(select(User).where(User.role == "physician").order_by(User.id))
    start = datetime.combine(today, time(8, 0)).astimezone().astimezone(UTC)
    made = 0
    for index, spec in enumerate(DEMO_PATIENTS):
        mrn = f"DEMO-{1001 + index}"
        patient = db.scalar(select(Patient).where(Patient.mrn == mrn))
        if patient is None:
            patient = Patient(
                mrn=mrn, given_name=spec.given, family_name=spec.family,
                date_of_birth=today - timedelta(days=spec.age_days), sex=spec.sex,
                allergies=list(spec.allergies), created_at=datetime.now(UTC),
            )
            db.add(patient)
            db.flush()
        db.add(Appointment(
            site=site, patient_id=patient.id, scheduled_at=start + timedelta(minutes=20 * index),
            reason=spec.reason, question_set_code=spec.question_set,
            physician_id=physician.id if physician else None, status="scheduled",
        ))
        made += 1
    db.flush()
    audit.append(db, audit.Actor(None, "demo", "admin", "local"), "seed", "clinic", site,
                 detail={"patients": len(DEMO_PATIENTS), "appointments": made})
    return made
