"""Temperature Measurement 0x2A1C, Intermediate Temperature 0x2A1E, Temperature Type 0x2A1D.

Published vectors:
- NordicSemiconductor/Android-BLE-Common-Library, ble-common/src/test/java/no/nordicsemi/android/
  ble/common/callback/ht/TemperatureMeasurementDataCallbackTest.java
  (`06 b0 0e 00 fe dc 07 0c 05 0b 32 1b 04` = 37.60 degC, 2012-12-05 11:50:27, finger; and the
  same frame one byte short, which Nordic rejects).
- nguyenquocanhz/SoTuyenNghiaVu @ 0edac08, src/ble/protocols/__tests__/sig.test.ts,
  "Temperature Measurement (0x2A1C / 0x2A1E)": FLOAT(365,-1) Celsius, 98.6/100.40 degF, time
  stamp + type 1, degF + time stamp + type 6, type codes 1..9, and the NaN/NRes/+INF/-INF frames.
- reference/ble-gatt-health.md §3.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from drivers import DecodeError, Temperature
from drivers.ble import TemperatureType, decode, decode_detailed

H = bytes.fromhex
NORDIC = bytes([0x06, 0xB0, 0x0E, 0x00, 0xFE, 0xDC, 0x07, 0x0C, 0x05, 0x0B, 0x32, 0x1B, 0x04])


def float11073(mantissa: int, exponent: int) -> bytes:
    """The SoTuyenNghiaVu test helper's byte layout, for quoting its vectors literally."""
    return ((mantissa & 0xFFFFFF) | ((exponent & 0xFF) << 24)).to_bytes(4, "little")


def test_nordic_frame() -> None:
    t = decode("2A1C", NORDIC)
    assert t == Temperature(
        temperature=Decimal("37.60"), unit="Cel", timestamp=datetime(2012, 12, 5, 11, 50, 27),
        temperature_type=4,
    )
    assert str(t.temperature) == "37.60"
    assert t.raw == NORDIC


def test_nordic_short_frame_names_the_field() -> None:
    with pytest.raises(DecodeError, match=r"2A1C temperature_type: needs 1 byte at offset 12"):
        decode("2A1C", NORDIC[:-1])


@pytest.mark.parametrize(
    ("frame", "value", "unit"),
    [
        (b"\x00" + float11073(365, -1), "36.5", "Cel"),
        (b"\x01" + float11073(986, -1), "98.6", "[degF]"),
        (b"\x01" + float11073(10040, -2), "100.40", "[degF]"),
        (b"\x01" + float11073(1004, -1), "100.4", "[degF]"),
        (b"\x00" + float11073(36512, -3), "36.512", "Cel"),
    ],
)
def test_sotuyen_values(frame: bytes, value: str, unit: str) -> None:
    t = decode("2A1C", frame)
    assert t.temperature == Decimal(value) and str(t.temperature) == value
    assert t.unit == unit
    assert t.timestamp is None and t.temperature_type is None


def test_sotuyen_time_stamp_and_type() -> None:
    frame = b"\x06" + float11073(3720, -2) + H("ea 07 09 11 08 00 00") + b"\x01"
    t = decode("2A1C", frame)
    assert (t.temperature, t.unit, t.timestamp, t.temperature_type) == (
        Decimal("37.20"), "Cel", datetime(2026, 9, 17, 8, 0, 0), 1)
    frame = b"\x07" + float11073(986, -1) + H("ea 07 01 02 03 04 05") + b"\x06"
    t = decode("2A1C", frame)
    assert (t.temperature, t.unit, t.timestamp, t.temperature_type) == (
        Decimal("98.6"), "[degF]", datetime(2026, 1, 2, 3, 4, 5), 6)


@pytest.mark.parametrize("code", range(1, 10))
def test_sotuyen_type_codes(code: int) -> None:
    assert decode("2A1C", b"\x04" + float11073(370, -1) + bytes([code])).temperature_type == code
    assert decode("2A1D", bytes([code])) == TemperatureType(code)


@pytest.mark.parametrize("code", [0, 10, 255])
def test_reserved_type_codes_raise(code: int) -> None:
    # SoTuyenNghiaVu maps 0 and 10 to "unknown"; per GSS they are reserved, so strictly refused.
    with pytest.raises(DecodeError, match=rf"2A1C temperature_type: {code} is reserved"):
        decode("2A1C", b"\x04" + float11073(370, -1) + bytes([code]))
    with pytest.raises(DecodeError, match=rf"2A1D temperature_type: {code} is reserved"):
        decode("2A1D", bytes([code]))


def test_temperature_type_site_names() -> None:
    assert decode("2A1D", b"\x01").site == "armpit"
    assert decode("2A1D", b"\x09").site == "tympanum"


@pytest.mark.parametrize("frame", [b"", b"\x01\x02"])
def test_temperature_type_length(frame: bytes) -> None:
    with pytest.raises(DecodeError, match=r"2A1D length"):
        decode("2A1D", frame)


@pytest.mark.parametrize(
    ("wire", "reason"),
    [
        ("ff ff 7f 00", "not-a-number"),
        ("00 00 80 00", "error"),
        ("fe ff 7f 00", "positive-infinity"),
        ("02 00 80 00", "negative-infinity"),
        ("01 00 80 00", "error"),
    ],
)
def test_special_values(wire: str, reason: str) -> None:
    # First four frames are SoTuyenNghiaVu's "returns null for NaN / NRes / infinity values".
    detailed = decode_detailed("2A1C", b"\x00" + H(wire))
    assert detailed.value.temperature is None
    assert dict(detailed.absent_reasons) == {"temperature": reason}


@pytest.mark.parametrize("flags", range(8))
@pytest.mark.parametrize("uuid", ["2A1C", "2A1E"])
def test_every_flag_combination(uuid: str, flags: int) -> None:
    # Field bytes from the Nordic frame.
    frame = bytes([flags]) + NORDIC[1:5]
    frame += NORDIC[5:12] if flags & 0x02 else b""
    frame += NORDIC[12:13] if flags & 0x04 else b""
    t = decode(uuid, frame)
    assert t.temperature == Decimal("37.60")
    assert t.unit == ("[degF]" if flags & 0x01 else "Cel")
    assert t.timestamp == (datetime(2012, 12, 5, 11, 50, 27) if flags & 0x02 else None)
    assert t.temperature_type == (4 if flags & 0x04 else None)
    with pytest.raises(DecodeError, match=rf"{uuid} length: 1 trailing byte"):
        decode(uuid, frame + b"\x00")


@pytest.mark.parametrize("bit", range(3, 8))
def test_reserved_flag_bits(bit: int) -> None:
    with pytest.raises(DecodeError, match=r"2A1C flags: reserved bits set"):
        decode("2A1C", bytes([1 << bit]) + NORDIC[1:5])


def test_empty_and_short() -> None:
    with pytest.raises(DecodeError, match=r"2A1C flags: needs 1 byte at offset 0, 0 left"):
        decode("2A1C", b"")
    with pytest.raises(DecodeError, match=r"2A1E temperature: needs 4 bytes"):
        decode("2A1E", H("00 b0 0e 00"))


def test_zero_date_is_none_but_bad_hour_raises() -> None:
    # SoTuyenNghiaVu "keeps an unknown (zero) time stamp undefined" (weight test, same Date Time).
    t = decode("2A1C", b"\x02" + NORDIC[1:5] + bytes(7))
    assert t.timestamp is None
    with pytest.raises(DecodeError, match=r"2A1C timestamp hours: 24 out of range 0..23"):
        decode("2A1C", b"\x02" + NORDIC[1:5] + H("00 00 00 00 18 00 00"))
