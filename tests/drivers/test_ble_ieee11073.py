"""IEEE 11073-20601 SFLOAT / FLOAT against published vectors.

Sources:
- reference/ble-gatt-health.md §1.1/§1.2 (worked examples and special-value tables).
- im97mori-github/JavaBLEUtil @ 17e7635, characteristic/core/src/test/.../
  IEEE_11073_20601_SFLOATest.java and IEEE_11073_20601_FLOATest.java (test_constructor001-009).
- NordicSemiconductor/Android-BLE-Common-Library, bps/BloodPressureMeasurementDataCallbackTest
  (`bd f0` = 18.9, `9f f0` = 15.9) and ht/TemperatureMeasurementDataCallbackTest (`b0 0e 00 fe` =
  37.60).
- StanfordSpezi/SpeziBluetooth PLXTests.swift (`e8 f3` = 100.0, `7a e3` = 8.90).
- reference/standards.md: 0xF014 = "2.0" (PHD FLOATS.md) and the dataAbsentReason codes.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.ble.ieee11073 import Special, float32, sfloat, split


def le16(hex_bytes: str) -> int:
    return int.from_bytes(bytes.fromhex(hex_bytes), "little")


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("65 f0", "10.1"),  # reference §1.1
        ("01 fe", "-51.1"),  # reference §1.1
        ("ff 0f", "-1"),  # reference §1.1
        ("01 80", "1E-8"),  # reference §1.1: exponent nibble 8 is -8
        ("bd f0", "18.9"),  # reference §1.1; Nordic BPM test "some"
        ("9f f0", "15.9"),  # Nordic BPM test "some" (MAP)
        ("01 02", "513"),  # JavaBLEUtil SFLOAT test_constructor006 (0x0201)
        ("01 72", "513E+7"),  # JavaBLEUtil test_constructor007 (0x0201 * 10^7)
        ("01 f2", "51.3"),  # JavaBLEUtil test_constructor008 (0x0201 * 10^-1)
        ("14 f0", "2.0"),  # standards.md / PHD FLOATS.md: 0xF014 keeps "2.0"
        ("e8 f3", "100.0"),  # SpeziBluetooth PLXTests testVerySimpleMeasurementCoding
        ("7a e3", "8.90"),  # SpeziBluetooth PLXTests testFullMeasurementCoding (PAI)
    ],
)
def test_sfloat_published_values(wire: str, expected: str) -> None:
    value = sfloat(le16(wire))
    assert value == Decimal(expected)
    # Precision is kept: the exponent is the device's, not normalised.
    assert value.as_tuple().exponent == Decimal(expected).as_tuple().exponent


def test_sfloat_keeps_trailing_zero() -> None:
    assert str(sfloat(0xF014)) == "2.0"
    assert str(float32(le16("b0 0e 00 fe"))) == "37.60"


@pytest.mark.parametrize(
    ("wire", "special", "reason"),
    [
        ("ff 07", Special.NAN, "not-a-number"),
        ("00 08", Special.NRES, "error"),
        ("fe 07", Special.POSITIVE_INFINITY, "positive-infinity"),
        ("02 08", Special.NEGATIVE_INFINITY, "negative-infinity"),
        ("01 08", Special.RESERVED, "error"),
    ],
)
def test_sfloat_special_values(wire: str, special: Special, reason: str) -> None:
    # Bytes: reference §1.1 table and JavaBLEUtil SFLOAT test_constructor001-005.
    value = sfloat(le16(wire))
    assert value is special
    assert split(value) == (None, reason)


def test_sfloat_special_mantissa_under_other_exponent_is_a_number() -> None:
    # Only the whole raw value is special (reference §1.1: "all have exponent 0").
    assert sfloat(0xF7FF) == Decimal("204.7")
    assert sfloat(0xF800) == Decimal("-204.8")


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("87 d6 12 fe", "12345.67"),  # reference §1.2
        ("b0 0e 00 fe", "37.60"),  # reference §1.2; Nordic TemperatureMeasurementDataCallbackTest
        ("01 fe 03 fc", "26.1633"),  # reference §1.2
        ("01 02 03 00", "197121"),  # JavaBLEUtil FLOAT test_constructor006 (0x030201)
        ("01 02 03 04", "197121E+4"),  # JavaBLEUtil test_constructor007
        ("01 02 03 ff", "19712.1"),  # JavaBLEUtil test_constructor008
        ("6d 01 00 ff", "36.5"),  # nguyenquocanhz/SoTuyenNghiaVu sig.test.ts "decodes Celsius"
    ],
)
def test_float_published_values(wire: str, expected: str) -> None:
    value = float32(int.from_bytes(bytes.fromhex(wire), "little"))
    assert value == Decimal(expected)
    assert value.as_tuple().exponent == Decimal(expected).as_tuple().exponent


@pytest.mark.parametrize(
    ("wire", "special", "reason"),
    [
        ("ff ff 7f 00", Special.NAN, "not-a-number"),
        ("00 00 80 00", Special.NRES, "error"),
        ("fe ff 7f 00", Special.POSITIVE_INFINITY, "positive-infinity"),
        ("02 00 80 00", Special.NEGATIVE_INFINITY, "negative-infinity"),
        ("01 00 80 00", Special.RESERVED, "error"),
    ],
)
def test_float_special_values(wire: str, special: Special, reason: str) -> None:
    # Bytes: reference §1.2 table and JavaBLEUtil FLOAT test_constructor001-005.
    value = float32(int.from_bytes(bytes.fromhex(wire), "little"))
    assert value is special
    assert split(value) == (None, reason)


def test_float_nrf_toolbox_misreading_is_not_infinity() -> None:
    # reference §13: nRF-Toolbox treats 0x7FFFFFFF as +INF; per spec it is an ordinary number:
    # exponent 0x7F = 127, mantissa 0xFFFFFF = -1 (24-bit two's complement).
    assert float32(0x7FFFFFFF) == Decimal("-1E+127")


@given(st.integers(0, 0xFFFF))
def test_sfloat_total(raw: int) -> None:
    value = sfloat(raw)
    if isinstance(value, Special):
        assert raw in (0x07FF, 0x0800, 0x07FE, 0x0802, 0x0801)
    else:
        exponent = raw >> 12
        mantissa = raw & 0xFFF
        exponent -= 16 if exponent >= 8 else 0
        mantissa -= 4096 if mantissa >= 2048 else 0
        assert value == Decimal(mantissa) * Decimal(10) ** exponent


@given(st.integers(0, 0xFFFFFFFF))
def test_float_total(raw: int) -> None:
    value = float32(raw)
    assert isinstance(value, (Decimal, Special))
    if isinstance(value, Decimal):
        assert value.is_finite()


def test_out_of_range_raw_is_refused() -> None:
    with pytest.raises(ValueError):
        sfloat(0x10000)
    with pytest.raises(ValueError):
        float32(-1)
