"""Vision (Snellen), hearing (pure-tone screen) and in-house lab results for an encounter."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from dashboard import audit, labs, patients
from dashboard.display_units import EntryError
from dashboard.encounters import FormErrors
from dashboard.models import Encounter, HearingScreening, LabResult, Patient, VisionScreening

EYES = ("right", "left", "both")
EARS = ("right", "left")
# AAP/ASHA screening frequencies (Hz); 20 dB HL in children, 25 dB HL in adults is usual.
FREQUENCIES = (500, 1000, 2000, 4000)
SNELLEN_NUMERATORS = (20, 10, 6, 3)  # feet (20, 10) or metres (6, 3)


def _int(text: str, field: str, errors: dict[str, str]) -> int | None:
    try:
        return int((text or "").strip())
    except ValueError:
        errors[field] = "Enter a whole number."
        return None


def record_vision(
    db: Session, who: audit.Actor, encounter: Encounter, form: dict[str, str]
) -> VisionScreening:
    errors: dict[str, str] = {}
    eye = form.get("eye", "")
    if eye not in EYES:
        errors["eye"] = "Choose right, left or both."
    numerator = _int(form.get("numerator", ""), "numerator", errors)
    denominator = _int(form.get("denominator", ""), "denominator", errors)
    if numerator is not None and numerator not in SNELLEN_NUMERATORS:
        errors["numerator"] = "The test distance is 20 or 10 ft (6 or 3 m)."
    if denominator is not None and not 1 <= denominator <= 800:
        errors["denominator"] = "The Snellen line is between 1 and 800 (e.g. 20/40: 40)."
    if errors:
        raise FormErrors(errors)
    row = VisionScreening(
        encounter_id=encounter.id, eye=eye, numerator=numerator, denominator=denominator,
        corrected=form.get("corrected") == "yes", entered_by=who.user_id,
        entered_at=datetime.now(UTC), state="recorded",
    )
    db.add(row)
    db.flush()
    encounter.revision += 1
    audit.append(db, who, "create", "vision", row.id, patient_id=encounter.patient_id)
    return row


def record_hearing(
    db: Session, who: audit.Actor, encounter: Encounter, form: dict[str, str]
) -> HearingScreening:
    errors: dict[str, str] = {}
    ear = form.get("ear", "")
    if ear not in EARS:
        errors["ear"] = "Choose the right or the left ear."
    frequency = _int(form.get("frequency_hz", ""), "frequency_hz", errors)
    if frequency is not None and frequency not in FREQUENCIES:
        errors["frequency_hz"] = f"Screen at {', '.join(map(str, FREQUENCIES))} Hz."
    level = _int(form.get("level_db", ""), "level_db", errors)
    if level is not None and not 0 <= level <= 60:
        errors["level_db"] = "The screening level is 0-60 dB HL (usually 20 or 25)."
    result = form.get("result", "")
    if result not in ("pass", "refer"):
        errors["result"] = "Heard (pass) or not heard (refer)?"
    if errors:
        raise FormErrors(errors)
    row = HearingScreening(
        encounter_id=encounter.id, ear=ear, frequency_hz=frequency, level_db=level,
        result=result, entered_by=who.user_id, entered_at=datetime.now(UTC), state="recorded",
    )
    db.add(row)
    db.flush()
    encounter.revision += 1
    audit.append(db, who, "create", "hearing", row.id, patient_id=encounter.patient_id)
    return row


def record_lab(
    db: Session,
    who: audit.Actor,
    encounter: Encounter,
    test: str,
    form: dict[str, str],
    today: date,
) -> list[LabResult]:
    """All analytes of ``test`` from the form (fields named by analyte); all or nothing."""
    if test not in labs.TESTS:
        raise FormErrors({"test": "Choose a test."})
    patient = db.get(Patient, encounter.patient_id)
    age = patients.age(patient.date_of_birth, today)
    context = form.get("context") or None
    if test == "glucose_fingerstick" and context not in ("fasting", "random"):
        raise FormErrors({"context": "Fasting or not?"})
    errors: dict[str, str] = {}
    results: list[tuple[labs.Analyte, labs.Result]] = []
    for analyte in labs.analytes(test):
        try:
            results.append((analyte, labs.interpret(
                analyte, form.get(analyte.analyte, ""), unit=form.get("unit") or None,
                context=context, sex=patient.sex, age_months=age.months,
                pregnant=encounter.pregnant,
            )))
        except EntryError as exc:
            errors[analyte.analyte] = str(exc)
    if errors:
        raise FormErrors(errors)
    now = datetime.now(UTC)
    rows = []
    for analyte, result in results:
        row = LabResult(
            encounter_id=encounter.id, test=test, analyte=analyte.analyte, loinc=analyte.loinc,
            value=result.value,
            numeric_value=None if result.numeric is None else float(result.numeric),
            unit=result.unit,
            reference_low=None if result.low is None else float(result.low),
            reference_high=None if result.high is None else float(result.high),
            reference_text=result.reference_text, interpretation=result.interpretation,
            context=context, entered_by=who.user_id, entered_at=now, state="recorded",
        )
        db.add(row)
        rows.append(row)
    db.flush()
    encounter.revision += 1
    audit.append(db, who, "create", "lab", rows[0].id, patient_id=encounter.patient_id,
                 detail={"test": test, "results": len(rows)})
    return rows
