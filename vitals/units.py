"""UCUM unit conversion that keeps the device's precision and does not drift.

Values are ``Decimal`` throughout. Factors that are exact by definition (the international
avoirdupois pound is 0.45359237 kg and the inch 2.54 cm, both exact since the 1959
international yard and pound agreement; 1 mmHg = 133.322387415 Pa by the definition used in
IEEE 11073-10101 and BIPM SI brochure table 8) are applied exactly. Conversions with a
non-terminating result (degF, kPa) are rounded to three more decimal places than the source
had, which always converts back to the source value exactly at the source's precision
(tested by hypothesis in tests/test_units.py). The message keeps the device's own value and
unit, so nothing is ever shown converted twice.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal

_CTX = Context(prec=34, rounding=ROUND_HALF_EVEN)
_EXTRA_PLACES = 3

# factor to the base unit of each dimension: value_in_base = value * factor (+ offset for temps)
_LINEAR: dict[str, tuple[str, Decimal]] = {
    "kg": ("mass", Decimal(1)),
    "g": ("mass", Decimal("0.001")),
    "[lb_av]": ("mass", Decimal("0.45359237")),
    "cm": ("length", Decimal(1)),
    "m": ("length", Decimal(100)),
    "[in_i]": ("length", Decimal("2.54")),
    "mm[Hg]": ("pressure", Decimal(1)),
    "kPa": ("pressure", _CTX.divide(Decimal(1000), Decimal("133.322387415"))),
    "/min": ("rate", Decimal(1)),
    "%": ("ratio", Decimal(1)),
    "kg/m2": ("bmi", Decimal(1)),
    "Cel": ("temperature", Decimal(1)),
    "[degF]": ("temperature", Decimal(1)),
}


class UnitError(ValueError):
    """A unit we do not know, or two units of different dimensions."""


def dimension(unit: str) -> str:
    try:
        return _LINEAR[unit][0]
    except KeyError:
        raise UnitError(f"unknown UCUM unit {unit!r}") from None


def _places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _exact(value: Decimal, from_unit: str, to_unit: str) -> Decimal:
    if dimension(from_unit) != dimension(to_unit):
        raise UnitError(f"cannot convert {from_unit!r} to {to_unit!r}")
    if from_unit == to_unit:
        return value
    if dimension(from_unit) == "temperature":
        if from_unit == "[degF]":
            return _CTX.divide(_CTX.multiply(value - 32, Decimal(5)), Decimal(9))
        return _CTX.add(_CTX.divide(_CTX.multiply(value, Decimal(9)), Decimal(5)), Decimal(32))
    base = _CTX.multiply(value, _LINEAR[from_unit][1])
    return _CTX.divide(base, _LINEAR[to_unit][1])


def convert(value: Decimal | int | str, from_unit: str, to_unit: str) -> Decimal:
    """Convert ``value``; the result carries three more decimal places than the input.

    Trailing zeros beyond that are kept off, so exact conversions stay short
    (``convert(Decimal("10"), "[in_i]", "cm") == Decimal("25.4")``).
    """
    value = Decimal(value)
    if from_unit == to_unit:
        dimension(from_unit)
        return value
    result = _exact(value, from_unit, to_unit)
    quantum = Decimal(1).scaleb(-(_places(value) + _EXTRA_PLACES))
    rounded = result.quantize(quantum, rounding=ROUND_HALF_EVEN, context=_CTX)
    return _strip(rounded)


def round_to(value: Decimal, places: int) -> Decimal:
    """Round for display to ``places`` decimals (half-even, as UCUM-aware EHRs do)."""
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN, context=_CTX)


def _strip(value: Decimal) -> Decimal:
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize(_CTX)
