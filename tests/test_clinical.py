"""Tests for dashboard.clinical against the published tables and worked examples.

"Reference" below is /work/shared/reference/clinical-tables.md (section numbers given). Each
vector names where it was published; boundary vectors test both sides of every cut-off.
"""

from __future__ import annotations

import csv
import hashlib
import math
from decimal import Decimal
from importlib import resources
from statistics import NormalDist

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard import clinical as c

# A NEWS2 observation set that scores 0 (kscarlett/news2 news2_test.go `normalVitals`).
NORMAL = {
    "resp_rate": 16,
    "spo2": 98,
    "systolic_bp": 120,
    "pulse": 80,
    "consciousness": "A",
    "temperature_c": 37.0,
}


def score(**changes):
    kwargs = {**NORMAL, **changes}
    on_oxygen = kwargs.pop("on_oxygen", False)
    scale = kwargs.pop("spo2_scale", 1)
    return c.news2(**kwargs, on_oxygen=on_oxygen, spo2_scale=scale)


# ------------------------------------------------------------------------------------------
# NEWS2 (RCP 2017, Chart 1; reference section 1)
# ------------------------------------------------------------------------------------------

# Both edges of every Chart 1 band: kscarlett/news2 boundary_test.go (commit 5ad31fb),
# TestRespiratoryRateBoundaries ... TestTemperatureBoundaries; the same edges are in
# pacharanero/clincalc src/calculators/news2.rs tests (respiratory_rate_bands ...).
RESP_EDGES = [(4, 3), (8, 3), (9, 1), (11, 1), (12, 0), (20, 0), (21, 2), (24, 2), (25, 3), (40, 3)]
SPO2_SCALE1_EDGES = [(85, 3), (91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0), (100, 0)]
SPO2_SCALE2_AIR_EDGES = [
    (80, 3),
    (83, 3),
    (84, 2),
    (85, 2),
    (86, 1),
    (87, 1),
    (88, 0),
    (92, 0),
    (93, 0),
    (100, 0),
]
SPO2_SCALE2_O2_EDGES = [
    (80, 3),
    (83, 3),
    (84, 2),
    (85, 2),
    (86, 1),
    (87, 1),
    (88, 0),
    (92, 0),
    (93, 1),
    (94, 1),
    (95, 2),
    (96, 2),
    (97, 3),
    (100, 3),
]
SBP_EDGES = [
    (70, 3),
    (90, 3),
    (91, 2),
    (100, 2),
    (101, 1),
    (110, 1),
    (111, 0),
    (219, 0),
    (220, 3),
    (250, 3),
]
PULSE_EDGES = [
    (30, 3),
    (40, 3),
    (41, 1),
    (50, 1),
    (51, 0),
    (90, 0),
    (91, 1),
    (110, 1),
    (111, 2),
    (130, 2),
    (131, 3),
    (180, 3),
]
TEMP_EDGES = [
    (34.0, 3),
    (35.0, 3),
    (35.1, 1),
    (36.0, 1),
    (36.1, 0),
    (38.0, 0),
    (38.1, 1),
    (39.0, 1),
    (39.1, 2),
    (41.0, 2),
]


@pytest.mark.parametrize(("value", "expected"), RESP_EDGES)
def test_news2_respiration_rate_edges(value, expected):
    assert score(resp_rate=value).subscores["respiration_rate"] == expected


@pytest.mark.parametrize(("value", "expected"), SPO2_SCALE1_EDGES)
@pytest.mark.parametrize("on_oxygen", [False, True])
def test_news2_spo2_scale1_edges_ignore_oxygen(value, expected, on_oxygen):
    result = score(spo2=value, on_oxygen=on_oxygen)
    assert result.subscores["spo2"] == expected
    assert result.subscores["air_or_oxygen"] == (2 if on_oxygen else 0)


@pytest.mark.parametrize(("value", "expected"), SPO2_SCALE2_AIR_EDGES)
def test_news2_spo2_scale2_on_air_edges(value, expected):
    assert score(spo2=value, spo2_scale=2).subscores["spo2"] == expected


@pytest.mark.parametrize(("value", "expected"), SPO2_SCALE2_O2_EDGES)
def test_news2_spo2_scale2_on_oxygen_edges(value, expected):
    assert score(spo2=value, spo2_scale=2, on_oxygen=True).subscores["spo2"] == expected


@pytest.mark.parametrize(("value", "expected"), SBP_EDGES)
def test_news2_systolic_edges(value, expected):
    assert score(systolic_bp=value).subscores["systolic_bp"] == expected


@pytest.mark.parametrize(("value", "expected"), PULSE_EDGES)
def test_news2_pulse_edges(value, expected):
    assert score(pulse=value).subscores["pulse"] == expected


@pytest.mark.parametrize(("value", "expected"), TEMP_EDGES)
def test_news2_temperature_edges(value, expected):
    assert score(temperature_c=value).subscores["temperature"] == expected
    # The same chart value given as a Decimal scores the same (drivers send Decimal).
    assert score(temperature_c=Decimal(str(value))).subscores["temperature"] == expected


@pytest.mark.parametrize(("letter", "expected"), [("A", 0), ("C", 3), ("V", 3), ("P", 3), ("U", 3)])
def test_news2_acvpu(letter, expected):
    # Chart 1: Alert 0; new Confusion, Voice, Pain, Unresponsive 3 (kscarlett
    # TestConsciousnessScore; clincalc consciousness_scores / confusion_alone_is_a_red_score).
    result = score(consciousness=letter)
    assert result.subscores["consciousness"] == expected
    assert result.red_score is (expected == 3)
    assert result.clinical_risk == ("low-medium" if expected == 3 else "low")


def test_news2_subscore_keys_and_scale():
    result = score()
    assert set(result.subscores) == {
        "respiration_rate",
        "spo2",
        "air_or_oxygen",
        "systolic_bp",
        "pulse",
        "consciousness",
        "temperature",
    }
    assert result.total == 0 and result.clinical_risk == "low" and result.spo2_scale == 1
    with pytest.raises(TypeError):
        result.subscores["spo2"] = 3  # read-only mapping


# Whole-score vectors, kscarlett/news2 news2_test.go TestCalculateScore and
# TestCalculateSubscores (commit 5ad31fb): (changes, total).
KSCARLETT_TOTALS = [
    ({}, 0),
    (
        dict(
            resp_rate=18,
            spo2=90,
            systolic_bp=100,
            pulse=100,
            temperature_c=36.5,
            consciousness="V",
            on_oxygen=True,
        ),
        3 + 2 + 2 + 1 + 3,
    ),
    (
        dict(
            resp_rate=7,
            spo2=80,
            systolic_bp=85,
            pulse=140,
            temperature_c=34.5,
            consciousness="U",
            on_oxygen=True,
        ),
        20,
    ),
    (dict(resp_rate=22), 2),
    (dict(spo2=100, on_oxygen=True, spo2_scale=2), 3 + 2),
    (dict(spo2=90, spo2_scale=2), 0),
]


@pytest.mark.parametrize(("changes", "total"), KSCARLETT_TOTALS)
def test_news2_kscarlett_totals(changes, total):
    assert score(**changes).total == total


def test_news2_kscarlett_subscores():
    # kscarlett/news2 news2_test.go TestCalculateSubscores: every sub-score, total 11, high.
    result = score(
        resp_rate=22,
        spo2=94,
        systolic_bp=105,
        pulse=45,
        temperature_c=35.5,
        consciousness="C",
        on_oxygen=True,
    )
    assert dict(result.subscores) == {
        "respiration_rate": 2,
        "spo2": 1,
        "air_or_oxygen": 2,
        "systolic_bp": 1,
        "pulse": 1,
        "consciousness": 3,
        "temperature": 1,
    }
    assert (result.total, result.red_score, result.clinical_risk) == (11, True, "high")


# kscarlett TestCalculateRiskLevels and clincalc band_boundaries / low_band_no_red_score /
# single_parameter_3_escalates_low_to_low_medium / single_parameter_3_flag_set_even_when_high.
RISK_VECTORS = [
    ({}, 0, False, "low"),
    (dict(pulse=95, temperature_c=38.5, resp_rate=10), 3, False, "low"),
    (dict(pulse=35), 3, True, "low-medium"),
    (dict(resp_rate=22, systolic_bp=95, pulse=95), 5, False, "medium"),
    (dict(resp_rate=26, systolic_bp=95, pulse=115), 7, True, "high"),
    (dict(resp_rate=21, systolic_bp=95, pulse=95), 5, False, "medium"),
    (dict(resp_rate=21, systolic_bp=95, pulse=115), 6, False, "medium"),
    (dict(resp_rate=21, systolic_bp=95, pulse=115, temperature_c=35.5), 7, False, "high"),
    (dict(resp_rate=9, systolic_bp=105), 2, False, "low"),
    (dict(resp_rate=26), 3, True, "low-medium"),
    (dict(resp_rate=26, systolic_bp=85, pulse=135), 9, True, "high"),
    # Red score with aggregate 4 (the top of the low-medium rule) and a red score at 5-6.
    (dict(resp_rate=26, pulse=95), 4, True, "low-medium"),
    (dict(resp_rate=26, pulse=115), 5, True, "medium"),
    (dict(resp_rate=26, systolic_bp=95, pulse=95), 6, True, "medium"),
]


@pytest.mark.parametrize(("changes", "total", "red", "risk"), RISK_VECTORS)
def test_news2_clinical_risk(changes, total, red, risk):
    result = score(**changes)
    assert (result.total, result.red_score, result.clinical_risk) == (total, red, risk)


def test_news2_oxygen_alone_is_not_a_red_score():
    # Reference 1.2: the oxygen item scores at most 2, so never a red score.
    result = score(on_oxygen=True)
    assert (result.total, result.red_score, result.clinical_risk) == (2, False, "low")


def test_news2_clincalc_dynamic_vector():
    # clincalc news2.rs dynamic_calculate_matches_typed: RR 24, SpO2 93 (scale 1) on oxygen,
    # SBP 105, pulse 105, alert, 38.5 C -> 9.
    result = c.news2(24, 93, 105, 105, "A", 38.5, on_oxygen=True)
    assert result.total == 9


def test_news2_scale2_differs_from_scale1():
    # clincalc news2.rs scale2_differs_from_scale1_for_copd: 90 % on air, scale 1 -> 3, 2 -> 0.
    assert score(spo2=90).subscores["spo2"] == 3
    assert score(spo2=90, spo2_scale=2).subscores["spo2"] == 0


def test_news2_scale2_97_on_oxygen_is_a_red_score():
    # Reference 1.2: Scale 2 >= 97 on oxygen scores 3 and is a red score.
    result = score(spo2=97, spo2_scale=2, on_oxygen=True)
    assert (result.total, result.red_score, result.clinical_risk) == (5, True, "medium")


# Open eObs NEWS feature (openeobs/BJSS_liveobs_automation
# features/submit_news_obs_risk_score_calculation.feature): rows of RR, SpO2, T, SBP, pulse,
# AVPU, O2 -> score. Scale 1 / air / AVPU, so the NEWS 2012 totals equal NEWS2 (reference
# 1.3). The last two rows are the feature's commented-out scores 19 and 20 (on oxygen).
# The suite's risk labels are NEWS 2012 ("Medium" for a red score at 3), so only totals are
# taken from it; risk for these rows is derived from totals per NEWS2 Chart 2.
OPEN_EOBS = [
    (12, 96, 36.1, 111, 51, "A", False, 0),
    (11, 96, 38.0, 111, 51, "A", False, 1),
    (9, 95, 36.1, 219, 90, "A", False, 2),
    (10, 94, 35.1, 219, 90, "A", False, 3),
    (10, 94, 38.1, 110, 51, "A", False, 4),
    (10, 94, 39.0, 101, 50, "A", False, 5),
    (10, 94, 39.0, 100, 41, "A", False, 6),
    (10, 93, 39.0, 91, 91, "A", False, 7),
    (10, 92, 39.1, 91, 110, "A", False, 8),
    (10, 92, 39.1, 91, 111, "A", False, 9),
    (21, 92, 39.1, 91, 130, "A", False, 10),
    (24, 91, 39.1, 91, 130, "A", False, 11),
    (25, 91, 39.1, 91, 130, "A", False, 12),
    (24, 91, 35.0, 90, 130, "A", False, 13),
    (8, 91, 35.0, 220, 130, "A", False, 14),
    (8, 91, 35.0, 220, 131, "A", False, 15),
    (10, 91, 35.0, 220, 40, "V", False, 16),
    (23, 91, 35.0, 220, 40, "V", False, 17),
    (25, 91, 35.0, 220, 40, "V", False, 18),
    (25, 90, 40.0, 220, 40, "P", True, 19),
    (8, 90, 35.0, 221, 39, "U", True, 20),
]


@pytest.mark.parametrize(("rr", "spo2", "temp", "sbp", "pulse", "avpu", "o2", "total"), OPEN_EOBS)
def test_news2_open_eobs(rr, spo2, temp, sbp, pulse, avpu, o2, total):
    result = c.news2(rr, spo2, sbp, pulse, avpu, temp, on_oxygen=o2)
    assert result.total == total
    expected_risk = "high" if total >= 7 else "medium" if total >= 5 else None
    if expected_risk:
        assert result.clinical_risk == expected_risk


@pytest.mark.parametrize(
    ("changes", "key", "expected"),
    [
        # Reference 8.1: non-integer values between printed bands fall in the lower band
        # (half-open intervals [a, next lower bound)); the decision this module documents.
        (dict(resp_rate=20.5), "respiration_rate", 0),
        (dict(resp_rate=8.5), "respiration_rate", 3),
        (dict(temperature_c=35.05), "temperature", 3),  # round(35.05, 1) would give 35.0 too
        (dict(temperature_c=Decimal("36.09")), "temperature", 1),
        (dict(systolic_bp=Decimal("110.5")), "systolic_bp", 1),
        (dict(spo2=95.5), "spo2", 1),
    ],
)
def test_news2_values_between_printed_bands(changes, key, expected):
    assert score(**changes).subscores[key] == expected


@pytest.mark.parametrize(
    "changes",
    [
        # kscarlett news2_test.go TestValidation: implausible inputs are refused, not scored.
        dict(resp_rate=0),
        dict(resp_rate=101),
        dict(spo2=101),
        dict(spo2=0),
        dict(systolic_bp=400),
        dict(pulse=0),
        dict(pulse=400),
        dict(temperature_c=0),
        dict(temperature_c=98.6),  # "temperature in Fahrenheit"
        dict(consciousness="X"),
        dict(consciousness="a"),
        dict(consciousness=0),
        dict(spo2_scale=3),
        dict(spo2_scale=True),
        dict(on_oxygen="yes"),
        dict(pulse=None),
        dict(pulse="80"),
        dict(pulse=True),
        dict(temperature_c=float("nan")),
        dict(temperature_c=Decimal("Infinity")),
    ],
)
def test_news2_rejects_invalid_input(changes):
    with pytest.raises(ValueError):
        score(**changes)


def test_news2_fahrenheit_message_is_clear():
    with pytest.raises(ValueError, match=r"temperature_c 98\.6 .*degF entered as degC"):
        score(temperature_c=98.6)


@pytest.mark.parametrize(
    ("age", "pregnant", "expected"),
    [(15.99, False, False), (16, False, True), (80, False, True), (30, True, False)],
)
def test_news2_applicable(age, pregnant, expected):
    # RCP NEWS2 report: not for children (< 16 years) or in pregnancy (reference 1.1).
    assert c.news2_applicable(age, pregnant) is expected


@pytest.mark.parametrize(("age", "pregnant"), [(16, None), (-1, False), (151, False), ("x", False)])
def test_news2_applicable_rejects(age, pregnant):
    with pytest.raises(ValueError):
        c.news2_applicable(age, pregnant)


# Properties: each Chart 1 parameter is V-shaped (never decreasing away from its 0 band) and
# the total is the sum of the sub-scores, 0-20.
_SCORED = {
    "resp_rate": ("respiration_rate", 16, 1, 100),
    "systolic_bp": ("systolic_bp", 150, 50, 300),
    "pulse": ("pulse", 70, 20, 300),
    "temperature_c": ("temperature", 37, 25, 45),
}


@given(
    name=st.sampled_from(sorted(_SCORED)),
    a=st.decimals(min_value=0, max_value=1, places=3),
    b=st.decimals(min_value=0, max_value=1, places=3),
)
def test_news2_subscores_never_fall_away_from_normal(name, a, b):
    key, centre, lo, hi = _SCORED[name]
    near, far = sorted((a, b))
    for edge in (lo, hi):
        x_near = centre + (edge - centre) * near
        x_far = centre + (edge - centre) * far
        assert score(**{name: x_far}).subscores[key] >= score(**{name: x_near}).subscores[key]


@given(a=st.integers(50, 100), b=st.integers(50, 100), scale=st.sampled_from([1, 2]))
def test_news2_spo2_on_air_never_improves_as_saturation_falls(a, b, scale):
    low, high = sorted((a, b))
    assert (
        score(spo2=low, spo2_scale=scale).subscores["spo2"]
        >= score(spo2=high, spo2_scale=scale).subscores["spo2"]
    )


@given(
    rr=st.integers(1, 100),
    spo2=st.integers(50, 100),
    sbp=st.integers(50, 300),
    pulse=st.integers(20, 300),
    acvpu=st.sampled_from("ACVPU"),
    temp=st.decimals(min_value=25, max_value=45, places=1),
    o2=st.booleans(),
    scale=st.sampled_from([1, 2]),
)
def test_news2_total_properties(rr, spo2, sbp, pulse, acvpu, temp, o2, scale):
    result = c.news2(rr, spo2, sbp, pulse, acvpu, temp, on_oxygen=o2, spo2_scale=scale)
    assert result.total == sum(result.subscores.values())
    assert 0 <= result.total <= 20
    assert all(0 <= v <= 3 for v in result.subscores.values())
    assert result.red_score is (3 in result.subscores.values())
    # The same values as floats score the same as the Decimals.
    again = c.news2(rr, spo2, sbp, pulse, acvpu, float(temp), on_oxygen=o2, spo2_scale=scale)
    assert again == result


# ------------------------------------------------------------------------------------------
# Blood pressure (2017 ACC/AHA Table 6, section 11.2; reference section 2)
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sbp", "dbp", "expected"),
    [
        (119, 79, "normal"),
        (120, 79, "elevated"),
        (129, 79, "elevated"),
        (130, 79, "stage_1"),
        (139, 79, "stage_1"),
        (140, 79, "stage_2"),
        (119, 80, "stage_1"),
        (119, 89, "stage_1"),
        (119, 90, "stage_2"),
        # Table 6 footnote, higher category wins (examples quoted in reference section 2).
        (120, 80, "stage_1"),
        (118, 92, "stage_2"),
        (125, 85, "stage_1"),
        (135, 95, "stage_2"),
        # Half-open intervals for non-integer averages: 129.5 is elevated (reference 2).
        (129.5, 79, "elevated"),
        (Decimal("119.9"), Decimal("79.9"), "normal"),
        (180, 120, "stage_2"),
    ],
)
def test_bp_category(sbp, dbp, expected):
    assert c.bp_category(sbp, dbp) == expected


@pytest.mark.parametrize(
    ("sbp", "dbp", "expected"),
    [
        # Strictly > 180 and/or > 120 (guideline 11.2, AHA chart "higher than"): reference 8.4.
        (180, 120, False),
        (181, 100, True),
        (Decimal("180.1"), 100, True),
        (170, 121, True),
        (200, 130, True),
        (180, 119, False),
    ],
)
def test_hypertensive_crisis(sbp, dbp, expected):
    assert c.hypertensive_crisis(sbp, dbp) is expected


@pytest.mark.parametrize(
    ("sbp", "dbp"), [(120, 120), (80, 120), (301, 80), (49, 30), (120, 19), (120, 201), ("1", 80)]
)
def test_bp_rejects_invalid(sbp, dbp):
    with pytest.raises(ValueError):
        c.bp_category(sbp, dbp)
    with pytest.raises(ValueError):
        c.hypertensive_crisis(sbp, dbp)


@given(
    s1=st.integers(100, 300),
    s2=st.integers(100, 300),
    d1=st.integers(20, 99),
    d2=st.integers(20, 99),
)
def test_bp_category_monotonic(s1, s2, d1, d2):
    order = ["normal", "elevated", "stage_1", "stage_2"]
    lo = order.index(c.bp_category(min(s1, s2), min(d1, d2)))
    hi = order.index(c.bp_category(max(s1, s2), max(d1, d2)))
    assert lo <= hi


# ------------------------------------------------------------------------------------------
# Adult BMI (WHO TRS 894 Table 2.1; reference section 3)
# ------------------------------------------------------------------------------------------


def test_bmi_clincalc_vectors():
    # pacharanero/clincalc src/calculators/bmi.rs tests: 70 kg, 175 cm -> 22.9, healthy;
    # 90 kg, 173.2 cm -> obesity class 1.
    value = c.bmi(70, 175)
    assert round(value, 1) == Decimal("22.9")
    assert c.bmi_category(value) == "normal"
    assert c.bmi_category(c.bmi(90, Decimal("173.2"))) == "obesity_class_1"


def test_bmi_formula_matches_cdc_imperial_form():
    # CDC "About Adult BMI": BMI = 703 x lb / in^2 (703 rounded from 703.0696; 1 lb =
    # 0.45359237 kg, 1 in = 2.54 cm; reference 3); its example: 150 lb, 5 ft 5 in -> 24.96.
    value = c.bmi(150 * Decimal("0.45359237"), 65 * Decimal("2.54"))
    assert float(value) == pytest.approx(703.0696 * 150 / 65**2, rel=1e-7)
    assert round(value, 2) == Decimal("24.96")


def test_bmi_exact_at_boundary_uses_decimal():
    # 47.36 kg at 160 cm is exactly 18.5 (a float computation gives 18.4999...96).
    assert c.bmi(47.36, 160) == Decimal("18.5")
    assert c.bmi_category(c.bmi(47.36, 160)) == "normal"
    assert c.bmi(64, 160) == 25
    assert c.bmi_category(c.bmi(64, 160)) == "overweight"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("18.49"), "underweight"),
        (Decimal("18.5"), "normal"),
        (Decimal("24.99"), "normal"),
        (Decimal("24.96"), "normal"),  # displays as 25.0 at 1 dp; unrounded is normal (ref 3)
        (Decimal("24.9999"), "normal"),
        (25, "overweight"),
        (29.99, "overweight"),
        (30, "obesity_class_1"),
        (34.99, "obesity_class_1"),
        (35, "obesity_class_2"),
        (39.99, "obesity_class_2"),
        (40, "obesity_class_3"),
        (65, "obesity_class_3"),
        (Decimal("10.01"), "underweight"),
    ],
)
def test_bmi_category_edges(value, expected):
    assert c.bmi_category(value) == expected


@pytest.mark.parametrize(
    ("weight", "height"), [(0, 170), (-70, 170), (70, 0), (70, 1.7), (501, 180), (0.5, 180)]
)
def test_bmi_rejects_implausible(weight, height):
    # 70 kg at 1.7 "cm" is a metres/centimetres mix-up; 0.5 kg at 180 cm is BMI 0.15.
    with pytest.raises(ValueError):
        c.bmi(weight, height)


@pytest.mark.parametrize("value", [10, 100, 0, -5, None, "25", True])
def test_bmi_category_rejects(value):
    with pytest.raises(ValueError):
        c.bmi_category(value)


@given(
    a=st.decimals(min_value="10.01", max_value="99.99", places=2),
    b=st.decimals(min_value="10.01", max_value="99.99", places=2),
)
def test_bmi_category_monotonic(a, b):
    order = [
        "underweight",
        "normal",
        "overweight",
        "obesity_class_1",
        "obesity_class_2",
        "obesity_class_3",
    ]
    assert order.index(c.bmi_category(min(a, b))) <= order.index(c.bmi_category(max(a, b)))


# ------------------------------------------------------------------------------------------
# CDC BMI-for-age (reference section 4)
# ------------------------------------------------------------------------------------------


def test_packaged_cdc_file_is_the_reference_copy():
    # Reference 4.4: byte-exact copy of GitHub mitre/GrowthViz c71524e bmiagerev.csv.
    data = resources.files("dashboard").joinpath("data", "cdc_bmiagerev.csv").read_bytes()
    assert hashlib.md5(data).hexdigest() == "29c458783c95a1b7c75c7b0c159a9b79"


# Reference 4.2 worked examples: (sex, age, BMI, L, M, S of the row, z, LMS pct, extended pct).
# CDC's three published examples (10-y boy, 15-y girl, 12-y girl; CDC "Child and Teen BMI"
# pages) and pharmaverse/admiralpeds tests/testthat/test-derive_params_growth_age.R tests 3, 5.
WORKED = [
    ("M", 120.5, 22.5, (-2.765648008, 16.64613844, 0.120112464), 1.7021, 95.563, 95.295),
    ("F", 180.5, 36.4, (-2.034893091, 19.9305662, 0.150511645), 2.3065, 98.946, 99.102),
    ("F", 144.5, 26.6, (-1.975521156, 18.10148804, 0.148361495), 1.8169, 96.539, 96.031),
    ("M", 70.5, 13.5, (-3.15039004, 15.37745304, 0.081706249), -1.9702, 2.441, None),
    ("F", 88.5, 21.9, (-2.819657704, 15.56444426, 0.109308364), 2.0058, 97.756, 97.057),
    ("M", 40.5, 19.0, None, 2.2272, 98.703, 96.825),
]


@pytest.mark.parametrize(("sex", "age", "value", "lms", "z", "pct", "ext"), WORKED)
def test_bmi_for_age_worked_examples(sex, age, value, lms, z, pct, ext):
    result = c.bmi_for_age(sex, age, value)
    if lms is not None:
        assert result.lms == pytest.approx(lms, rel=1e-12)
    assert result.z == pytest.approx(z, abs=5e-5)
    assert result.percentile == pytest.approx(pct, abs=5e-4)
    if ext is None:
        assert result.extended_percentile is None
    else:
        assert result.extended_percentile == pytest.approx(ext, abs=5e-4)


def test_bmi_for_age_cdc_published_categories():
    # CDC examples (reference 4.2): boy 10 y "96th, obesity" (rounded LMS 95.56); girl 15 y
    # "99th", 129 % of P95, severe obesity; girl 12 y "96th" (the extended value 96.03).
    boy = c.bmi_for_age("M", 120.5, 22.5)
    assert boy.category == "obesity" and round(boy.percentile) == 96
    assert round(boy.pct_of_p95, 2) == 101.56  # the DESIGN.md example
    assert not boy.severe_obesity
    girl15 = c.bmi_for_age("F", 180.5, 36.4)
    assert girl15.category == "obesity" and round(girl15.percentile) == 99
    assert round(girl15.pct_of_p95) == 129 and girl15.severe_obesity
    girl12 = c.bmi_for_age("F", 144.5, 26.6)
    assert girl12.category == "obesity" and round(girl12.extended_percentile) == 96


def test_bmi_for_age_admiralpeds_extended_sigma_and_p95():
    # admiralpeds test 5 as quoted in reference 4.2: P95 18.0399, sigma 2.022795.
    result = c.bmi_for_age("M", 40.5, 19.0)
    assert result.p95 == pytest.approx(18.0399, abs=5e-5)
    sigma = (19.0 - result.p95) / NormalDist().inv_cdf((result.extended_percentile - 90) / 10)
    assert sigma == pytest.approx(2.022795, abs=5e-6)


def test_bmi_for_age_modified_z_example():
    # CDC modified-z example (pedinfo.org, reference 4.2): boy 48.5 mo, BMI 12.0: M 15.628,
    # BMI at z = -2 13.743, mod z -3.85 (not a BIV); ordinary z -4.648.
    result = c.bmi_for_age("M", 48.5, 12.0)
    assert result.lms[1] == pytest.approx(15.628, abs=5e-4)
    assert result.z == pytest.approx(-4.648, abs=5e-4)
    assert result.modified_z == pytest.approx(-3.85, abs=5e-3)
    assert not result.biologically_implausible
    assert result.category == "underweight"
    assert c.bmi_for_age("M", 48.5, 10.5).biologically_implausible  # mod z < -4


# Reference 4.3 sanity values (tabulated P columns) with BMIs 0.01-0.02 either side.
# Boys 120.5: P5 14.2187, P85 19.3904, P95 22.1541; girls 180.5: P5 16.3097, P85 24.0450,
# P95 28.1237.
CATEGORY_EDGES = [
    ("M", 120.5, 14.20, "underweight"),
    ("M", 120.5, 14.23, "healthy_weight"),
    ("M", 120.5, 19.38, "healthy_weight"),
    ("M", 120.5, 19.40, "overweight"),
    ("M", 120.5, 22.14, "overweight"),
    ("M", 120.5, 22.17, "obesity"),
    ("F", 180.5, 16.29, "underweight"),
    ("F", 180.5, 16.32, "healthy_weight"),
    ("F", 180.5, 24.03, "healthy_weight"),
    ("F", 180.5, 24.06, "overweight"),
    ("F", 180.5, 28.11, "overweight"),
    ("F", 180.5, 28.14, "obesity"),
]


@pytest.mark.parametrize(("sex", "age", "value", "category"), CATEGORY_EDGES)
def test_bmi_for_age_category_edges(sex, age, value, category):
    result = c.bmi_for_age(sex, age, value)
    assert result.category == category
    assert (result.extended_percentile is not None) is (category == "obesity")


def _cdc_rows():
    text = resources.files("dashboard").joinpath("data", "cdc_bmiagerev.csv").read_text()
    for row in csv.reader(text.splitlines()):
        if row and row[0] != "Sex" and float(row[1]) <= 240:
            yield {"1": "M", "2": "F"}[row[0]], float(row[1]), [float(x) for x in row[5:]]


def test_bmi_for_age_reproduces_every_published_percentile_column():
    # CDC bmiagerev.csv publishes P3 ... P97 beside L, M, S for every age. At each tabulated
    # age (24-240 months, both sexes) the BMI in column Pk must come out at percentile k.
    columns = (3, 5, 10, 25, 50, 75, 85, 90, 95, 97)
    checked = 0
    for sex, age, values in _cdc_rows():
        for k, value in zip(columns, values, strict=True):
            assert c.bmi_for_age(sex, age, value).percentile == pytest.approx(k, abs=1e-5)
            checked += 1
        assert c.bmi_for_age(sex, age, values[8]).p95 == pytest.approx(values[8], rel=1e-7)
    assert checked == 2 * 218 * len(columns)


def test_bmi_for_age_interpolates_linearly_between_rows():
    # Between the rows 120.5 and 121.5 (boys) L, M, S are the linear midpoint (CDCAnthro
    # approx(); reference 4.1). 10 y 6 mo boy with BMI 22.5 is overweight (reference 4.2).
    lo = c.bmi_for_age("M", 120.5, 20).lms
    hi = c.bmi_for_age("M", 121.5, 20).lms
    mid = c.bmi_for_age("M", 121.0, 20).lms
    assert mid == pytest.approx(tuple((a + b) / 2 for a, b in zip(lo, hi, strict=True)))
    assert c.bmi_for_age("M", 126.5, 22.5).category == "overweight"
    assert round(c.bmi_for_age("M", 126.5, 22.5).percentile, 1) == 94.7


@pytest.mark.parametrize(
    ("sex", "age", "value"),
    [
        ("M", 23.99, 17),
        ("M", 240.01, 22),
        ("M", -1, 17),
        ("X", 120, 17),
        ("m", 120, 17),
        (1, 120, 17),
        ("F", 120, 0),
        ("F", 120, 100),
        ("F", None, 17),
        ("F", 120, float("nan")),
    ],
)
def test_bmi_for_age_rejects(sex, age, value):
    with pytest.raises(ValueError):
        c.bmi_for_age(sex, age, value)


def test_bmi_for_age_age_message_is_clear():
    with pytest.raises(ValueError, match="24 to 240 months"):
        c.bmi_for_age("F", 241, 20)


@pytest.mark.parametrize(
    ("sex", "age", "median"),
    [
        # bmiagerev.csv rows 24.0 and 240.0 (M column); CDCAnthro's reference medians at 240
        # months are 23.02029 (boys) and 21.71700 (girls) (R/cdcanthro.R mref).
        ("M", 24, 16.57502768),
        ("F", 24.0, 16.42339664),
        ("M", Decimal(240), 23.02029424),
        ("F", 240, 21.71699934),
    ],
)
def test_bmi_for_age_accepts_range_ends(sex, age, median):
    # CDCAnthro accepts 24 <= age <= 240 (between(age, 24, 240); reference 4.1, 8.6).
    result = c.bmi_for_age(sex, age, median)
    assert result.lms[1] == median
    assert result.z == pytest.approx(0, abs=1e-12)
    assert result.percentile == pytest.approx(50)


@given(
    sex=st.sampled_from("MF"),
    age=st.floats(min_value=24, max_value=240),
    a=st.floats(min_value=10.5, max_value=99.5),
    b=st.floats(min_value=10.5, max_value=99.5),
)
def test_bmi_for_age_monotonic_in_bmi(sex, age, a, b):
    low = c.bmi_for_age(sex, age, min(a, b))
    high = c.bmi_for_age(sex, age, max(a, b))
    assert low.z <= high.z
    assert low.percentile <= high.percentile
    assert low.pct_of_p95 <= high.pct_of_p95
    order = ["underweight", "healthy_weight", "overweight", "obesity"]
    assert order.index(low.category) <= order.index(high.category)
    if high.extended_percentile is not None:
        assert 95 - 1e-9 <= high.extended_percentile <= 100
        if low.extended_percentile is not None:
            assert low.extended_percentile <= high.extended_percentile
    assert math.isfinite(high.modified_z)


# ------------------------------------------------------------------------------------------
# Paediatric HR and RR centiles (Fleming 2011 Web Tables 4-5; reference section 5.1)
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parameter", "age", "band", "row"),
    [
        ("heart_rate", 0, "0-3 months", (107, 123, 133, 143, 154, 164, 181)),
        ("heart_rate", 2.99, "0-3 months", (107, 123, 133, 143, 154, 164, 181)),
        ("heart_rate", 3, "3-6 months", (104, 120, 129, 140, 150, 159, 175)),  # ref 8.7
        ("heart_rate", 23.9, "18-24 months", (82, 98, 106, 116, 126, 135, 149)),
        ("heart_rate", 24, "2-3 years", (76, 92, 100, 110, 119, 128, 142)),
        ("heart_rate", 143, "8-12 years", (52, 67, 75, 84, 93, 103, 115)),
        ("heart_rate", 215.9, "15-18 years", (43, 58, 65, 73, 83, 92, 104)),
        ("resp_rate", 0, "0-3 months", (25, 34, 40, 43, 52, 57, 66)),
        ("resp_rate", 12, "12-18 months", (21, 28, 32, 35, 42, 46, 53)),
        ("resp_rate", 48, "4-6 years", (17, 20, 21, 23, 25, 27, 29)),
        ("resp_rate", 71.99, "4-6 years", (17, 20, 21, 23, 25, 27, 29)),
        ("resp_rate", 72, "6-8 years", (16, 18, 20, 21, 23, 24, 27)),
        ("resp_rate", 180, "15-18 years", (11, 13, 15, 16, 18, 19, 22)),
    ],
)
def test_pediatric_range_bands_and_centiles(parameter, age, band, row):
    result = c.pediatric_range(parameter, age, row[3])
    assert result.band == band
    assert dict(result.centiles) == dict(zip((1, 10, 25, 50, 75, 90, 99), row, strict=True))
    assert not (result.below_p1 or result.below_p10 or result.above_p90 or result.above_p99)


@pytest.mark.parametrize(
    ("value", "flags"),
    [
        # HR 2-3 years: p1 76, p10 92, p90 128, p99 142 (flags strict on both sides).
        (75, (True, True, False, False)),
        (76, (False, True, False, False)),
        (91, (False, True, False, False)),
        (92, (False, False, False, False)),
        (128, (False, False, False, False)),
        (129, (False, False, True, False)),
        (142, (False, False, True, False)),
        (143, (False, False, True, True)),
    ],
)
def test_pediatric_range_flags(value, flags):
    result = c.pediatric_range("heart_rate", 30, value)
    assert (result.below_p1, result.below_p10, result.above_p90, result.above_p99) == flags


@pytest.mark.parametrize(
    ("parameter", "age", "value"),
    [
        ("heart_rate", 216, 80),
        ("heart_rate", -0.1, 120),
        ("pulse", 30, 100),
        ("resp_rate", 30, 0),
        ("heart_rate", 30, 400),
        ("heart_rate", "30", 100),
    ],
)
def test_pediatric_range_rejects(parameter, age, value):
    with pytest.raises(ValueError):
        c.pediatric_range(parameter, age, value)


# ------------------------------------------------------------------------------------------
# Derived values and single-parameter flags (reference section 6)
# ------------------------------------------------------------------------------------------


def test_mean_arterial_pressure():
    # MAP = DBP + (SBP - DBP)/3 = (SBP + 2 DBP)/3 (standard formula).
    assert c.mean_arterial_pressure(120, 80) == pytest.approx(Decimal(280) / 3)
    assert c.mean_arterial_pressure(90, 60) == 70
    assert c.mean_arterial_pressure(Decimal("95"), Decimal("50")) == 65
    assert c.mean_arterial_pressure_low(Decimal("64.9")) is True  # SSC 2021: flag < 65
    assert c.mean_arterial_pressure_low(c.mean_arterial_pressure(95, 50)) is False


@pytest.mark.parametrize(
    ("hr", "sbp", "value", "above_09", "above_10"),
    [
        (99, 110, Decimal("0.9"), False, False),  # exactly 0.9 does not exceed it (ref 8.9)
        (100, 110, None, True, False),
        (110, 110, Decimal(1), True, False),
        (111, 110, None, True, True),
        (60, 120, Decimal("0.5"), False, False),
    ],
)
def test_shock_index(hr, sbp, value, above_09, above_10):
    result = c.shock_index(hr, sbp)
    if value is not None:
        assert result.value == value
    assert float(result) == pytest.approx(hr / sbp)
    assert (result.above_0_9, result.above_1_0) == (above_09, above_10)


@pytest.mark.parametrize(
    ("standing", "minutes", "oh", "delayed"),
    [
        # Freeman 2011 consensus: SBP fall >= 20 or DBP fall >= 10 within 3 min (ref 6, 8.8).
        ((120, 80), 3, True, False),  # SBP -20 at exactly 3 min counts
        ((121, 80), 3, False, False),  # SBP -19
        ((130, 70), 1, True, False),  # DBP -10
        ((130, 71), 1, False, False),  # DBP -9
        ((115, 80), 5, False, True),  # fall first seen at 5 min: delayed OH, not OH
        ((150, 90), 2, False, False),  # a rise is not a fall
    ],
)
def test_orthostatic_hypotension(standing, minutes, oh, delayed):
    result = c.orthostatic_hypotension(140, 80, standing[0], standing[1], minutes)
    assert result.orthostatic_hypotension is oh
    assert bool(result) is oh
    assert result.delayed is delayed
    assert result.systolic_drop == 140 - standing[0]
    assert result.diastolic_drop == 80 - standing[1]


def test_orthostatic_rejects():
    with pytest.raises(ValueError):
        c.orthostatic_hypotension(140, 80, 120, 80, -1)
    with pytest.raises(ValueError):
        c.orthostatic_hypotension(140, 150, 120, 80, 1)


@pytest.mark.parametrize(
    ("temp", "expected"),
    [(37.9, False), (Decimal("37.99"), False), (38.0, True), (38, True), (40.2, True)],
)
def test_fever(temp, expected):
    # CDC: "a measured temperature of 100.4 F (38 C) or greater" (reference 6).
    assert c.fever(temp) is expected


def test_fever_rejects_fahrenheit():
    with pytest.raises(ValueError):
        c.fever(100.4)


@pytest.mark.parametrize(
    ("spo2", "scale", "expected"),
    # BTS 2017: targets 94-98 % (scale 1) and 88-92 % (scale 2) (reference 6).
    [
        (93, 1, True),
        (94, 1, False),
        (Decimal("93.9"), 1, True),
        (87, 2, True),
        (88, 2, False),
        (92, 2, False),
    ],
)
def test_spo2_below_target(spo2, scale, expected):
    assert c.spo2_below_target(spo2, scale) is expected


@pytest.mark.parametrize(("spo2", "scale"), [(95, 3), (95, 0), (101, 1), (49, 1)])
def test_spo2_below_target_rejects(spo2, scale):
    with pytest.raises(ValueError):
        c.spo2_below_target(spo2, scale)


# ------------------------------------------------------------------------------------------
# Plausibility (reference section 7)
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "inside", "outside"),
    [
        ("systolic", (50, 300), (49, 301)),
        ("diastolic", (20, 200), (19, 201)),
        ("mean_arterial_pressure", (30, 235), (29, 236)),
        ("pulse_rate", (20, 300), (19, 301)),
        ("spo2", (50, 100), (49, Decimal("100.1"))),
        ("temperature", (25, 45), (Decimal("24.9"), Decimal("45.1"))),
        ("weight", (Decimal("0.5"), 500), (Decimal("0.49"), Decimal("500.1"))),
        ("height", (20, 272), (19, 273)),
        ("bmi", (Decimal("10.01"), Decimal("99.99")), (10, 100)),  # Chan & Raffa: <=10, >=100
        ("resp_rate", (1, 100), (0, 101)),
    ],
)
def test_plausible_limits_both_sides(kind, inside, outside):
    for value in inside:
        assert c.plausible(kind, value) is True
    for value in outside:
        assert c.plausible(kind, value) is False


def test_plausible_unit_errors_and_missing():
    assert c.plausible("temperature", 98.6) is False  # degF typed as degC (kscarlett)
    assert c.plausible("height", 1.75) is False  # metres typed as cm
    assert c.plausible("weight", 0) is False
    assert c.plausible("pulse_rate", None) is False
    assert c.plausible("pulse_rate", float("nan")) is False
    assert c.plausible("pulse_rate", float("inf")) is False
    assert c.plausible("spo2", Decimal("NaN")) is False


@pytest.mark.parametrize(("kind", "value"), [("heart", 80), ("pulse_rate", "80"), ("spo2", True)])
def test_plausible_rejects_bad_arguments(kind, value):
    with pytest.raises(ValueError):
        c.plausible(kind, value)


def test_every_plausible_range_names_its_source():
    assert set(c.PLAUSIBLE_RANGES) == {
        "systolic",
        "diastolic",
        "mean_arterial_pressure",
        "pulse_rate",
        "spo2",
        "temperature",
        "weight",
        "height",
        "bmi",
        "resp_rate",
    }
    for limits in c.PLAUSIBLE_RANGES.values():
        assert limits.source and limits.unit and limits.low < limits.high


def test_every_public_function_cites_a_source():
    for name in c.__all__:
        obj = getattr(c, name)
        if callable(obj) and not isinstance(obj, type):
            assert "Source" in (obj.__doc__ or ""), name
