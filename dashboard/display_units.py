"""Units as the clinic prefers to see them (``UNITS=us|metric``); storage stays canonical.

Conversion is ``vitals.units.convert`` (exact, no drift). This module only decides which unit
to show and how many decimals, and parses what an assistant types back to canonical units.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from dashboard import clinical
from vitals.kinds import kind
from vitals.units import convert, round_to

SYSTEMS = ("us", "metric")

_PREFERRED: dict[str, dict[str, str]] = {
    "us": {"weight": "[lb_av]", "height": "[in_i]", "temperature": "[degF]"},
    "metric": {"weight": "kg", "height": "cm", "temperature": "Cel"},
}

LABELS = {
    "[lb_av]": "lb",
    "[in_i]": "in",
    "[degF]": "°F",
    "Cel": "°C",
    "kg": "kg",
    "g": "g",
    "cm": "cm",
    "m": "m",
    "mm[Hg]": "mmHg",
    "kPa": "kPa",
    "/min": "/min",
    "%": "%",
    "kg/m2": "kg/m²",
    "{score}": "/10",
}

# Display precision per unit: what the devices resolve and what a chart shows.
_PLACES = {"[lb_av]": 1, "kg": 1, "[in_i]": 1, "cm": 1, "[degF]": 1, "Cel": 1, "kg/m2": 1}


class EntryError(ValueError):
    """A typed value that cannot be charted; the message is shown next to the field."""


@dataclass(frozen=True)
class Shown:
    value: str
    unit: str
    """The unit's display label (``lb``, ``°C``)."""


def display_unit(kind_name: str, system: str) -> str:
    """The UCUM unit ``kind_name`` is shown in under ``system``."""
    return _PREFERRED.get(system, _PREFERRED["metric"]).get(kind_name, kind(kind_name).unit)


def show(kind_name: str, canonical: float | Decimal | None, system: str) -> Shown:
    """A canonical value as text in the clinic's unit ("" when there is no value)."""
    unit = display_unit(kind_name, system)
    if canonical is None:
        return Shown("", LABELS.get(unit, unit))
    value = Decimal(str(canonical))
    spec = kind(kind_name)
    if unit != spec.unit:
        value = convert(value, spec.unit, unit)
    return Shown(str(round_to(value, _PLACES.get(unit, 0))), LABELS.get(unit, unit))


def parse(kind_name: str, text: str, unit: str | None = None) -> tuple[Decimal, str, Decimal]:
    """What the assistant typed -> ``(value as typed, its UCUM unit, canonical value)``.

    Refuses what is not a number, a unit the kind cannot have, and implausible values
    (``clinical.plausible``: artifact ranges, e.g. degF typed as degC), with a clear message.
    """
    spec = kind(kind_name)
    unit = unit or spec.unit
    if unit not in spec.units:
        raise EntryError(f"{LABELS.get(unit, unit)} is not a unit of {spec.label.lower()}")
    cleaned = (text or "").strip().replace(",", ".")
    if not cleaned:
        raise EntryError("Enter a value.")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise EntryError(f"{text!r} is not a number.") from None
    if not value.is_finite():
        raise EntryError(f"{text!r} is not a number.")
    canonical = value if unit == spec.unit else convert(value, unit, spec.unit)
    if kind_name == "pain_score":
        if value != value.to_integral_value() or not 0 <= value <= 10:
            raise EntryError("Pain is a whole number from 0 to 10.")
        return value, unit, canonical
    if not clinical.plausible(kind_name, canonical):
        limits = clinical.PLAUSIBLE_RANGES[kind_name]
        hint = ""
        if kind_name == "temperature" and unit == "Cel" and Decimal(80) <= value <= Decimal(115):
            hint = " Was it °F?"
        raise EntryError(
            f"{value} {LABELS.get(unit, unit)} is not a plausible {spec.label.lower()} "
            f"(accepted {limits.describe()}).{hint}"
        )
    return value, unit, canonical
