"""Clinical logic for the vitals briefing: pure functions of published tables.

Every function cites its source; the tables, cut-offs and boundary decisions are collected in
``reference/clinical-tables.md`` (section numbers below refer to it).

Conventions (reference, "Conventions" and section 8):

- Inputs may be ``int``, ``float`` or ``Decimal``. A float is taken at its shortest decimal
  repr (``36.1`` is 36.1, not 36.100000000000001), so a value typed as a chart boundary lands
  on the side the chart says. Booleans, strings, ``None``, NaN and infinities raise
  ``ValueError`` (``plausible`` alone answers ``False`` for ``None``, NaN and infinities).
- Published integer ranges "a-b" are applied as half-open intervals [a, next lower bound), so
  a non-integer value between two printed bands (20.5 /min, 35.05 degC, 129.5 mmHg) falls in
  the lower band. ">" stays strict and ">=" stays inclusive, as the source words it.
- Values are in canonical units: mm[Hg], /min, %, Cel, kg, cm, kg/m2. Every function that
  classifies a raw vital first checks it against ``PLAUSIBLE_RANGES`` and raises
  ``ValueError`` for an implausible value, so an artifact or a unit error (98.6 entered as
  degC) is never scored or flagged as if it were real.
- Derived quantities that must be compared exactly at a cut-off (BMI, MAP, shock index, drops)
  are computed in ``Decimal``; LMS growth-chart statistics are computed in ``float``.
- Results are frozen dataclasses; nothing here does I/O except reading the packaged CDC table
  once (``dashboard/data/cdc_bmiagerev.csv``).
"""

from __future__ import annotations

import csv
import io
import math
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, localcontext
from functools import cache
from importlib import resources
from statistics import NormalDist
from types import MappingProxyType

Number = int | float | Decimal

__all__ = [
    "PLAUSIBLE_RANGES",
    "BmiForAge",
    "News2Score",
    "OrthostaticResult",
    "PediatricRange",
    "PlausibleRange",
    "ShockIndex",
    "bmi",
    "bmi_category",
    "bmi_for_age",
    "bp_category",
    "fever",
    "hypertensive_crisis",
    "mean_arterial_pressure",
    "mean_arterial_pressure_low",
    "news2",
    "news2_applicable",
    "orthostatic_hypotension",
    "pediatric_range",
    "plausible",
    "shock_index",
    "spo2_below_target",
]


# --------------------------------------------------------------------------------------------
# Numbers and plausibility (reference section 7)
# --------------------------------------------------------------------------------------------


def _to_decimal(value: object, name: str) -> Decimal:
    """``value`` as a finite Decimal, or a ValueError naming ``name``."""
    # bool is an int subclass; True as a pulse rate is a caller bug, not 1 /min.
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError(f"{name} must be an int, float or Decimal, not {type(value).__name__}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, not {value!r}")
        # The shortest repr is the decimal the value was written as (36.1, not 36.1000...0142).
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{name} must be a finite number, not {value}")
        return value
    return Decimal(value)


@dataclass(frozen=True)
class PlausibleRange:
    """Limits outside which a value is treated as an artifact or a unit error."""

    low: Decimal
    high: Decimal
    unit: str
    source: str
    low_open: bool = False  # True: ``low`` itself is implausible
    high_open: bool = False  # True: ``high`` itself is implausible

    def contains(self, value: Decimal) -> bool:
        above_low = value > self.low if self.low_open else value >= self.low
        below_high = value < self.high if self.high_open else value <= self.high
        return above_low and below_high

    def describe(self) -> str:
        lo = f"above {self.low}" if self.low_open else f"from {self.low}"
        hi = f"below {self.high}" if self.high_open else f"to {self.high}"
        return f"{lo} {hi} {self.unit}"


# Physiologic plausibility / artifact limits for an exam room that sees adults and children.
# No single published source covers every kind (reference section 7); each limit names the
# source it follows or the reasoning behind it. The limits are deliberately wide: they reject
# artifacts and unit errors, they are not normal ranges.
PLAUSIBLE_RANGES: Mapping[str, PlausibleRange] = MappingProxyType(
    {
        # Project brief SBP 50-300. Upper: CLIF outlier_config.yaml caps SBP at 300, and 300 is
        # the top of an oscillometric cuff's pressure range. Lower: a conscious patient walking
        # into an exam room does not have SBP < 50; below it a cuff reading is an artifact.
        "systolic": PlausibleRange(
            Decimal(50), Decimal(300), "mm[Hg]", "project brief; CLIF outlier_config.yaml"
        ),
        # Upper 200: CLIF outlier_config.yaml (DBP 0-200). Lower 20 (reasoning): an
        # auscultatory "0" (Korotkoff sounds to zero) is a recording convention, not a pressure,
        # and an oscillometric diastolic below 20 with SBP >= 50 is an artifact.
        "diastolic": PlausibleRange(
            Decimal(20), Decimal(200), "mm[Hg]", "CLIF outlier_config.yaml; reasoning (low end)"
        ),
        # Derived from the SBP and DBP limits: (50 + 2*20)/3 = 30 and (300 + 2*200)/3 = 233.3,
        # rounded out to 235 because an oscillometric device measures MAP, not the formula.
        "mean_arterial_pressure": PlausibleRange(
            Decimal(30), Decimal(235), "mm[Hg]", "derived from the systolic/diastolic limits"
        ),
        # Project brief HR 20-300; MIMIC-IV vitalsign.sql (0 < HR < 300), CLIF (0-300).
        "pulse_rate": PlausibleRange(
            Decimal(20), Decimal(300), "/min", "project brief; MIMIC-IV vitalsign.sql; CLIF"
        ),
        # Project brief and CLIF outlier_config.yaml: SpO2 50-100 %. More than 100 % is
        # impossible; oximeter accuracy is not specified far below 70 %.
        "spo2": PlausibleRange(Decimal(50), Decimal(100), "%", "project brief; CLIF"),
        # Project brief and kscarlett/news2 validate.go: 25-45 degC. Rejects degF entered as
        # degC (98.6), which kscarlett's "temperature in Fahrenheit" test checks.
        "temperature": PlausibleRange(
            Decimal(25), Decimal(45), "Cel", "project brief; kscarlett/news2 validate.go"
        ),
        # Project brief 0.5-500 kg: 0.5 kg admits a premature newborn; 500 kg is growthcleanr's
        # adult BIV exclusion (> 500 kg). Adult-only lower limits (CLIF 30 kg, growthcleanr
        # 20 kg) would reject children.
        "weight": PlausibleRange(
            Decimal("0.5"), Decimal(500), "kg", "project brief; growthcleanr adult step 1"
        ),
        # Project brief 20-272 cm: 272 cm is the tallest height ever recorded (R. Wadlow);
        # 20 cm admits an extremely premature newborn. MIMIC's > 120 cm is adult-only.
        "height": PlausibleRange(Decimal(20), Decimal(272), "cm", "project brief; reasoning"),
        # Chan & Raffa 2017 (VA weight cleaning): exclude BMI <= 10 or >= 100.
        "bmi": PlausibleRange(
            Decimal(10),
            Decimal(100),
            "kg/m2",
            "Chan & Raffa 2017 (VA weight cleaning)",
            low_open=True,
            high_open=True,
        ),
        # kscarlett/news2 validate.go: 1-100 /min. Wider than MIMIC (< 70) and CLIF (<= 60)
        # because Fleming 2011 puts the 99th centile at 66 /min in infants, and sick infants
        # breathe faster still.
        "resp_rate": PlausibleRange(
            Decimal(1), Decimal(100), "/min", "kscarlett/news2 validate.go"
        ),
    }
)


def plausible(kind: str, value: Number | None) -> bool:
    """Whether ``value`` (canonical units) is a physiologically plausible ``kind`` reading.

    ``kind`` is one of ``systolic, diastolic, mean_arterial_pressure, pulse_rate, spo2,
    temperature, weight, height, bmi, resp_rate`` in mm[Hg], /min, %, Cel, kg, cm, kg/m2.
    ``None``, NaN and infinities are not plausible (``False``); an unknown ``kind`` or a
    non-number raises ValueError. Limits are inclusive except BMI (open at both ends).

    Sources (per kind in ``PLAUSIBLE_RANGES``; reference section 7): the project brief's ranges,
    MIMIC-IV ``vitalsign.sql``, CLIF ``outlier_config.yaml``, growthcleanr (Daymont 2017),
    Chan & Raffa 2017, kscarlett/news2 ``validate.go``; reasoning where no source fits.
    """
    limits = _range_for(kind)
    if value is None:
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False
    if isinstance(value, Decimal) and not value.is_finite():
        return False
    return limits.contains(_to_decimal(value, kind))


def _range_for(kind: str) -> PlausibleRange:
    try:
        return PLAUSIBLE_RANGES[kind]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown kind {kind!r}; expected one of {', '.join(PLAUSIBLE_RANGES)}"
        ) from None


def _checked(kind: str, value: object, name: str) -> Decimal:
    """``value`` as a Decimal, or a ValueError if it is not a plausible ``kind``."""
    number = _to_decimal(value, name)
    limits = _range_for(kind)
    if not limits.contains(number):
        hint = ""
        if kind == "temperature" and Decimal(80) <= number <= Decimal(115):
            hint = " (degF entered as degC?)"
        raise ValueError(
            f"{name} {number} is outside the plausible {kind} range ({limits.describe()}); "
            f"treat it as an artifact or a unit error{hint}"
        )
    return number


def _checked_bp(systolic: object, diastolic: object) -> tuple[Decimal, Decimal]:
    sbp = _checked("systolic", systolic, "systolic")
    dbp = _checked("diastolic", diastolic, "diastolic")
    if dbp >= sbp:
        raise ValueError(
            f"diastolic {dbp} is not below systolic {sbp}; the pair is not a valid blood pressure"
        )
    return sbp, dbp


# --------------------------------------------------------------------------------------------
# Adult BMI (reference section 3)
# --------------------------------------------------------------------------------------------


def bmi(weight_kg: Number, height_cm: Number) -> Decimal:
    """Body-mass index, weight (kg) / height (m)^2, unrounded, as a Decimal.

    Source: WHO TRS 894 (2000); CDC adult BMI formula (reference section 3). Computed in
    Decimal so that, e.g., 47.36 kg at 160 cm is exactly 18.5 and classifies as the chart says.
    Weight and height must be plausible (``PLAUSIBLE_RANGES``), and so must the result: a BMI
    outside it means the weight and height do not belong together (or a unit is wrong).
    """
    weight = _checked("weight", weight_kg, "weight_kg")
    height = _checked("height", height_cm, "height_cm")
    with localcontext() as ctx:
        ctx.prec = 28
        value = weight / (height / 100) ** 2
    if not PLAUSIBLE_RANGES["bmi"].contains(value):
        raise ValueError(
            f"weight {weight} kg and height {height} cm give BMI {value:.1f}, outside the "
            f"plausible range ({PLAUSIBLE_RANGES['bmi'].describe()}); check units"
        )
    return value


# WHO TRS 894 Table 2.1, as the CDC writes it in half-open form: [lower bound, next bound).
_BMI_CATEGORIES: tuple[tuple[Decimal, str], ...] = (
    (Decimal("18.5"), "underweight"),
    (Decimal(25), "normal"),
    (Decimal(30), "overweight"),
    (Decimal(35), "obesity_class_1"),
    (Decimal(40), "obesity_class_2"),
)


def bmi_category(bmi: Number) -> str:
    """Adult BMI class: ``underweight | normal | overweight | obesity_class_1 |
    obesity_class_2 | obesity_class_3``.

    Source: WHO. Obesity: preventing and managing the global epidemic. TRS 894, 2000,
    Table 2.1 (< 18.50, 18.50-24.99, 25.00-29.99, 30.00-34.99, 35.00-39.99, >= 40.00), applied as
    the CDC's half-open intervals (18.5 to < 25, ...) to the UNROUNDED value: 24.96 is normal
    even though it displays as 25.0 (reference section 3, "rounding before classifying").
    Adult categories apply from age 20 (CDC) or 18; for ages 2-19 use ``bmi_for_age``.
    """
    value = _checked("bmi", bmi, "bmi")
    for upper, name in _BMI_CATEGORIES:
        if value < upper:
            return name
    return "obesity_class_3"


# --------------------------------------------------------------------------------------------
# Blood pressure (reference sections 2 and 6)
# --------------------------------------------------------------------------------------------

_BP_ORDER = ("normal", "elevated", "stage_1", "stage_2")


def bp_category(systolic: Number, diastolic: Number) -> str:
    """Adult BP category ``normal | elevated | stage_1 | stage_2``.

    Source: Whelton PK et al. 2017 ACC/AHA/AAPA/ABC/ACPM/AGS/APhA/ASH/ASPC/NMA/PCNA guideline,
    Hypertension 2018;71:e13-e115, Table 6: normal < 120 and < 80; elevated 120-129 and < 80;
    stage 1 130-139 or 80-89; stage 2 >= 140 or >= 90. Table 6 footnote: SBP and DBP in two
    categories take the higher (120/80 is stage 1, 118/92 stage 2). Non-integer averages use
    half-open intervals (129.5 is elevated). The guideline classifies an average of >= 2
    readings on >= 2 occasions; label a single exam-room reading as one reading.
    """
    sbp, dbp = _checked_bp(systolic, diastolic)
    if sbp < 120:
        by_sbp = 0
    elif sbp < 130:
        by_sbp = 1
    elif sbp < 140:
        by_sbp = 2
    else:
        by_sbp = 3
    # Diastolic has no "elevated" band: < 80 normal, 80-89 stage 1, >= 90 stage 2.
    by_dbp = 0 if dbp < 80 else 2 if dbp < 90 else 3
    return _BP_ORDER[max(by_sbp, by_dbp)]


def hypertensive_crisis(systolic: Number, diastolic: Number) -> bool:
    """Severe BP elevation: SBP strictly above 180 and/or DBP strictly above 120.

    Source: 2017 ACC/AHA guideline section 11.2 ("severe elevations in BP (>180/120 mm Hg)") and
    the AHA "Understanding Blood Pressure Readings" chart ("higher than 180 and/or higher than
    120"). 180/120 itself is stage 2, not a crisis (reference section 2). Emergency versus
    urgency needs target-organ damage, which vitals cannot show: say "severe BP elevation".
    """
    sbp, dbp = _checked_bp(systolic, diastolic)
    return sbp > 180 or dbp > 120


def mean_arterial_pressure(systolic: Number, diastolic: Number) -> Decimal:
    """MAP = DBP + (SBP - DBP)/3 = (SBP + 2*DBP)/3, unrounded Decimal, mm[Hg].

    Source: the standard formula (reference section 6). See ``mean_arterial_pressure_low``
    for the Surviving Sepsis Campaign 2021 target of 65.
    """
    sbp, dbp = _checked_bp(systolic, diastolic)
    with localcontext() as ctx:
        ctx.prec = 28
        return (sbp + 2 * dbp) / 3


def mean_arterial_pressure_low(map_mmhg: Number) -> bool:
    """Whether a MAP is strictly below 65 mm[Hg].

    Source: Evans L et al. Surviving Sepsis Campaign 2021: initial MAP target of 65 mm Hg
    (reference section 6, "flag < 65").
    """
    return _checked("mean_arterial_pressure", map_mmhg, "map_mmhg") < 65


@dataclass(frozen=True)
class ShockIndex:
    """Shock index HR/SBP with the two published strict cut-offs."""

    value: Decimal
    above_0_9: bool  # > 0.9: abnormal (Rady 1994)
    above_1_0: bool  # > 1.0: predicts transfusion, ICU admission and mortality

    def __float__(self) -> float:
        return float(self.value)


def shock_index(heart_rate: Number, systolic: Number) -> ShockIndex:
    """Shock index = heart rate / systolic BP, with flags for strictly above 0.9 and 1.0.

    Source: Allgower M, Burri C. Dtsch Med Wochenschr 1967 (definition; normal 0.5-0.7);
    Koch E et al. Open Access Emerg Med 2019;11:179-99 (review: > 0.9 abnormal, Rady 1994;
    > 1.0 predicts transfusion, ICU and mortality). HR 99 / SBP 110 is exactly 0.9 and does not
    exceed 0.9 (reference section 8.9); the flags compare HR*10 with 9*SBP exactly.
    """
    hr = _checked("pulse_rate", heart_rate, "heart_rate")
    sbp = _checked("systolic", systolic, "systolic")
    with localcontext() as ctx:
        ctx.prec = 28
        value = hr / sbp
    return ShockIndex(value=value, above_0_9=hr * 10 > sbp * 9, above_1_0=hr > sbp)


@dataclass(frozen=True)
class OrthostaticResult:
    """Postural BP change. Truthy exactly when ``orthostatic_hypotension`` is True."""

    systolic_drop: Decimal  # supine minus standing; positive is a fall
    diastolic_drop: Decimal
    criteria_met: bool  # SBP fall >= 20 or DBP fall >= 10, whenever measured
    orthostatic_hypotension: bool  # criteria met within 3 minutes of standing
    delayed: bool  # criteria met only in a reading taken after 3 minutes (possible delayed OH)

    def __bool__(self) -> bool:
        return self.orthostatic_hypotension


def orthostatic_hypotension(
    supine_sbp: Number,
    supine_dbp: Number,
    standing_sbp: Number,
    standing_dbp: Number,
    minutes_after_standing: Number,
) -> OrthostaticResult:
    """Classical orthostatic hypotension: a fall of SBP >= 20 or DBP >= 10 mm[Hg] within 3 min.

    Source: Freeman R et al. Consensus statement on the definition of orthostatic hypotension,
    neurally mediated syncope and the postural tachycardia syndrome. Clin Auton Res
    2011;21:69-72. A reading at exactly 3 min counts; a fall seen only later (e.g. 5 min) is
    reported as ``delayed`` (possible delayed OH), not as OH (reference section 8.8). Not
    implemented here: the SBP fall of 30 suggested with supine hypertension, initial OH
    (> 40/> 20 within 15 s) and sit-to-stand thresholds (Shaw et al. 2017, >= 15/>= 7).
    """
    sup_s, sup_d = _checked_bp(supine_sbp, supine_dbp)
    std_s, std_d = _checked_bp(standing_sbp, standing_dbp)
    minutes = _to_decimal(minutes_after_standing, "minutes_after_standing")
    if minutes < 0:
        raise ValueError(f"minutes_after_standing must not be negative, got {minutes}")
    systolic_drop = sup_s - std_s
    diastolic_drop = sup_d - std_d
    criteria = systolic_drop >= 20 or diastolic_drop >= 10
    within = minutes <= 3
    return OrthostaticResult(
        systolic_drop=systolic_drop,
        diastolic_drop=diastolic_drop,
        criteria_met=criteria,
        orthostatic_hypotension=criteria and within,
        delayed=criteria and not within,
    )


# --------------------------------------------------------------------------------------------
# Single-parameter flags (reference section 6)
# --------------------------------------------------------------------------------------------


def fever(temperature_c: Number) -> bool:
    """Fever: measured temperature >= 38.0 degC (100.4 degF).

    Source: CDC fever definition ("a measured temperature of 100.4 degF (38 degC) or
    greater"). 38.0 is a fever yet still scores 0 on NEWS2 (band 36.1-38.0). Rectal and ear
    thresholds are often quoted as 38.3; this flag does not adjust for site.
    """
    return _checked("temperature", temperature_c, "temperature_c") >= Decimal("38.0")


def spo2_below_target(spo2: Number, scale: int = 1) -> bool:
    """Whether SpO2 is below the target range of its NEWS2 scale.

    Source: O'Driscoll BR et al. BTS guideline for oxygen use in adults. Thorax 2017;72
    (Suppl 1):ii1-ii90: target 94-98 % for most acutely ill adults (NEWS2 Scale 1), 88-92 % for
    those at risk of hypercapnic respiratory failure (NEWS2 Scale 2, RCP 2017). Below target is
    < 94 on scale 1 and < 88 on scale 2.
    """
    value = _checked("spo2", spo2, "spo2")
    return value < _target_floor(scale)


def _target_floor(scale: object) -> int:
    if isinstance(scale, bool) or scale not in (1, 2):
        raise ValueError(f"SpO2 scale must be 1 or 2, not {scale!r}")
    return 94 if scale == 1 else 88


# --------------------------------------------------------------------------------------------
# NEWS2 (reference section 1)
# --------------------------------------------------------------------------------------------

# Chart 1 bands as (exclusive upper bound, score), lowest first; a value at or above the last
# bound takes the final score. Each bound is the lower edge of the next printed band, so the
# printed integer bands become half-open intervals without gaps (reference section 8.1).
_NEWS2_RESP = ((Decimal(9), 3), (Decimal(12), 1), (Decimal(21), 0), (Decimal(25), 2)), 3
_NEWS2_SPO2_SCALE1 = ((Decimal(92), 3), (Decimal(94), 2), (Decimal(96), 1)), 0
# Scale 2 up to 92 %; >= 93 depends on air or oxygen (below).
_NEWS2_SPO2_SCALE2_LOW = ((Decimal(84), 3), (Decimal(86), 2), (Decimal(88), 1)), 0
_NEWS2_SPO2_SCALE2_ON_O2 = ((Decimal(93), 0), (Decimal(95), 1), (Decimal(97), 2)), 3
_NEWS2_SBP = ((Decimal(91), 3), (Decimal(101), 2), (Decimal(111), 1), (Decimal(220), 0)), 3
_NEWS2_PULSE = (
    ((Decimal(41), 3), (Decimal(51), 1), (Decimal(91), 0), (Decimal(111), 1), (Decimal(131), 2)),
    3,
)
_NEWS2_TEMP = (
    (
        (Decimal("35.1"), 3),
        (Decimal("36.1"), 1),
        (Decimal("38.1"), 0),
        (Decimal("39.1"), 1),
    ),
    2,
)

_ACVPU = frozenset("ACVPU")


def _band_score(value: Decimal, table: tuple[tuple[tuple[Decimal, int], ...], int]) -> int:
    bands, top = table
    for upper, score in bands:
        if value < upper:
            return score
    return top


def _news2_spo2(spo2: Decimal, on_oxygen: bool, scale: int) -> int:
    if scale == 1:
        # Scale 1 does not depend on air or oxygen (Chart 1).
        return _band_score(spo2, _NEWS2_SPO2_SCALE1)
    if spo2 < 93 or not on_oxygen:
        # 88-92 scores 0 on air or oxygen; >= 93 on air scores 0.
        return _band_score(spo2, _NEWS2_SPO2_SCALE2_LOW)
    return _band_score(spo2, _NEWS2_SPO2_SCALE2_ON_O2)


@dataclass(frozen=True)
class News2Score:
    """A NEWS2 aggregate score with its sub-scores and clinical risk band."""

    total: int
    subscores: Mapping[str, int]  # respiration_rate, spo2, air_or_oxygen, systolic_bp, ...
    clinical_risk: str  # low | low-medium | medium | high
    red_score: bool  # 3 in any single parameter, reported whatever the band
    spo2_scale: int


def news2(
    resp_rate: Number,
    spo2: Number,
    systolic_bp: Number,
    pulse: Number,
    consciousness: str,
    temperature_c: Number,
    *,
    on_oxygen: bool = False,
    spo2_scale: int = 1,
) -> News2Score:
    """National Early Warning Score 2.

    Source: Royal College of Physicians. National Early Warning Score (NEWS) 2: Standardising
    the assessment of acute-illness severity in the NHS. London: RCP, 2017. Chart 1 (scoring),
    Charts 2-3 (clinical risk). Reference section 1.

    - ``consciousness`` is the ACVPU letter; new confusion (C), V, P or U score 3. Long-standing
      confusion is recorded as A.
    - ``spo2_scale=2`` only for confirmed hypercapnic respiratory failure with a prescribed
      target of 88-92 %, decided and recorded by a competent clinician; never infer it. On
      Scale 2, 88-92 scores 0 on air or oxygen, >= 93 on air scores 0, and 93-94 / 95-96 / >= 97
      on oxygen score 1 / 2 / 3.
    - Any supplemental oxygen adds 2.
    - ``clinical_risk``: aggregate >= 7 high; 5-6 medium; a 3 in any single parameter with an
      aggregate <= 4 low-medium; otherwise low (aggregate 0 and 1-4 are both "low" but need
      different monitoring: see ``total``). ``red_score`` is reported whatever the band.
    - Not for under-16s or pregnancy: check ``news2_applicable`` first.

    Each vital must be plausible (``PLAUSIBLE_RANGES``) or ValueError is raised.
    """
    rr = _checked("resp_rate", resp_rate, "resp_rate")
    sat = _checked("spo2", spo2, "spo2")
    sbp = _checked("systolic", systolic_bp, "systolic_bp")
    hr = _checked("pulse_rate", pulse, "pulse")
    temp = _checked("temperature", temperature_c, "temperature_c")
    if not isinstance(consciousness, str) or consciousness not in _ACVPU:
        raise ValueError(f"consciousness must be one of A, C, V, P, U, not {consciousness!r}")
    if not isinstance(on_oxygen, bool):
        raise ValueError(f"on_oxygen must be True or False, not {on_oxygen!r}")
    _target_floor(spo2_scale)  # validates the scale

    subscores = {
        "respiration_rate": _band_score(rr, _NEWS2_RESP),
        "spo2": _news2_spo2(sat, on_oxygen, spo2_scale),
        "air_or_oxygen": 2 if on_oxygen else 0,
        "systolic_bp": _band_score(sbp, _NEWS2_SBP),
        "pulse": _band_score(hr, _NEWS2_PULSE),
        "consciousness": 0 if consciousness == "A" else 3,
        "temperature": _band_score(temp, _NEWS2_TEMP),
    }
    total = sum(subscores.values())
    red = 3 in subscores.values()
    if total >= 7:
        risk = "high"
    elif total >= 5:
        risk = "medium"
    elif red:
        risk = "low-medium"
    else:
        risk = "low"
    return News2Score(
        total=total,
        subscores=MappingProxyType(subscores),
        clinical_risk=risk,
        red_score=red,
        spo2_scale=spo2_scale,
    )


def news2_applicable(age_years: Number, pregnant: bool) -> bool:
    """Whether NEWS2 applies: age 16 or over and not pregnant.

    Source: RCP NEWS2 report (2017): NEWS2 is not recommended for children (< 16 years) or in
    pregnancy (reference section 1.1, "Applicability"). ``pregnant`` must be a bool: the caller
    decides what an unknown pregnancy status means.
    """
    age = _to_decimal(age_years, "age_years")
    if not 0 <= age <= 150:
        raise ValueError(f"age_years must be between 0 and 150, got {age}")
    if not isinstance(pregnant, bool):
        raise ValueError(f"pregnant must be True or False, not {pregnant!r}")
    return age >= 16 and not pregnant


# --------------------------------------------------------------------------------------------
# CDC BMI-for-age, 2-19 years (reference section 4)
# --------------------------------------------------------------------------------------------

_AGE_MIN_MONTHS = 24.0
_AGE_MAX_MONTHS = 240.0
_Z95 = NormalDist().inv_cdf(0.95)  # 1.6448536..., as qnorm(0.95) in CDCAnthro
_PHI = NormalDist().cdf


@dataclass(frozen=True)
class _LmsTable:
    ages: tuple[float, ...]
    l: tuple[float, ...]  # noqa: E741 - the LMS method's own name
    m: tuple[float, ...]
    s: tuple[float, ...]


@cache
def _lms_tables() -> dict[str, _LmsTable]:
    """The CDC ``bmiagerev.csv`` LMS rows by sex, read once from ``dashboard/data``."""
    text = (
        resources.files("dashboard")
        .joinpath("data", "cdc_bmiagerev.csv")
        .read_text(encoding="ascii")
    )
    rows: dict[str, list[tuple[float, float, float, float]]] = {"M": [], "F": []}
    for record in csv.reader(io.StringIO(text)):
        # The CDC file repeats its header before the female rows (reference section 4.4).
        if not record or record[0] == "Sex":
            continue
        sex = {"1": "M", "2": "F"}[record[0]]
        rows[sex].append(tuple(float(x) for x in record[1:5]))  # type: ignore[arg-type]
    tables = {}
    for sex, entries in rows.items():
        entries.sort()
        ages, ls, ms, ss = zip(*entries, strict=True)
        tables[sex] = _LmsTable(ages=ages, l=ls, m=ms, s=ss)
    return tables


def _lms_at(sex: str, age: float) -> tuple[float, float, float]:
    """L, M, S linearly interpolated between the tabulated ages, as CDCAnthro's ``approx``."""
    table = _lms_tables()[sex]
    i = bisect_right(table.ages, age) - 1
    if table.ages[i] == age:
        return table.l[i], table.m[i], table.s[i]
    a0, a1 = table.ages[i], table.ages[i + 1]
    f = (age - a0) / (a1 - a0)
    return (
        table.l[i] + f * (table.l[i + 1] - table.l[i]),
        table.m[i] + f * (table.m[i + 1] - table.m[i]),
        table.s[i] + f * (table.s[i + 1] - table.s[i]),
    )


def _lms_value(l: float, m: float, s: float, z: float) -> float:  # noqa: E741
    """BMI at z-score ``z``: M*(1 + L*S*z)^(1/L) (Cole & Green 1992)."""
    if l == 0:
        return m * math.exp(s * z)
    return m * (1 + l * s * z) ** (1 / l)


@dataclass(frozen=True)
class BmiForAge:
    """CDC BMI-for-age result for a child or teen aged 2-19 years."""

    sex: str
    age_months: float
    bmi: float
    lms: tuple[float, float, float]  # interpolated L, M, S
    z: float  # ordinary LMS z-score
    percentile: float  # 100 * Phi(z), standard LMS
    extended_percentile: float | None  # CDC 2022 extended method at >= P95, else None
    category: str  # underweight | healthy_weight | overweight | obesity
    p95: float  # BMI at the 95th percentile for this sex and age
    pct_of_p95: float  # 100 * BMI / P95, unrounded (e.g. 101.56...)
    severe_obesity: bool  # >= 120 % of P95 or BMI >= 35
    modified_z: float  # CDC modified z-score, for biologically implausible values
    biologically_implausible: bool  # modified z < -4 or > 8


def bmi_for_age(sex: str, age_months: Number, bmi: Number) -> BmiForAge:
    """CDC 2000 BMI-for-age z-score, percentile and weight category, ages 24-240 months.

    Sources: Kuczmarski RJ et al. 2000 CDC Growth Charts: methods and development. Vital Health
    Stat 11(246), 2002; Cole TJ, Green PJ. Stat Med 1992;11:1305-19 (LMS); CDC data file
    ``bmiagerev.csv``; CDC "Child and Teen BMI Categories"; CDC 2022 extended BMI-for-age
    (Freedman et al., PMID 31439056) as implemented in CDC-DNPAO/CDCAnthro ``R/cdcanthro.R``.
    Reference section 4.

    - ``sex`` is ``"M"`` or ``"F"``. ``age_months`` as precise as possible (days / 30.4375;
      with completed months only, add 0.5). 24 <= age <= 240 as in CDCAnthro; L, M and S are
      interpolated linearly between the file's ages (24.0, 24.5, 25.5, ... 240.0).
    - z = ((BMI/M)^L - 1)/(L*S); percentile = 100*Phi(z).
    - Category from the LMS percentile: < 5 underweight, 5 to < 85 healthy weight, 85 to < 95
      overweight, >= 95 obesity. Severe obesity: >= 120 % of P95 or BMI >= 35.
    - Extended percentile (CDC 2022), only at LMS percentile >= 95:
      90 + 10*Phi((BMI - P95)/sigma), sigma(boys) = 0.3728 + 0.5196y - 0.0091y^2,
      sigma(girls) = 0.8334 + 0.3712y - 0.0011y^2, y = age in years, sigma rounded to 8 dp as
      CDCAnthro does. P95 = M*(1 + L*S*1.6449)^(1/L) at the interpolated L, M, S.
    - Modified z (CDC SAS program): (BMI - M)/(half the distance from M to the BMI at z = +2,
      or at z = -2 below the median); biologically implausible if < -4 or > 8.
    """
    if sex not in ("M", "F"):
        raise ValueError(f"sex must be 'M' or 'F', not {sex!r}")
    age = float(_to_decimal(age_months, "age_months"))
    if not _AGE_MIN_MONTHS <= age <= _AGE_MAX_MONTHS:
        raise ValueError(
            f"age_months {age} is outside the CDC BMI-for-age range of 24 to 240 months "
            "(2 to 20 years); use adult BMI categories from 240 months"
        )
    value = float(_checked("bmi", bmi, "bmi"))
    l, m, s = _lms_at(sex, age)  # noqa: E741
    z = math.log(value / m) / s if l == 0 else ((value / m) ** l - 1) / (l * s)
    percentile = 100 * _PHI(z)
    p95 = _lms_value(l, m, s, _Z95)

    if percentile < 5:
        category = "underweight"
    elif percentile < 85:
        category = "healthy_weight"
    elif percentile < 95:
        category = "overweight"
    else:
        category = "obesity"

    extended = None
    if percentile >= 95:
        y = age / 12
        if sex == "M":
            sigma = 0.3728 + 0.5196 * y - 0.0091 * y**2
        else:
            sigma = 0.8334 + 0.3712 * y - 0.0011 * y**2
        extended = 90 + 10 * _PHI((value - p95) / round(sigma, 8))

    if value < m:
        modified_z = (value - m) / (0.5 * (m - _lms_value(l, m, s, -2.0)))
    else:
        modified_z = (value - m) / (0.5 * (_lms_value(l, m, s, 2.0) - m))

    pct_of_p95 = 100 * value / p95
    return BmiForAge(
        sex=sex,
        age_months=age,
        bmi=value,
        lms=(l, m, s),
        z=z,
        percentile=percentile,
        extended_percentile=extended,
        category=category,
        p95=p95,
        pct_of_p95=pct_of_p95,
        severe_obesity=pct_of_p95 >= 120 or value >= 35,
        modified_z=modified_z,
        biologically_implausible=modified_z < -4 or modified_z > 8,
    )


# --------------------------------------------------------------------------------------------
# Paediatric heart rate and respiratory rate centiles (reference section 5)
# --------------------------------------------------------------------------------------------

_CENTILES = (1, 10, 25, 50, 75, 90, 99)

# Fleming et al. Lancet 2011, web appendix Web Table 5 (heart rate) and Web Table 4
# (respiratory rate), as transcribed and cross-checked in reference section 5.1. Bands are
# [lower, upper) in months; the partly unverified "Birth" row is not used.
_FLEMING_BANDS: tuple[tuple[int, int, str], ...] = (
    (0, 3, "0-3 months"),
    (3, 6, "3-6 months"),
    (6, 9, "6-9 months"),
    (9, 12, "9-12 months"),
    (12, 18, "12-18 months"),
    (18, 24, "18-24 months"),
    (24, 36, "2-3 years"),
    (36, 48, "3-4 years"),
    (48, 72, "4-6 years"),
    (72, 96, "6-8 years"),
    (96, 144, "8-12 years"),
    (144, 180, "12-15 years"),
    (180, 216, "15-18 years"),
)
_FLEMING: Mapping[str, tuple[tuple[int, ...], ...]] = MappingProxyType(
    {
        "heart_rate": (
            (107, 123, 133, 143, 154, 164, 181),
            (104, 120, 129, 140, 150, 159, 175),
            (98, 114, 123, 134, 143, 152, 168),
            (93, 109, 118, 128, 137, 145, 161),
            (88, 103, 112, 123, 132, 140, 156),
            (82, 98, 106, 116, 126, 135, 149),
            (76, 92, 100, 110, 119, 128, 142),
            (70, 86, 94, 104, 113, 123, 136),
            (65, 81, 89, 98, 108, 117, 131),
            (59, 74, 82, 91, 101, 111, 123),
            (52, 67, 75, 84, 93, 103, 115),
            (47, 62, 69, 78, 87, 96, 108),
            (43, 58, 65, 73, 83, 92, 104),
        ),
        "resp_rate": (
            (25, 34, 40, 43, 52, 57, 66),
            (24, 33, 38, 41, 49, 55, 64),
            (23, 31, 36, 39, 47, 52, 61),
            (22, 30, 35, 37, 45, 50, 58),
            (21, 28, 32, 35, 42, 46, 53),
            (19, 25, 29, 31, 36, 40, 46),
            (18, 22, 25, 28, 31, 34, 38),
            (17, 21, 23, 25, 27, 29, 33),
            (17, 20, 21, 23, 25, 27, 29),
            (16, 18, 20, 21, 23, 24, 27),
            (14, 16, 18, 19, 21, 22, 25),
            (12, 15, 16, 18, 19, 21, 23),
            (11, 13, 15, 16, 18, 19, 22),
        ),
    }
)
_PLAUSIBLE_KIND = {"heart_rate": "pulse_rate", "resp_rate": "resp_rate"}


@dataclass(frozen=True)
class PediatricRange:
    """Where a child's heart or respiratory rate sits among Fleming 2011 centiles."""

    parameter: str
    band: str  # Fleming age band, e.g. "2-3 years"
    centiles: Mapping[int, int]  # {1: ..., 10: ..., 25: ..., 50: ..., 75: ..., 90: ..., 99: ...}
    below_p1: bool
    below_p10: bool
    above_p90: bool
    above_p99: bool


def pediatric_range(parameter: str, age_months: Number, value: Number) -> PediatricRange:
    """Position of a heart rate or respiratory rate among the centiles for age, 0 to < 216 mo.

    Source: Fleming S, Thompson M, Stevens R, et al. Normal ranges of heart rate and
    respiratory rate in children from birth to 18 years of age: a systematic review of
    observational studies. Lancet 2011;377:1011-18, Web Tables 4 (RR) and 5 (HR). Bands are
    lower-inclusive [lower, upper) in months, so exactly 3.0 months is "3-6 months" (reference
    section 8.7). Flags are strict: ``below_p1`` is value < 1st centile, ``above_p99`` is
    value > 99th. Fleming does not define "abnormal", so no diagnosis is made; the centiles
    describe healthy, mostly awake children, and fever raises HR by about 10 /min per degC.
    """
    if parameter not in _FLEMING:
        raise ValueError(f"parameter must be 'heart_rate' or 'resp_rate', not {parameter!r}")
    age = _to_decimal(age_months, "age_months")
    if not 0 <= age < 216:
        raise ValueError(
            f"age_months {age} is outside the Fleming 2011 centiles, 0 to under 216 months "
            "(birth to 18 years)"
        )
    number = _checked(_PLAUSIBLE_KIND[parameter], value, parameter)
    index = next(i for i, (lo, hi, _) in enumerate(_FLEMING_BANDS) if lo <= age < hi)
    row = _FLEMING[parameter][index]
    centiles = dict(zip(_CENTILES, row, strict=True))
    return PediatricRange(
        parameter=parameter,
        band=_FLEMING_BANDS[index][2],
        centiles=MappingProxyType(centiles),
        below_p1=number < centiles[1],
        below_p10=number < centiles[10],
        above_p90=number > centiles[90],
        above_p99=number > centiles[99],
    )
