"""In-house (point-of-care) tests: what each reports, its unit and reference range. Pure data.

LOINC codes are the "by Test strip" / point-of-care terms (e.g. 5802-4 Nitrite [Presence] in
Urine by Test strip). Reference ranges and their sources are named per test; a result row
copies the range it was read against (docs/data-model.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from dashboard.display_units import EntryError

# 1 mmol/L glucose = 18.0156 mg/dL (molar mass of glucose 180.156 g/mol).
_GLUCOSE_MG_PER_MMOL = Decimal("18.0156")

DIPSTICK_GRADES = ("negative", "trace", "1+", "2+", "3+", "4+")
PRESENCE = ("negative", "positive", "invalid")


@dataclass(frozen=True)
class Analyte:
    test: str
    analyte: str
    label: str
    loinc: str
    unit: str = ""
    choices: tuple[str, ...] = ()
    """Ordinal or nominal results; empty for a numeric analyte."""
    normal: tuple[str, ...] = ()
    """The choices that are normal (a numeric analyte uses the range instead)."""
    low: Decimal | None = None
    high: Decimal | None = None
    places: int = 0
    entry_low: Decimal | None = None
    entry_high: Decimal | None = None
    """What the meter or strip can read; outside is a typing error."""


@dataclass(frozen=True)
class Result:
    value: str
    numeric: Decimal | None
    unit: str
    low: Decimal | None
    high: Decimal | None
    reference_text: str
    interpretation: str  # normal | low | high | abnormal | invalid


TESTS: dict[str, str] = {
    "glucose_fingerstick": "Fingerstick glucose",
    "hemoglobin": "Hemoglobin (point of care)",
    "urine_dipstick": "Urine dipstick",
    "rapid_strep": "Rapid strep (group A)",
    "urine_hcg": "Urine hCG (pregnancy)",
}

_ANALYTES = (
    # ADA Standards of Care in Diabetes 2024, section 2: fasting plasma glucose < 100 mg/dL is
    # normal; hypoglycaemia level 1 is < 70 mg/dL; a 2-h (non-fasting) value < 140 is normal.
    # Meters read about 20-600 mg/dL.
    Analyte(
        "glucose_fingerstick", "glucose", "Glucose", "41653-7", "mg/dL",
        low=Decimal(70), high=Decimal(99), entry_low=Decimal(10), entry_high=Decimal(700),
    ),
    # WHO 2011, Haemoglobin concentrations for the diagnosis of anaemia: low limits by age, sex
    # and pregnancy (see ``hemoglobin_low``); no upper limit is interpreted here.
    Analyte(
        "hemoglobin", "hemoglobin", "Hemoglobin", "718-7", "g/dL", places=1,
        entry_low=Decimal(3), entry_high=Decimal(25),
    ),
    Analyte("urine_dipstick", "glucose", "Glucose", "25428-4", choices=DIPSTICK_GRADES,
            normal=("negative",)),
    Analyte("urine_dipstick", "protein", "Protein", "20454-5", choices=DIPSTICK_GRADES,
            normal=("negative", "trace")),
    Analyte("urine_dipstick", "ketones", "Ketones", "2514-8", choices=DIPSTICK_GRADES,
            normal=("negative",)),
    Analyte("urine_dipstick", "blood", "Blood", "5794-3", choices=DIPSTICK_GRADES,
            normal=("negative",)),
    Analyte("urine_dipstick", "leukocytes", "Leukocyte esterase", "5799-2",
            choices=DIPSTICK_GRADES, normal=("negative",)),
    Analyte("urine_dipstick", "nitrite", "Nitrite", "5802-4", choices=("negative", "positive"),
            normal=("negative",)),
    # Urinalysis reference intervals as printed on common strips: pH 4.5-8.0, SG 1.005-1.030.
    Analyte("urine_dipstick", "ph", "pH", "5803-2", "[pH]", low=Decimal("4.5"),
            high=Decimal("8.0"), places=1, entry_low=Decimal(4), entry_high=Decimal(9)),
    Analyte("urine_dipstick", "specific_gravity", "Specific gravity", "5811-5", "1",
            low=Decimal("1.005"), high=Decimal("1.030"), places=3,
            entry_low=Decimal("1.000"), entry_high=Decimal("1.040")),
    Analyte("rapid_strep", "strep_a_antigen", "Group A strep antigen", "78012-2",
            choices=PRESENCE, normal=("negative",)),
    Analyte("urine_hcg", "hcg", "hCG", "2106-3", choices=PRESENCE, normal=("negative",)),
)

ANALYTES: dict[tuple[str, str], Analyte] = {(a.test, a.analyte): a for a in _ANALYTES}


def analytes(test: str) -> list[Analyte]:
    if test not in TESTS:
        raise KeyError(f"unknown test {test!r}; known: {', '.join(TESTS)}")
    return [a for a in _ANALYTES if a.test == test]


def hemoglobin_low(sex: str, age_months: int, pregnant: bool | None) -> Decimal:
    """WHO 2011 anaemia thresholds (g/dL): below this is anaemia."""
    if age_months < 60:
        return Decimal("11.0")  # 6-59 months (below 6 months WHO gives no threshold)
    if age_months < 144:
        return Decimal("11.5")  # 5-11 years
    if age_months < 180:
        return Decimal("12.0")  # 12-14 years
    if pregnant:
        return Decimal("11.0")
    return Decimal("13.0") if sex == "M" else Decimal("12.0")


def interpret(
    analyte: Analyte,
    text: str,
    *,
    unit: str | None = None,
    context: str | None = None,
    sex: str = "U",
    age_months: int = 240,
    pregnant: bool | None = None,
) -> Result:
    """Validate an entered result and read it against its reference range."""
    text = (text or "").strip().lower()
    if analyte.choices:
        if text not in analyte.choices:
            raise EntryError(f"Choose one of: {', '.join(analyte.choices)}.")
        normal = ", ".join(analyte.normal)
        if text == "invalid":
            interpretation = "invalid"
        else:
            interpretation = "normal" if text in analyte.normal else "abnormal"
        return Result(text, None, "", None, None, normal, interpretation)
    if not text:
        raise EntryError("Enter a value.")
    try:
        number = Decimal(text.replace(",", "."))
    except InvalidOperation:
        raise EntryError(f"{text!r} is not a number.") from None
    if analyte.analyte == "glucose" and unit == "mmol/L":
        number = (number * _GLUCOSE_MG_PER_MMOL).quantize(Decimal(1))
    if analyte.analyte == "hemoglobin" and unit == "g/L":
        number = number / 10
    if not number.is_finite() or not (analyte.entry_low <= number <= analyte.entry_high):
        raise EntryError(
            f"{text} is outside what the test reads ({analyte.entry_low}-{analyte.entry_high}"
            f" {analyte.unit}); check the value and the unit."
        )
    low, high = analyte.low, analyte.high
    if analyte.analyte == "glucose" and context != "fasting":
        high = Decimal(139)  # non-fasting: < 140 mg/dL (ADA 2-h criterion)
    if analyte.analyte == "hemoglobin":
        low, high = hemoglobin_low(sex, age_months, pregnant), None
    if low is not None and number < low:
        interpretation = "low"
    elif high is not None and number > high:
        interpretation = "high"
    else:
        interpretation = "normal"
    reference = f">= {low}" if high is None else f"{low}-{high}"
    value = str(number.quantize(Decimal(1).scaleb(-analyte.places)))
    return Result(value, number, analyte.unit, low, high, reference, interpretation)
