from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vitals.units import UnitError, convert


@pytest.mark.parametrize(
    ("value", "source", "target", "expected"),
    [
        # Exact by definition: 1 lb = 0.45359237 kg, 1 in = 2.54 cm (1959 yard and pound).
        ("200", "[lb_av]", "kg", "90.718"),  # 90.718474 kept to three more places
        ("10", "[in_i]", "cm", "25.4"),
        ("70.5", "[in_i]", "cm", "179.07"),
        # 98.6 degF is 37 degC exactly; 212 degF boils at 100.
        ("98.6", "[degF]", "Cel", "37"),
        ("212", "[degF]", "Cel", "100"),
        ("37.0", "Cel", "[degF]", "98.6"),
        # 1 mmHg = 133.322387415 Pa: 16000 / 133.322387415 = 120.00985 (3 places past the source).
        ("16.0", "kPa", "mm[Hg]", "120.0099"),
        ("120", "mm[Hg]", "mm[Hg]", "120"),
        ("1850", "g", "kg", "1.85"),
    ],
)
def test_conversions(value, source, target, expected):
    assert convert(Decimal(value), source, target) == Decimal(expected)


def test_mismatched_dimensions_are_refused():
    with pytest.raises(UnitError, match="cannot convert 'kg' to 'cm'"):
        convert(Decimal(1), "kg", "cm")
    with pytest.raises(UnitError, match="unknown UCUM unit 'stone'"):
        convert(Decimal(1), "stone", "kg")


PAIRS = [("[lb_av]", "kg"), ("[in_i]", "cm"), ("[degF]", "Cel"), ("kPa", "mm[Hg]"),
         ("Cel", "[degF]"), ("kg", "[lb_av]")]


@given(
    st.sampled_from(PAIRS),
    st.integers(min_value=0, max_value=99999),
    st.integers(min_value=0, max_value=2),
)
def test_round_trip_never_drifts(pair, digits, places):
    """Converting to canonical and back, rounded to the device's precision, gives the original."""
    source, target = pair
    original = Decimal(digits).scaleb(-places)
    there = convert(original, source, target)
    back = convert(there, target, source)
    assert back.quantize(Decimal(1).scaleb(-places)) == original
