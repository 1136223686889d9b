"""Patients: age, display name and the two-identifier check used when rooming.

Pure functions (no Flask, no database), so the rules are tested on their own.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from dashboard.models import Patient


@dataclass(frozen=True)
class Age:
    years: int
    months: int
    """Completed months since birth (for the paediatric tables, which are by month)."""

    @property
    def label(self) -> str:
        if self.months < 24:
            return f"{self.months} mo"
        return f"{self.years} y"


def age(date_of_birth: date, on: date) -> Age:
    """Completed years and months on ``on`` (a birthday counts on the day itself)."""
    months = (on.year - date_of_birth.year) * 12 + on.month - date_of_birth.month
    if on.day < date_of_birth.day:
        months -= 1
    if months < 0:
        raise ValueError(f"date of birth {date_of_birth} is after {on}")
    return Age(years=months // 12, months=months)


def full_name(patient: Patient) -> str:
    return f"{patient.given_name} {patient.family_name}"


def initials(patient: Patient) -> str:
    """For shared screens (the clinic board): initials only."""
    return f"{patient.given_name[:1]}{patient.family_name[:1]}".upper()


def _name_key(text: str) -> str:
    # Case, accents, punctuation and spacing do not make a different person: "O'Brien" and
    # "obrien", "Zoë" and "Zoe" are the same name typed on a tablet.
    decomposed = unicodedata.normalize("NFKD", text)
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[^a-z ]", "", re.sub(r"\s+", " ", letters.casefold())).strip()


def name_matches(patient: Patient, typed: str) -> bool:
    """"Given Family" or "Family, Given" as typed, compared without case or accents."""
    typed = typed.strip()
    if "," in typed:
        family, _, given = typed.partition(",")
        candidates = [(given, family)]
    else:
        parts = typed.split()
        candidates = [(" ".join(parts[:i]), " ".join(parts[i:])) for i in range(1, len(parts))]
    want = (_name_key(patient.given_name), _name_key(patient.family_name))
    return any((_name_key(g), _name_key(f)) == want for g, f in candidates)


def parse_date(text: str) -> date | None:
    """ISO ``YYYY-MM-DD`` (what an HTML date input sends) or US ``MM/DD/YYYY``; else None."""
    text = (text or "").strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return date.fromisoformat(text)
        match = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text)
        if match:
            month, day, year = (int(g) for g in match.groups())
            return date(year, month, day)
    except ValueError:
        return None
    return None


def identity_errors(patient: Patient, name: str, date_of_birth: str) -> dict[str, str]:
    """Errors per form field; empty when both identifiers match the patient's record."""
    errors: dict[str, str] = {}
    if not name.strip():
        errors["name"] = "Ask the patient's full name and type it."
    elif not name_matches(patient, name):
        errors["name"] = "This name does not match the patient on the schedule. Check again."
    dob = parse_date(date_of_birth)
    if not date_of_birth.strip():
        errors["date_of_birth"] = "Ask the patient's date of birth and enter it."
    elif dob is None:
        errors["date_of_birth"] = "Enter the date of birth as YYYY-MM-DD or MM/DD/YYYY."
    elif dob != patient.date_of_birth:
        errors["date_of_birth"] = (
            "This date of birth does not match the patient on the schedule. "
            "Do not continue until the identity is confirmed."
        )
    return errors
