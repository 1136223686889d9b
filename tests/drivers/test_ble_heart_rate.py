"""Heart Rate Measurement 0x2A37.

Published vectors: NordicSemiconductor/Android-BLE-Common-Library, ble-common/src/test/java/no/
nordicsemi/android/ble/common/callback/hr/HeartRateMeasurementDataCallbackTest.java (`_simple`
`00 55`, `_noContact` `04 ff`, `_uint8` `1e 55 32 00 21 00`, `_uint16` 11 bytes,
`onInvalidDataReceived` `17 01 01`); the `1e 55 32 00 21 00` example also in reference
ble-gatt-health.md §6.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from drivers import DecodeError, HeartRate
from drivers.ble import decode


def test_nordic_simple() -> None:
    assert decode("2A37", bytes([0, 85])) == HeartRate(heart_rate=85)
    hr = decode("2A37", bytes([0, 85]))
    assert hr.rr_intervals == () and hr.energy_expended is None and hr.sensor_contact is None


def test_nordic_no_contact() -> None:
    hr = decode("2A37", bytes([0x04, 0xFF]))
    assert (hr.heart_rate, hr.sensor_contact) == (255, False)
    assert hr.flags == {"sensor_off"}


def test_nordic_uint8() -> None:
    hr = decode("2A37", bytes([0b11110, 85, 50, 0, 33, 0]))
    assert hr == HeartRate(
        heart_rate=85, rr_intervals=(Decimal(33) / 1024,), energy_expended=50, sensor_contact=True
    )
    assert hr.rr_intervals == (Decimal("0.0322265625"),)  # 32.2 ms (reference §6)


def test_nordic_uint16() -> None:
    hr = decode("2A37", bytes([0b11111, 1, 1, 50, 1, 1, 0, 2, 1, 0xFF, 0xFF]))
    assert hr.heart_rate == 257
    assert hr.sensor_contact is True
    assert hr.energy_expended == 306
    assert hr.rr_intervals == (Decimal(1) / 1024, Decimal(258) / 1024, Decimal(65535) / 1024)
    assert hr.rr_intervals[2] == Decimal("63.9990234375")


def test_nordic_invalid() -> None:
    # flags 0b10111: uint16 HR + RR present, but nothing after the heart rate.
    with pytest.raises(DecodeError, match=r"2A37 rr_intervals: flag bit 4 set but no RR"):
        decode("2A37", bytes([0b10111, 1, 1]))


@pytest.mark.parametrize(("contact", "expected"), [(0, None), (1, None), (2, False), (3, True)])
def test_sensor_contact_values(contact: int, expected: bool | None) -> None:
    hr = decode("2A37", bytes([contact << 1, 60]))
    assert hr.sensor_contact is expected
    assert ("sensor_off" in hr.flags) == (expected is False)


@pytest.mark.parametrize("flags", range(32))
def test_every_flag_combination(flags: int) -> None:
    frame = bytes([flags]) + (bytes([1, 1]) if flags & 0x01 else bytes([85]))
    frame += bytes([50, 1]) if flags & 0x08 else b""
    frame += bytes([33, 0, 2, 1]) if flags & 0x10 else b""
    hr = decode("2A37", frame)
    assert hr.heart_rate == (257 if flags & 0x01 else 85)
    assert hr.energy_expended == (306 if flags & 0x08 else None)
    assert hr.rr_intervals == (
        (Decimal(33) / 1024, Decimal(258) / 1024) if flags & 0x10 else ())
    contact = (flags >> 1) & 3
    assert hr.sensor_contact == (None if contact < 2 else contact == 3)
    with pytest.raises(DecodeError, match=r"^2A37 "):
        decode("2A37", frame[:-1])


@pytest.mark.parametrize("bit", [5, 6, 7])
def test_reserved_flag_bits(bit: int) -> None:
    with pytest.raises(DecodeError, match=r"2A37 flags: reserved bits set"):
        decode("2A37", bytes([1 << bit, 60]))


def test_trailing_bytes_without_rr_flag() -> None:
    with pytest.raises(DecodeError, match=r"2A37 length: 2 trailing bytes at offset 2"):
        decode("2A37", bytes([0, 60, 33, 0]))


def test_odd_rr_byte() -> None:
    with pytest.raises(DecodeError, match=r"2A37 rr_intervals\[1\]: needs 2 bytes"):
        decode("2A37", bytes([0x10, 60, 33, 0, 7]))


def test_missing_heart_rate() -> None:
    with pytest.raises(DecodeError, match=r"2A37 heart_rate: needs 2 bytes at offset 1, 1 left"):
        decode("2A37", bytes([0x01, 60]))
