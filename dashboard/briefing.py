"""The physician's pre-visit briefing: assembled from the models, no Flask, no rendering.

``assemble(db, encounter_id, units=..., today=...)`` reads an encounter and everything under
it in a fixed number of queries (eager loading; the count does not grow with the number of
readings) and returns a ``Briefing`` of display-ready values. Only *accepted* readings are
charted (validate before file, docs/data-model.md); pending ones are listed as still to
review. The clinical judgements are ``dashboard.clinical``'s; this module only decides which
apply to the patient (age, pregnancy) and never shows an implausible value as a real one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from html import escape

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from dashboard import clinical, display_units, encounters, labs, patients, review, triage
from dashboard.models import (
    Encounter,
    HearingScreening,
    LabResult,
    QuestionSet,
    Reading,
    TriageAnswer,
    VisionScreening,
)
from vitals.kinds import KINDS

# How many earlier visits the "change since previous visits" section looks back over.
HISTORY_VISITS = 6

SEX_LABELS = {"F": "Female", "M": "Male", "O": "Other", "U": "Unknown"}
BP_LABELS = {
    "normal": "Normal",
    "elevated": "Elevated",
    "stage_1": "Stage 1 hypertension",
    "stage_2": "Stage 2 hypertension",
}
BMI_LABELS = {
    "underweight": "Underweight",
    "normal": "Normal weight",
    "overweight": "Overweight",
    "obesity_class_1": "Obesity class 1",
    "obesity_class_2": "Obesity class 2",
    "obesity_class_3": "Obesity class 3",
    "healthy_weight": "Healthy weight",
    "obesity": "Obesity",
}
NEWS2_RISK = {"low": "Low", "low-medium": "Low–medium", "medium": "Medium", "high": "High"}

# The vitals a visit is expected to have; what is missing is listed as pending.
_ADULT_EXPECTED = ("bp", "pulse_rate", "spo2", "temperature", "resp_rate", "weight")


@dataclass(frozen=True)
class Flag:
    text: str
    level: str = "warn"
    """``info`` (context), ``warn`` (outside the usual range), ``alert`` (act now)."""


@dataclass(frozen=True)
class Vital:
    key: str
    label: str
    value: str
    unit: str
    at: datetime | None = None
    source: str = ""
    """The device model, or ``manual``; empty for a derived value."""
    device_flags: tuple[str, ...] = ()
    flags: tuple[Flag, ...] = ()
    note: str = ""
    implausible: bool = False


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    positive: bool


@dataclass(frozen=True)
class Trend:
    label: str
    unit: str
    current: str
    previous: str
    previous_on: date | None
    difference: str
    """Signed change from the previous visit to today ("+1.2"), or "" without both."""
    svg: str
    """A small inline SVG line chart (server-side, no script), or "" with under two points."""


@dataclass(frozen=True)
class TestResult:
    group: str
    label: str
    value: str
    reference: str
    abnormal: bool
    note: str = ""


@dataclass(frozen=True)
class News2Line:
    total: int | None
    risk: str
    red_score: bool
    note: str
    """Why it is not shown, or what it assumes."""


@dataclass
class Briefing:
    encounter_id: int
    revision: int
    status: str
    status_label: str
    status_since: datetime
    room: str
    patient_id: int
    name: str
    mrn: str
    date_of_birth: date
    age_label: str
    sex: str
    allergies: tuple[str, ...]
    allergies_note: str
    reason: str
    question_set: str
    answers: list[Answer] = field(default_factory=list)
    vitals: list[Vital] = field(default_factory=list)
    derived: list[Vital] = field(default_factory=list)
    news2: News2Line | None = None
    trends: list[Trend] = field(default_factory=list)
    tests: list[TestResult] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    units: str = "us"
    ended: bool = False

    @property
    def alerts(self) -> list[Flag]:
        """Every ``alert`` flag, for the banner at the top."""
        found: list[Flag] = []
        for vital in [*self.vitals, *self.derived]:
            found.extend(f for f in vital.flags if f.level == "alert")
        return found


# --------------------------------------------------------------------------------------------
# Loading (a fixed number of queries)
# --------------------------------------------------------------------------------------------


def load_encounter(db: Session, encounter_id: int) -> Encounter | None:
    """The encounter with its patient, room and readings (observations, devices) loaded."""
    return db.scalar(
        select(Encounter)
        .where(Encounter.id == encounter_id)
        .options(
            joinedload(Encounter.patient),
            joinedload(Encounter.room),
            selectinload(Encounter.readings).selectinload(Reading.observations),
            selectinload(Encounter.readings).joinedload(Reading.device),
        )
    )


def _history(db: Session, encounter: Encounter) -> list[Reading]:
    """Accepted readings of the patient's previous visits (the last ``HISTORY_VISITS``)."""
    earlier = (
        select(Encounter.id)
        .where(
            Encounter.patient_id == encounter.patient_id,
            Encounter.id != encounter.id,
            Encounter.started_at < encounter.started_at,
        )
        .order_by(Encounter.started_at.desc())
        .limit(HISTORY_VISITS)
        .scalar_subquery()
    )
    return list(
        db.scalars(
            select(Reading)
            .where(Reading.encounter_id.in_(earlier), Reading.state == "accepted")
            .options(selectinload(Reading.observations), joinedload(Reading.encounter))
        )
    )


def assemble(
    db: Session, encounter_id: int, *, units: str = "us", today: date | None = None
) -> Briefing | None:
    """The briefing of one encounter, or None if there is no such encounter."""
    encounter = load_encounter(db, encounter_id)
    if encounter is None:
        return None
    today = today or date.today()
    patient = encounter.patient
    age = patients.age(patient.date_of_birth, today)
    age_months = (today - patient.date_of_birth).days / 30.4375  # CDC: days / 30.4375
    answers = list(
        db.scalars(select(TriageAnswer).where(TriageAnswer.encounter_id == encounter.id))
    )
    qset = (
        db.scalar(select(QuestionSet).where(QuestionSet.code == encounter.question_set_code))
        if encounter.question_set_code
        else None
    )
    visions = db.scalars(
        select(VisionScreening)
        .where(VisionScreening.encounter_id == encounter.id, VisionScreening.state == "recorded")
        .order_by(VisionScreening.id)
    ).all()
    hearings = db.scalars(
        select(HearingScreening)
        .where(HearingScreening.encounter_id == encounter.id, HearingScreening.state == "recorded")
        .order_by(HearingScreening.ear, HearingScreening.frequency_hz)
    ).all()
    lab_rows = db.scalars(
        select(LabResult)
        .where(LabResult.encounter_id == encounter.id, LabResult.state == "recorded")
        .order_by(LabResult.id)
    ).all()
    history = _history(db, encounter)

    allergies = tuple(patient.allergies or ())
    briefing = Briefing(
        encounter_id=encounter.id,
        revision=encounter.revision,
        status=encounter.status,
        status_label=encounters.LABELS.get(encounter.status, encounter.status),
        status_since=encounter.status_changed_at,
        room=encounter.room.name,
        patient_id=patient.id,
        name=patients.full_name(patient),
        mrn=patient.mrn,
        date_of_birth=patient.date_of_birth,
        age_label=_age_label(age),
        sex=SEX_LABELS.get(patient.sex, patient.sex),
        allergies=allergies,
        allergies_note="" if allergies else "Allergies not recorded",
        reason=encounter.reason_for_visit,
        question_set=qset.label if qset else "",
        answers=[
            Answer(a.question_text, a.answer, a.positive) for a in triage.positives_first(answers)
        ],
        units=units,
        ended=encounter.ended_at is not None,
    )
    readings = list(encounter.readings)
    latest = _latest_values(readings)
    briefing.vitals = _vitals(latest, readings, age.years, age_months, units)
    briefing.derived = _derived(latest, readings, patient.sex, age.years, age_months, units)
    briefing.news2 = _news2(latest, age.years, patient.sex, encounter)
    briefing.trends = _trends(latest, history, units)
    briefing.tests = _tests(visions, hearings, lab_rows)
    briefing.pending = _pending(readings, latest, answers, qset, age.years, briefing)
    return briefing


def _age_label(age: patients.Age) -> str:
    if age.months < 24:
        return f"{age.months} months"
    return f"{age.years} years"


# --------------------------------------------------------------------------------------------
# Current vitals
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Value:
    kind: str
    canonical: float | None
    reading: Reading


def _latest_values(readings: Iterable[Reading]) -> dict[str, _Value]:
    """The latest accepted value of each kind (blood pressure as a pair from one reading).

    Orthostatic-set readings are positional and are not "the" blood pressure unless no other
    BP was taken.
    """
    ordered = sorted(
        (r for r in readings if r.state == "accepted"),
        key=lambda r: (r.series == "orthostatic", r.measured_at),
    )
    latest: dict[str, _Value] = {}
    for reading in ordered:
        orthostatic = reading.series == "orthostatic"
        for obs in reading.observations:
            if obs.canonical_value is None:
                continue
            if orthostatic and obs.kind in latest:
                continue  # a seated BP of the visit wins over a positional one
            latest[obs.kind] = _Value(obs.kind, obs.canonical_value, reading)
    return latest


def _plausible(kind: str, value: float | None) -> bool:
    if kind not in clinical.PLAUSIBLE_RANGES:
        return value is not None
    return clinical.plausible(kind, value)


def _shown(kind: str, value: float | Decimal | None, units: str) -> display_units.Shown:
    return display_units.show(kind, value, units)


def _source(reading: Reading) -> str:
    if reading.source == "manual":
        return "manual"
    if reading.device is None:
        return "device"
    return reading.device.model or reading.device.device_id


def _implausible(key: str, label: str, value: _Value) -> Vital:
    return Vital(
        key=key,
        label=label,
        value="—",
        unit="",
        at=value.reading.measured_at,
        source=_source(value.reading),
        note="Implausible value (artifact or unit error): not charted. Re-measure.",
        implausible=True,
    )


def _vitals(
    latest: dict[str, _Value],
    readings: list[Reading],
    age_years: int,
    age_months: float,
    units: str,
) -> list[Vital]:
    rows: list[Vital] = []
    sbp, dbp = latest.get("systolic"), latest.get("diastolic")
    if sbp and dbp:
        ok = (
            _plausible("systolic", sbp.canonical)
            and _plausible("diastolic", dbp.canonical)
            and dbp.canonical < sbp.canonical
        )
        if not ok:
            rows.append(_implausible("bp", "Blood pressure", sbp))
        else:
            flags: list[Flag] = []
            count = sum(
                1 for r in readings
                if r.state == "accepted" and r.series != "orthostatic" and review.is_bp(r)
            )
            if age_years >= 18:
                category = clinical.bp_category(sbp.canonical, dbp.canonical)
                if clinical.hypertensive_crisis(sbp.canonical, dbp.canonical):
                    flags.append(Flag("Severe BP elevation (>180/120)", "alert"))
                if category != "normal":
                    flags.append(Flag(BP_LABELS[category], "warn"))
                else:
                    flags.append(Flag(BP_LABELS[category], "info"))
            else:
                flags.append(Flag("Adult BP categories do not apply under 18", "info"))
            rows.append(
                Vital(
                    key="bp",
                    label="Blood pressure",
                    value=f"{_int(sbp.canonical)}/{_int(dbp.canonical)}",
                    unit="mmHg",
                    at=sbp.reading.measured_at,
                    source=_source(sbp.reading),
                    device_flags=tuple(sbp.reading.flags or ()),
                    flags=tuple(flags),
                    note="one reading" if count <= 1 else f"latest of {count} readings",
                )
            )
    for kind_name in ("pulse_rate", "spo2", "temperature", "resp_rate", "weight", "height",
                      "pain_score"):
        value = latest.get(kind_name)
        if value is None:
            continue
        label = _LABELS.get(kind_name, KINDS[kind_name].label)
        if not _plausible(kind_name, value.canonical):
            rows.append(_implausible(kind_name, label, value))
            continue
        shown = _shown(kind_name, value.canonical, units)
        flags = list(_single_flags(kind_name, value.canonical, age_years, age_months))
        note = ""
        if kind_name == "temperature" and value.reading.body_site:
            note = value.reading.body_site
        rows.append(
            Vital(
                key=kind_name,
                label=label,
                value=shown.value,
                unit=shown.unit,
                at=value.reading.measured_at,
                source=_source(value.reading),
                device_flags=tuple(value.reading.flags or ()),
                flags=tuple(flags),
                note=note,
            )
        )
    return rows


_LABELS = {
    "pulse_rate": "Pulse",
    "spo2": "SpO₂",
    "temperature": "Temperature",
    "resp_rate": "Respiratory rate",
    "weight": "Weight",
    "height": "Height",
    "pain_score": "Pain",
}


def _int(value: float) -> str:
    return str(Decimal(str(value)).quantize(Decimal(1)))


def _single_flags(
    kind_name: str, value: float, age_years: int, age_months: float
) -> Iterable[Flag]:
    if kind_name == "temperature" and clinical.fever(value):
        yield Flag("Fever (≥38.0 °C / 100.4 °F)", "alert")
    if kind_name == "spo2" and clinical.spo2_below_target(value):
        yield Flag("SpO₂ below target (94–98 %)", "alert")
    if kind_name in ("pulse_rate", "resp_rate") and age_months < 216:
        parameter = "heart_rate" if kind_name == "pulse_rate" else "resp_rate"
        centile = clinical.pediatric_range(parameter, age_months, value)
        c = centile.centiles
        where = f"age {centile.band}: median {c[50]}, 10th–90th {c[10]}–{c[90]}"
        if centile.above_p99:
            yield Flag(f"Above 99th centile ({where})", "alert")
        elif centile.below_p1:
            yield Flag(f"Below 1st centile ({where})", "alert")
        elif centile.above_p90:
            yield Flag(f"Above 90th centile ({where})", "warn")
        elif centile.below_p10:
            yield Flag(f"Below 10th centile ({where})", "warn")
        else:
            yield Flag(f"Within 10th–90th centile ({where})", "info")
    if kind_name == "pain_score" and value >= 7:
        yield Flag("Severe pain (7–10)", "warn")


# --------------------------------------------------------------------------------------------
# Derived values: BMI, MAP, shock index, BP average, orthostatic set
# --------------------------------------------------------------------------------------------


def _derived(
    latest: dict[str, _Value],
    readings: list[Reading],
    sex: str,
    age_years: int,
    age_months: float,
    units: str,
) -> list[Vital]:
    rows: list[Vital] = []
    weight, height = latest.get("weight"), latest.get("height")
    if (
        weight and height
        and _plausible("weight", weight.canonical) and _plausible("height", height.canonical)
    ):
        rows.append(_bmi(weight.canonical, height.canonical, sex, age_months))
    sbp, dbp, pulse = latest.get("systolic"), latest.get("diastolic"), latest.get("pulse_rate")
    bp_ok = bool(
        sbp and dbp
        and _plausible("systolic", sbp.canonical) and _plausible("diastolic", dbp.canonical)
        and dbp.canonical < sbp.canonical
    )
    if bp_ok:
        value = clinical.mean_arterial_pressure(sbp.canonical, dbp.canonical)
        flags = (Flag("MAP below 65 mmHg", "alert"),) if clinical.mean_arterial_pressure_low(
            value
        ) else ()
        rows.append(Vital("map", "Mean arterial pressure", _int(float(value)), "mmHg",
                          flags=flags, note="(SBP + 2·DBP) / 3"))
    if bp_ok and pulse and _plausible("pulse_rate", pulse.canonical) and age_years >= 18:
        index = clinical.shock_index(pulse.canonical, sbp.canonical)
        flags = ()
        if index.above_1_0:
            flags = (Flag("Shock index above 1.0", "alert"),)
        elif index.above_0_9:
            flags = (Flag("Shock index above 0.9", "warn"),)
        rows.append(Vital("shock_index", "Shock index", f"{index.value:.2f}", "",
                          flags=flags, note="pulse / systolic"))
    average = review.bp_average(readings)
    if average is not None:
        flags = ()
        if age_years >= 18:
            level = "info" if average.category == "normal" else "warn"
            flags = (Flag(BP_LABELS[average.category], level),)
        rows.append(Vital("bp_average", "BP average", f"{average.systolic}/{average.diastolic}",
                          "mmHg", flags=flags, note=f"mean of {average.count} readings"))
    ortho = review.orthostatic_set(readings)
    if ortho.result is not None:
        result = ortho.result
        text = f"−{result.systolic_drop}/−{result.diastolic_drop}"
        flags: tuple[Flag, ...] = ()
        if result.orthostatic_hypotension:
            flags = (Flag("Orthostatic hypotension", "alert"),)
        elif result.delayed:
            flags = (Flag("Possible delayed orthostatic hypotension", "warn"),)
        note = "lying → standing"
        if ortho.pulse_rise is not None:
            note += f"; pulse {ortho.pulse_rise:+.0f} /min"
        rows.append(Vital("orthostatic", "Orthostatic change", text, "mmHg", flags=flags,
                          note=note))
    return rows


def _bmi(weight_kg: float, height_cm: float, sex: str, age_months: float) -> Vital:
    try:
        value = clinical.bmi(weight_kg, height_cm)
    except ValueError:
        return Vital("bmi", "BMI", "—", "", implausible=True,
                     note="Weight and height do not fit together (units?): not computed.")
    shown = f"{value:.1f}"
    if age_months >= 240:
        category = clinical.bmi_category(value)
        level = "info" if category == "normal" else "warn"
        return Vital("bmi", "BMI", shown, "kg/m²", flags=(Flag(BMI_LABELS[category], level),))
    if age_months < 24:
        return Vital("bmi", "BMI", shown, "kg/m²", note="No BMI categories under 2 years")
    if sex not in ("M", "F"):
        return Vital("bmi", "BMI", shown, "kg/m²",
                     note="BMI-for-age needs sex M or F (CDC charts)")
    result = clinical.bmi_for_age(sex, age_months, value)
    percentile = result.percentile
    level = "info" if result.category == "healthy_weight" else "warn"
    flags = [Flag(f"{BMI_LABELS[result.category]} (BMI-for-age {_ordinal(percentile)})", level)]
    if result.severe_obesity:
        flags.append(Flag(f"Severe obesity ({result.pct_of_p95:.0f} % of the 95th)", "warn"))
    if result.biologically_implausible:
        return Vital("bmi", "BMI", "—", "", implausible=True,
                     note="Biologically implausible for age (CDC): check weight and height.")
    return Vital("bmi", "BMI", shown, "kg/m²", flags=tuple(flags),
                 note=f"CDC BMI-for-age, z {result.z:+.2f}")


def _ordinal(percentile: float) -> str:
    # CDC reports whole percentiles (its 10-year-old example, LMS 95.56, is "96th"); never
    # "100th" or "0th".
    n = min(99, max(1, round(percentile)))
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix} percentile"


# --------------------------------------------------------------------------------------------
# NEWS2, only where it applies
# --------------------------------------------------------------------------------------------

_NEWS2_INPUTS = {
    "resp_rate": "respiratory rate",
    "spo2": "SpO₂",
    "systolic": "blood pressure",
    "pulse_rate": "pulse",
    "temperature": "temperature",
}


def _news2(
    latest: dict[str, _Value], age_years: int, sex: str, encounter: Encounter
) -> News2Line | None:
    """NEWS2 for adults (16+) not known to be pregnant; None where it does not apply.

    An unknown pregnancy status counts as not pregnant for a male patient; otherwise NEWS2 is
    shown with the caveat that pregnancy was not asked. Consciousness (ACVPU), supplemental
    oxygen and the SpO2 scale come from what the assistant recorded at rooming; what was not
    recorded is assumed (alert, room air, scale 1) and the line says so.
    """
    pregnant = encounter.pregnant
    if not clinical.news2_applicable(age_years, bool(pregnant)):
        return None
    missing = [label for key, label in _NEWS2_INPUTS.items() if key not in latest]
    implausible = [
        label for key, label in _NEWS2_INPUTS.items()
        if key in latest and not _plausible(key, latest[key].canonical)
    ]
    if missing or implausible:
        why = "needs " + ", ".join(missing) if missing else "implausible " + ", ".join(implausible)
        return News2Line(None, "", False, why)
    assumed = []
    if encounter.consciousness is None:
        assumed.append("alert")
    if encounter.on_oxygen is None:
        assumed.append("on room air")
    try:
        score = clinical.news2(
            latest["resp_rate"].canonical,
            latest["spo2"].canonical,
            latest["systolic"].canonical,
            latest["pulse_rate"].canonical,
            encounter.consciousness or "A",
            latest["temperature"].canonical,
            on_oxygen=bool(encounter.on_oxygen),
            spo2_scale=encounter.spo2_scale or 1,
        )
    except ValueError as exc:
        return News2Line(None, "", False, str(exc))
    notes = []
    if assumed:
        notes.append("assumes " + ", ".join(assumed))
    if encounter.spo2_scale == 2:
        notes.append("SpO2 scale 2")
    if pregnant is None and sex != "M":
        notes.append("pregnancy not asked (NEWS2 does not apply in pregnancy)")
    return News2Line(score.total, NEWS2_RISK[score.clinical_risk], score.red_score,
                     "; ".join(notes))


# --------------------------------------------------------------------------------------------
# Change since previous visits
# --------------------------------------------------------------------------------------------

_TREND_KINDS = ("weight", "systolic", "diastolic", "pulse_rate", "temperature", "height")


def _trends(latest: dict[str, _Value], history: list[Reading], units: str) -> list[Trend]:
    # Per kind: the last plausible value of each earlier visit, oldest first.
    per_visit: dict[str, dict[int, tuple[datetime, float]]] = {k: {} for k in _TREND_KINDS}
    for reading in history:
        for obs in reading.observations:
            if obs.kind not in per_visit or not _plausible(obs.kind, obs.canonical_value):
                continue
            visit = per_visit[obs.kind]
            known = visit.get(reading.encounter_id)
            if known is None or known[0] < reading.measured_at:
                visit[reading.encounter_id] = (reading.measured_at, obs.canonical_value)
    trends: list[Trend] = []
    for kind_name in _TREND_KINDS:
        points = sorted(per_visit[kind_name].values())
        now = latest.get(kind_name)
        current = now.canonical if now and _plausible(kind_name, now.canonical) else None
        if not points:
            continue  # nothing earlier: a first value is no change
        shown_now = _shown(kind_name, current, units)
        unit = shown_now.unit
        previous = points[-1] if points else None
        difference = ""
        if previous is not None and current is not None:
            before = Decimal(_shown(kind_name, previous[1], units).value)
            after = Decimal(shown_now.value)
            difference = f"{after - before:+}"
        series = [Decimal(_shown(kind_name, v, units).value) for _, v in points]
        if current is not None:
            series.append(Decimal(shown_now.value))
        trends.append(
            Trend(
                label=_TREND_LABELS[kind_name],
                unit=unit,
                current=shown_now.value,
                previous=_shown(kind_name, previous[1], units).value if previous else "",
                previous_on=previous[0].date() if previous else None,
                difference=difference,
                svg=sparkline([float(v) for v in series], current is not None),
            )
        )
    return trends


_TREND_LABELS = {
    "weight": "Weight",
    "systolic": "Systolic",
    "diastolic": "Diastolic",
    "pulse_rate": "Pulse",
    "temperature": "Temperature",
    "height": "Height",
}


def sparkline(values: list[float], last_is_today: bool = True, width: int = 96,
              height: int = 28) -> str:
    """A small SVG line chart of ``values`` (oldest first), today's point marked.

    Generated here as markup with presentation attributes only (the CSP forbids inline
    scripts and inline styles); the numbers are formatted floats, so nothing needs escaping
    except the accessible title.
    """
    if len(values) < 2:
        return ""
    pad = 4
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = (width - 2 * pad) / (len(values) - 1)
    coords = [
        (pad + i * step, height - pad - (v - low) / span * (height - 2 * pad))
        for i, v in enumerate(values)
    ]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    x, y = coords[-1]
    mark = "#c1121f" if last_is_today else "#12355b"
    title = escape(" → ".join(f"{v:g}" for v in values))
    return (
        f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="trend {title}"><title>{title}</title>'
        f'<polyline fill="none" stroke="#12355b" stroke-width="2" points="{path}"/>'
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{mark}"/></svg>'
    )


# --------------------------------------------------------------------------------------------
# Tests done, and what is still pending
# --------------------------------------------------------------------------------------------


def _tests(
    visions: Iterable[VisionScreening],
    hearings: Iterable[HearingScreening],
    lab_rows: Iterable[LabResult],
) -> list[TestResult]:
    results: list[TestResult] = []
    for v in visions:
        results.append(
            TestResult(
                "Vision",
                f"{v.eye.capitalize()} eye" if v.eye != "both" else "Both eyes",
                f"{v.numerator}/{v.denominator}",
                "Snellen",
                # Worse than 20/40 (6/12) is the usual referral line for adults and older
                # children (AAP/AAO vision screening); shown as context, not a diagnosis.
                v.denominator * 20 > 40 * v.numerator,
                "corrected" if v.corrected else "uncorrected",
            )
        )
    by_ear: dict[str, list[HearingScreening]] = {}
    for h in hearings:
        by_ear.setdefault(h.ear, []).append(h)
    for ear, rows in by_ear.items():
        refer = [r for r in rows if r.result == "refer"]
        detail = ", ".join(f"{r.frequency_hz} Hz {r.result}" for r in rows)
        results.append(
            TestResult(
                "Hearing",
                f"{ear.capitalize()} ear",
                "refer" if refer else "pass",
                f"{rows[0].level_db} dB HL",
                bool(refer),
                detail,
            )
        )
    for lab in lab_rows:
        analyte = labs.ANALYTES.get((lab.test, lab.analyte))
        label = analyte.label if analyte else lab.analyte
        test = labs.TESTS.get(lab.test, lab.test)
        if lab.test != "urine_dipstick" and analyte and len(labs.analytes(lab.test)) == 1:
            label = test
        elif lab.test == "urine_dipstick":
            label = f"Urine {label.lower()}"
        value = f"{lab.value} {lab.unit}".strip() if lab.unit not in ("", "1") else lab.value
        results.append(
            TestResult(
                "Lab",
                label,
                value,
                lab.reference_text,
                lab.interpretation != "normal",
                lab.context or ("" if lab.interpretation == "normal" else lab.interpretation),
            )
        )
    return results


def _pending(
    readings: list[Reading],
    latest: dict[str, _Value],
    answers: list[TriageAnswer],
    qset: QuestionSet | None,
    age_years: int,
    briefing: Briefing,
) -> list[str]:
    pending: list[str] = []
    waiting = [r for r in readings if r.state == "pending"]
    if waiting:
        kinds = sorted({_LABELS.get(o.kind, KINDS[o.kind].label)
                        for r in waiting for o in r.observations if o.kind in KINDS})
        pending.append(
            f"{len(waiting)} device reading{'s' if len(waiting) != 1 else ''} to review"
            + (f" ({', '.join(kinds)})" if kinds else "")
        )
    expected = list(_ADULT_EXPECTED)
    if age_years < 3:
        expected.remove("bp")  # not routine under 3 (AAP 2017) unless at risk
    if age_years < 20 or "height" in latest:
        expected.append("height")
    names = {"bp": "blood pressure", **{k: v.lower() for k, v in _LABELS.items()}}
    names["spo2"] = "SpO₂"
    for key in expected:
        have = ("systolic" in latest) if key == "bp" else key in latest
        if not have:
            pending.append(f"No {names[key]} yet")
    if qset is not None:
        answered = {a.question_key for a in answers}
        open_questions = [q for q in qset.questions if q["key"] not in answered]
        if open_questions:
            pending.append(
                f"{len(open_questions)} triage question"
                f"{'s' if len(open_questions) != 1 else ''} unanswered"
            )
    if briefing.status == "rooming":
        pending.append("The assistant is still rooming the patient")
    return pending
