"""Triage question sets: data (table ``question_sets``) an admin edits, chosen by the reason.

``DEFAULT_SETS`` seeds a new clinic; after that the table is the truth. A question is
``{"key", "text", "type"}`` with type ``yes_no | number | text``; a "yes" is a positive answer
(the briefing lists positives first). Answers copy the question text, so editing a set never
changes what a patient was asked.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard import audit
from dashboard.models import Encounter, QuestionSet, TriageAnswer

TYPES = ("yes_no", "number", "text")


def _q(key: str, text: str, type_: str = "yes_no") -> dict[str, str]:
    return {"key": key, "text": text, "type": type_}


DEFAULT_SETS: tuple[dict[str, Any], ...] = (
    {
        "code": "sore_throat",
        "label": "Sore throat",
        "keywords": ["throat", "strep", "tonsil"],
        "questions": [
            _q("fever", "Fever in the last 24 hours?"),
            _q("cough", "Cough?"),
            _q("swollen_glands", "Tender swollen glands in the neck?"),
            _q("days", "How many days has it lasted?", "number"),
            _q("strep_contact", "Contact with someone with strep throat?"),
        ],
    },
    {
        "code": "fever_child",
        "label": "Fever (child)",
        "keywords": ["fever", "temperature", "febrile"],
        "questions": [
            _q("max_temp", "Highest temperature measured at home?", "text"),
            _q("drinking_less", "Drinking less than usual?"),
            _q("fewer_wet_diapers", "Fewer wet diapers or less urine?"),
            _q("rash", "Any rash?"),
            _q("antipyretic", "Fever medicine in the last 6 hours?"),
            _q("antipyretic_what", "Which medicine and when?", "text"),
        ],
    },
    {
        "code": "cough",
        "label": "Cough / breathing",
        "keywords": ["cough", "breath", "wheez", "asthma", "cold", "congestion"],
        "questions": [
            _q("short_of_breath", "Short of breath?"),
            _q("wheeze", "Wheezing?"),
            _q("fever", "Fever?"),
            _q("chest_pain", "Chest pain?"),
            _q("days", "How many days has it lasted?", "number"),
        ],
    },
    {
        "code": "hypertension",
        "label": "Blood pressure follow-up",
        "keywords": ["blood pressure", "hypertension", "bp "],
        "questions": [
            _q("home_readings", "Checking blood pressure at home?"),
            _q("missed_doses", "Missed any blood pressure medicine this week?"),
            _q("headache", "Headaches?"),
            _q("chest_pain", "Chest pain?"),
            _q("dizziness", "Dizziness when standing up?"),
        ],
    },
    {
        "code": "well_child",
        "label": "Well-child visit",
        "keywords": ["well child", "well-child", "checkup", "check-up", "school physical"],
        "questions": [
            _q("concerns", "Any concerns today?", "text"),
            _q("vaccines_due", "Vaccines due today (per record)?"),
            _q("vision_concern", "Concerns about vision?"),
            _q("hearing_concern", "Concerns about hearing?"),
        ],
    },
    {
        "code": "annual_physical",
        "label": "Annual physical",
        "keywords": ["annual", "physical", "wellness", "preventive"],
        "questions": [
            _q("new_problems", "Any new health problems since the last visit?"),
            _q("tobacco", "Uses tobacco or nicotine?"),
            _q("falls", "Any falls in the past year?"),
            _q("medications_changed", "Any medication changes?"),
        ],
    },
    {
        "code": "urinary",
        "label": "Urinary symptoms",
        "keywords": ["urin", "uti", "bladder", "dysuria"],
        "questions": [
            _q("burning", "Burning when passing urine?"),
            _q("frequency", "Passing urine more often?"),
            _q("flank_pain", "Pain in the side or back?"),
            _q("fever", "Fever?"),
            _q("may_be_pregnant", "Could you be pregnant?"),
        ],
    },
    {
        "code": "headache",
        "label": "Headache",
        "keywords": ["headache", "migraine"],
        "questions": [
            _q("worst_ever", "Worst headache of your life?"),
            _q("sudden_onset", "Came on suddenly?"),
            _q("vision_change", "Changes in vision?"),
            _q("weakness", "Weakness or numbness anywhere?"),
            _q("pain", "Pain now, 0-10?", "number"),
        ],
    },
)


class QuestionSetError(ValueError):
    """An admin's edit that would make an unusable set; the message names the line."""


def ensure_defaults(db: Session) -> int:
    """Insert the default sets that are missing (by code); returns how many were added."""
    have = set(db.scalars(select(QuestionSet.code)))
    added = 0
    for spec in DEFAULT_SETS:
        if spec["code"] not in have:
            db.add(QuestionSet(**spec, active=True, version=1, updated_at=datetime.now(UTC)))
            added += 1
    db.flush()
    return added


def suggest(sets: list[QuestionSet], reason: str) -> str | None:
    """The code of the first active set whose keyword occurs in the reason, or None."""
    text = f" {reason.casefold()} "
    for qset in sets:
        if qset.active and any(k.casefold() in text for k in qset.keywords):
            return qset.code
    return None


def format_questions(questions: list[dict[str, str]]) -> str:
    """The admin form's text: one question per line, ``key | type | text``."""
    return "\n".join(f"{q['key']} | {q['type']} | {q['text']}" for q in questions)


def parse_questions(text: str) -> list[dict[str, str]]:
    questions: list[dict[str, str]] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|", 2)]
        if len(parts) != 3:
            raise QuestionSetError(f"line {number}: write 'key | type | question text'")
        key, type_, question = parts
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", key):
            raise QuestionSetError(
                f"line {number}: key {key!r} must be lower-case letters, digits or _"
            )
        if key in seen:
            raise QuestionSetError(f"line {number}: key {key!r} is used twice")
        if type_ not in TYPES:
            raise QuestionSetError(f"line {number}: type must be one of {', '.join(TYPES)}")
        if not question:
            raise QuestionSetError(f"line {number}: the question text is empty")
        seen.add(key)
        questions.append(_q(key, question, type_))
    if not questions:
        raise QuestionSetError("a question set needs at least one question")
    return questions


def check_answer(question: dict[str, str], raw: str) -> tuple[str, bool]:
    """A form answer -> ``(answer, positive)``; "" means not answered. Raises ValueError."""
    raw = (raw or "").strip()
    if not raw:
        return "", False
    if question["type"] == "yes_no":
        if raw not in ("yes", "no"):
            raise ValueError("Answer yes or no.")
        return raw, raw == "yes"
    if question["type"] == "number":
        try:
            number = Decimal(raw.replace(",", "."))
        except InvalidOperation:
            raise ValueError(f"{raw!r} is not a number.") from None
        if not number.is_finite() or number < 0 or number > 100000:
            raise ValueError(f"{raw!r} is not a plausible number.")
        return str(number), False
    if len(raw) > 500:
        raise ValueError("At most 500 characters.")
    return raw, False


def record_answers(
    db: Session,
    who: audit.Actor,
    encounter: Encounter,
    qset: QuestionSet,
    form: dict[str, str],
) -> dict[str, str]:
    """Validate and store the answers of ``qset``; returns errors per question key.

    Nothing is stored when any answer is invalid. An answer left blank deletes none: it is
    simply not recorded (the briefing shows unanswered questions as such).
    """
    errors: dict[str, str] = {}
    checked: list[tuple[int, dict[str, str], str, bool]] = []
    for position, question in enumerate(qset.questions):
        try:
            answer, positive = check_answer(question, form.get(question["key"], ""))
        except ValueError as exc:
            errors[question["key"]] = str(exc)
            continue
        if answer:
            checked.append((position, question, answer, positive))
    if errors:
        return errors
    existing = {
        a.question_key: a
        for a in db.scalars(select(TriageAnswer).where(TriageAnswer.encounter_id == encounter.id))
    }
    now = datetime.now(UTC)
    for position, question, answer, positive in checked:
        row = existing.get(question["key"])
        if row is None:
            row = TriageAnswer(encounter_id=encounter.id, question_key=question["key"])
            db.add(row)
        row.question_set_code = qset.code
        row.question_text = question["text"]
        row.position = position
        row.answer = answer
        row.positive = positive
        row.answered_by = who.user_id
        row.answered_at = now
    encounter.question_set_code = qset.code
    encounter.revision += 1
    audit.append(
        db, who, "update", "triage", encounter.id, patient_id=encounter.patient_id,
        detail={"question_set": qset.code, "version": qset.version, "answered": len(checked)},
    )
    return {}


def positives_first(answers: list[TriageAnswer]) -> list[TriageAnswer]:
    """Positive answers first, each group in the order the questions were asked."""
    return sorted(answers, key=lambda a: (not a.positive, a.position))
