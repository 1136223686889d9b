"""Measurement kinds with their codes.

Codes from ../shared/reference/standards.md section 7, which checked them against the HL7
PHD Implementation Guide examples, the FHIR R4 vital-signs profiles and IEEE 11073-10101
(MDC 32-bit code = partition * 65536 + term code; SCADA partition 2, dimensions 4).
"""

from __future__ import annotations

from dataclasses import dataclass

MDC_SYSTEM = "urn:iso:std:iso:11073:10101"
LOINC_SYSTEM = "http://loinc.org"
UCUM_SYSTEM = "http://unitsofmeasure.org"


@dataclass(frozen=True)
class Kind:
    name: str
    label: str
    loinc: str
    mdc: int
    mdc_ref: str
    unit: str
    """Canonical UCUM unit: what the database stores and calculations use."""
    units: frozenset[str]
    """UCUM units a device may report this kind in (convertible to ``unit``)."""
    other_mdc: frozenset[int] = frozenset()
    """Further MDC codes that mean this kind from another source (MDC->LOINC is many-to-one)."""

    @property
    def mdc_codes(self) -> frozenset[int]:
        return self.other_mdc | {self.mdc}


_KINDS = (
    Kind(
        "systolic",
        "Systolic blood pressure",
        "8480-6",
        150021,
        "MDC_PRESS_BLD_NONINV_SYS",
        "mm[Hg]",
        frozenset({"mm[Hg]", "kPa"}),
    ),
    Kind(
        "diastolic",
        "Diastolic blood pressure",
        "8462-4",
        150022,
        "MDC_PRESS_BLD_NONINV_DIA",
        "mm[Hg]",
        frozenset({"mm[Hg]", "kPa"}),
    ),
    Kind(
        "mean_arterial_pressure",
        "Mean blood pressure",
        "8478-0",
        150023,
        "MDC_PRESS_BLD_NONINV_MEAN",
        "mm[Hg]",
        frozenset({"mm[Hg]", "kPa"}),
    ),
    # A cuff's pulse is MDC_PULS_RATE_NON_INV, an oximeter's MDC_PULS_OXIM_PULS_RATE, an ECG's
    # MDC_ECG_HEART_RATE; all three are LOINC 8867-4 in the FHIR vital-signs profile.
    Kind(
        "pulse_rate",
        "Pulse rate",
        "8867-4",
        149546,
        "MDC_PULS_RATE_NON_INV",
        "/min",
        frozenset({"/min"}),
        other_mdc=frozenset({149530, 147842}),
    ),
    Kind(
        "spo2",
        "Oxygen saturation (SpO2)",
        "2708-6",
        150456,
        "MDC_PULS_OXIM_SAT_O2",
        "%",
        frozenset({"%"}),
    ),
    Kind(
        "temperature",
        "Body temperature",
        "8310-5",
        150364,
        "MDC_TEMP_BODY",
        "Cel",
        frozenset({"Cel", "[degF]"}),
    ),
    Kind(
        "weight",
        "Body weight",
        "29463-7",
        188736,
        "MDC_MASS_BODY_ACTUAL",
        "kg",
        frozenset({"kg", "g", "[lb_av]"}),
    ),
    Kind(
        "height",
        "Body height",
        "8302-2",
        188740,
        "MDC_LEN_BODY_ACTUAL",
        "cm",
        frozenset({"cm", "m", "[in_i]"}),
    ),
    Kind(
        "bmi",
        "Body mass index",
        "39156-5",
        188752,
        "MDC_RATIO_MASS_BODY_LEN_SQ",
        "kg/m2",
        frozenset({"kg/m2"}),
    ),
    Kind(
        "resp_rate",
        "Respiratory rate",
        "9279-1",
        151562,
        "MDC_RESP_RATE",
        "/min",
        frozenset({"/min"}),
    ),
    # Manual entry only (no device measures it, and the message schema does not admit it):
    # LOINC 72514-3 "Pain severity - 0-10 verbal numeric rating [Score] - Reported". No MDC
    # term is used (0); the UCUM unit is the annotation {score}.
    Kind(
        "pain_score",
        "Pain (0-10)",
        "72514-3",
        0,
        "",
        "{score}",
        frozenset({"{score}"}),
    ),
)

KINDS: dict[str, Kind] = {k.name: k for k in _KINDS}
# The vital signs proper: what devices measure, what the message contract carries and what
# the FHIR vital-signs profile codes (manual-only scores such as pain have no MDC term).
VITAL_SIGNS: frozenset[str] = frozenset(name for name, k in KINDS.items() if k.mdc)

# Oximeter pulse: the MDC code the gateway sends when the pulse comes from an oximeter.
MDC_PULS_OXIM_PULS_RATE = 149530

# MDC unit codes (IEEE 11073-10101 dimensions partition 4) for HL7 v2 OBX-6 and PHD
# exports; from ../shared/reference/standards.md section 7.
MDC_UNITS: dict[str, tuple[int, str]] = {
    "mm[Hg]": (266016, "MDC_DIM_MMHG"),
    "kPa": (265987, "MDC_DIM_KILO_PASCAL"),
    "/min": (264864, "MDC_DIM_BEAT_PER_MIN"),
    "%": (262688, "MDC_DIM_PERCENT"),
    "Cel": (268192, "MDC_DIM_DEGC"),
    "[degF]": (266560, "MDC_DIM_FAHR"),
    "kg": (263875, "MDC_DIM_KILO_G"),
    "[lb_av]": (263904, "MDC_DIM_LB"),
    "cm": (263441, "MDC_DIM_CENTI_M"),
    "[in_i]": (263520, "MDC_DIM_INCH"),
    "kg/m2": (264096, "MDC_DIM_KG_PER_M_SQ"),
}
# Respiration rate has its own dimension code, MDC_DIM_RESP_PER_MIN (264928).
MDC_RESP_PER_MIN = (264928, "MDC_DIM_RESP_PER_MIN")
# Reference ids of the MDC codes a pulse can carry (cuff, oximeter, ECG).
MDC_REFS: dict[int, str] = {149546: "MDC_PULS_RATE_NON_INV", 149530: "MDC_PULS_OXIM_PULS_RATE",
                            147842: "MDC_ECG_HEART_RATE"}

DEVICE_KINDS = frozenset(
    {"scale", "bp_monitor", "thermometer", "pulse_oximeter", "heart_rate_monitor", "stadiometer"}
)


def kind(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"unknown measurement kind {name!r}; known: {sorted(KINDS)}") from None
