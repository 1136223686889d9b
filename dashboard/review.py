"""The assistant's review of readings: accept, edit, reject, assign, discard, manual entry.

Every function changes one reading inside the caller's transaction, writes its history
(``ReadingEvent``), bumps the encounter's ``revision`` and appends an audit entry with the
patient id. A transition that the state machine does not allow raises ``ReviewError``
(docs/data-model.md draws the machine).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from dashboard import audit, clinical
from dashboard.models import Encounter, Reading, ReadingEvent, ReadingObservation
from vitals.kinds import kind

POSITIONS = ("lying", "sitting", "standing")
TEMPERATURE_SITES = ("oral", "tympanic", "temporal", "axillary", "rectal")


class ReviewError(ValueError):
    """A change the reading's state does not allow, or a missing reason."""


def _event(db, who: audit.Actor, reading: Reading, action: str, to_state: str, **extra) -> None:
    now = datetime.now(UTC)
    db.add(
        ReadingEvent(
            reading_id=reading.id,
            at=now,
            user_id=who.user_id,
            action=action,
            from_state=reading.state,
            to_state=to_state,
            **extra,
        )
    )
    reading.state = to_state
    reading.state_changed_at = now


def _changed(db, who: audit.Actor, reading: Reading, action: str, detail: dict) -> None:
    encounter = reading.encounter
    if encounter is not None:
        encounter.revision += 1
    audit.append(
        db, who, action, "reading", reading.id,
        patient_id=encounter.patient_id if encounter else None, detail=detail,
    )


def _require(reading: Reading, *states: str) -> None:
    if reading.state not in states:
        raise ReviewError(
            f"This reading is {reading.state.replace('_', ' ')}; "
            f"it can be changed only while {' or '.join(states)}."
        )


def _reason(reason: str, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ReviewError(f"Give a reason to {what}.")
    return reason[:2000]


def accept(db, who: audit.Actor, reading: Reading) -> None:
    _require(reading, "pending")
    _event(db, who, reading, "accept", "accepted")
    reading.accepted_by = who.user_id
    reading.accepted_at = reading.state_changed_at
    _changed(db, who, reading, "accept", {})


def reject(db, who: audit.Actor, reading: Reading, reason: str) -> None:
    _require(reading, "pending")
    _event(db, who, reading, "reject", "rejected", reason=_reason(reason, "reject it"))
    _changed(db, who, reading, "reject", {})


def edit(
    db,
    who: audit.Actor,
    reading: Reading,
    obs: ReadingObservation,
    value: Decimal,
    unit: str,
    canonical: Decimal,
    reason: str,
) -> None:
    """Correct one value; the assistant typed the right number, so the reading is accepted."""
    _require(reading, "pending", "accepted")
    why = _reason(reason, "edit a value")
    old = None if obs.value is None else obs.value
    _event(
        db, who, reading, "edit", "accepted", kind=obs.kind, old_value=old,
        new_value=format(value, "f"), unit=unit, reason=why,
    )
    if unit != obs.unit:  # the old value's unit, so the history reads "200 [lb_av] -> 91 kg"
        db.add(
            ReadingEvent(
                reading_id=reading.id, at=reading.state_changed_at, user_id=who.user_id,
                action="edit_unit", from_state="accepted", to_state="accepted", kind=obs.kind,
                old_value=obs.unit, new_value=unit, reason=why,
            )
        )
    obs.value = format(value, "f")
    obs.unit = unit
    obs.canonical_value = float(canonical)
    obs.absent_reason = None
    if reading.accepted_by is None:
        reading.accepted_by = who.user_id
        reading.accepted_at = reading.state_changed_at
    _changed(db, who, reading, "edit", {"kind": obs.kind})


def entered_in_error(db, who: audit.Actor, reading: Reading, reason: str) -> None:
    _require(reading, "accepted")
    _event(db, who, reading, "entered_in_error", "entered_in_error",
           reason=_reason(reason, "mark it entered in error"))
    _changed(db, who, reading, "entered_in_error", {})


def assign(db, who: audit.Actor, reading: Reading, encounter: Encounter, reason: str) -> None:
    """Move a reading from the unassigned queue to an encounter, as pending."""
    _require(reading, "unassigned")
    if encounter.ended_at is not None:
        raise ReviewError("That encounter is closed.")
    _event(db, who, reading, "assign", "pending", encounter_id=encounter.id,
           reason=_reason(reason, "assign it"))
    reading.encounter_id = encounter.id
    reading.encounter = encounter
    _changed(db, who, reading, "assign", {"encounter": encounter.id})


def discard(db, who: audit.Actor, reading: Reading, reason: str) -> None:
    _require(reading, "unassigned")
    _event(db, who, reading, "discard", "discarded", reason=_reason(reason, "discard it"))
    _changed(db, who, reading, "discard", {})


@dataclass(frozen=True)
class Entry:
    kind: str
    value: Decimal
    unit: str
    canonical: Decimal


def enter_manual(
    db,
    who: audit.Actor,
    encounter: Encounter,
    entries: list[Entry],
    *,
    body_site: str | None = None,
    body_position: str | None = None,
    series: str | None = None,
    minutes_after_standing: float | None = None,
) -> Reading:
    """A manual reading (what no device measured), charted as accepted and marked manual."""
    now = datetime.now(UTC)
    reading = Reading(
        id=str(uuid.uuid4()),
        device_pk=None,
        room_id=encounter.room_id,
        measured_at=now,
        measured_at_source="entered",
        received_at=now,
        filed_at=now,
        flags=[],
        raw="",
        encounter_id=encounter.id,
        state="accepted",
        source="manual",
        entered_by=who.user_id,
        accepted_by=who.user_id,
        accepted_at=now,
        state_changed_at=now,
        body_site=body_site,
        body_position=body_position,
        series=series,
        minutes_after_standing=minutes_after_standing,
    )
    reading.encounter = encounter
    db.add(reading)
    for position, entry in enumerate(entries):
        spec = kind(entry.kind)
        db.add(
            ReadingObservation(
                reading_id=reading.id, position=position, kind=entry.kind,
                value=format(entry.value, "f"), unit=entry.unit,
                canonical_value=float(entry.canonical), canonical_unit=spec.unit,
                mdc=spec.mdc, loinc=spec.loinc,
            )
        )
    db.add(ReadingEvent(reading_id=reading.id, at=now, user_id=who.user_id, action="entered",
                        to_state="accepted", encounter_id=encounter.id))
    db.flush()
    _changed(db, who, reading, "create", {"kinds": [e.kind for e in entries], "manual": True})
    return reading


def value_of(reading: Reading, kind_name: str) -> float | None:
    return next(
        (o.canonical_value for o in reading.observations if o.kind == kind_name), None
    )


def is_bp(reading: Reading) -> bool:
    return value_of(reading, "systolic") is not None and value_of(reading, "diastolic") is not None


@dataclass(frozen=True)
class BpAverage:
    systolic: Decimal
    diastolic: Decimal
    count: int
    category: str


def bp_average(readings: list[Reading]) -> BpAverage | None:
    """The mean of the encounter's accepted seated/unspecified BPs, once there are two or more.

    AHA 2017 (Whelton et al., BP measurement): base the estimate on an average of >= 2
    readings on >= 2 occasions; within a visit, repeat readings are averaged. Orthostatic
    set readings are positional and left out. Rounded half up to whole mmHg.
    """
    bps = [
        r for r in readings
        if r.state == "accepted" and r.series != "orthostatic" and is_bp(r)
    ]
    if len(bps) < 2:
        return None
    systolic = sum(Decimal(str(value_of(r, "systolic"))) for r in bps) / len(bps)
    diastolic = sum(Decimal(str(value_of(r, "diastolic"))) for r in bps) / len(bps)
    systolic = systolic.quantize(Decimal(1), ROUND_HALF_UP)
    diastolic = diastolic.quantize(Decimal(1), ROUND_HALF_UP)
    return BpAverage(systolic, diastolic, len(bps), clinical.bp_category(systolic, diastolic))


@dataclass(frozen=True)
class Orthostatic:
    lying: Reading | None
    sitting: Reading | None
    standing: Reading | None
    result: clinical.OrthostaticResult | None
    pulse_rise: float | None


def orthostatic_set(readings: list[Reading]) -> Orthostatic:
    """The latest accepted lying, sitting and standing readings of the orthostatic set, and
    ``clinical.orthostatic_hypotension`` once lying and standing are both there."""
    latest: dict[str, Reading] = {}
    for r in sorted(readings, key=lambda r: r.measured_at):
        if r.state == "accepted" and r.series == "orthostatic" and is_bp(r) and r.body_position:
            latest[r.body_position] = r
    lying, standing = latest.get("lying"), latest.get("standing")
    result = pulse_rise = None
    if lying is not None and standing is not None:
        result = clinical.orthostatic_hypotension(
            value_of(lying, "systolic"), value_of(lying, "diastolic"),
            value_of(standing, "systolic"), value_of(standing, "diastolic"),
            standing.minutes_after_standing if standing.minutes_after_standing is not None else 3,
        )
        lp, sp = value_of(lying, "pulse_rate"), value_of(standing, "pulse_rate")
        pulse_rise = None if lp is None or sp is None else sp - lp
    return Orthostatic(lying, latest.get("sitting"), standing, result, pulse_rise)
