"""PLX Spot-Check 0x2A5E, PLX Continuous 0x2A5F, PLX Features 0x2A60.

Published vectors: StanfordSpezi/SpeziBluetooth @ 049b5ae,
Tests/SpeziBluetoothServicesTests/PLXTests.swift — testVerySimpleMeasurementCoding
(`00 e8 f3 84 f3`, `00 64 00 5a 00`), testSimpleMeasurementCoding (`1c 5f 00 5a 00 20 00 00 00
00 57 f0`), testFullMeasurementCoding (20 bytes, flags 0x1f), testSpotCheckMeasurementCoding (19
bytes, flags 0x0f), testPLXFeaturesCoding (`a3 00 40 10 80 01 00`). Bit maps: reference
ble-gatt-health.md §5.3/§5.4 (PLXS v1.0.1).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from drivers import DecodeError, PulseOximetry
from drivers.ble import PlxFeatures, decode, decode_detailed
from drivers.ble.plx import DEVICE_STATUS_FLAGS, MEASUREMENT_STATUS_FLAGS
from vitals.flags import FLAGS

SPEZI_FULL = bytes(
    [31, 222, 243, 202, 243, 202, 243, 90, 245, 212, 243, 178, 242, 32, 1, 0, 0, 0, 122, 227]
)
SPEZI_SPOT = bytes(
    [15, 172, 243, 190, 245, 232, 7, 11, 29, 23, 8, 57, 32, 64, 34, 0, 0, 102, 227]
)


def test_spezi_very_simple_continuous() -> None:
    p = decode("2A5F", bytes([0, 232, 243, 132, 243]))
    assert p == PulseOximetry(spo2=Decimal("100.0"), pulse_rate=Decimal("90.0"))
    assert str(p.spo2) == "100.0"
    assert decode("2A5F", bytes([0, 100, 0, 90, 0])) == PulseOximetry(Decimal(100), Decimal(90))


def test_spezi_simple_continuous() -> None:
    p = decode("2A5F", bytes([28, 95, 0, 90, 0, 32, 0, 0, 0, 0, 87, 240]))
    assert (p.spo2, p.pulse_rate) == (95, 90)
    assert p.measurement_status == 0x0020  # measurement ongoing
    assert p.device_and_sensor_status == 0
    assert p.pulse_amplitude_index == Decimal("8.7")
    assert p.flags == frozenset()  # "ongoing" is not a quality problem
    assert p.timestamp is None


def test_spezi_full_continuous() -> None:
    detailed = decode_detailed("2A5F", SPEZI_FULL)
    p = detailed.value
    assert (p.spo2, p.pulse_rate) == (Decimal("99.0"), Decimal("97.0"))
    assert dict(detailed.extra) == {
        "spo2_fast": Decimal("97.0"), "pulse_rate_fast": Decimal("137.0"),
        "spo2_slow": Decimal("98.0"), "pulse_rate_slow": Decimal("69.0"),
    }
    assert p.measurement_status == 0x0120  # ongoing + fully qualified
    assert p.device_and_sensor_status == 0
    assert p.pulse_amplitude_index == Decimal("8.90")
    assert p.flags == frozenset()


def test_spezi_spot_check() -> None:
    p = decode("2A5E", SPEZI_SPOT)
    assert (p.spo2, p.pulse_rate) == (Decimal("94.0"), Decimal("147.0"))
    assert p.timestamp == datetime(2024, 11, 29, 23, 8, 57)
    assert p.measurement_status == 0x4020  # ongoing + questionable measurement
    assert p.device_and_sensor_status == 0x000022  # equipment malfunction + low perfusion
    assert p.pulse_amplitude_index == Decimal("8.70")
    assert p.flags == {"artifact", "device_error", "low_perfusion"}


def test_spot_check_clock_not_set() -> None:
    frame = bytes([SPEZI_SPOT[0] | 0x10]) + SPEZI_SPOT[1:]
    p = decode("2A5E", frame)
    assert "device_clock_not_set" in p.flags
    assert p.timestamp == datetime(2024, 11, 29, 23, 8, 57)  # reported as the device sent it


# Field chunks from the Spezi frames.
_SPO2_PR = SPEZI_SPOT[1:5]
_STAMP = SPEZI_SPOT[5:12]
_MSTATUS = SPEZI_SPOT[12:14]
_DSTATUS = SPEZI_SPOT[14:17]
_PAI = SPEZI_SPOT[17:19]


@pytest.mark.parametrize("flags", range(32))
def test_spot_check_every_flag_combination(flags: int) -> None:
    frame = bytes([flags]) + _SPO2_PR
    frame += _STAMP if flags & 0x01 else b""
    frame += _MSTATUS if flags & 0x02 else b""
    frame += _DSTATUS if flags & 0x04 else b""
    frame += _PAI if flags & 0x08 else b""
    p = decode("2A5E", frame)
    assert (p.spo2, p.pulse_rate) == (Decimal("94.0"), Decimal("147.0"))
    assert p.timestamp == (datetime(2024, 11, 29, 23, 8, 57) if flags & 0x01 else None)
    assert p.measurement_status == (0x4020 if flags & 0x02 else None)
    assert p.device_and_sensor_status == (0x22 if flags & 0x04 else None)
    assert p.pulse_amplitude_index == (Decimal("8.70") if flags & 0x08 else None)
    assert ("device_clock_not_set" in p.flags) == bool(flags & 0x10)
    assert ("artifact" in p.flags) == bool(flags & 0x02)
    assert ("low_perfusion" in p.flags) == bool(flags & 0x04)
    with pytest.raises(DecodeError, match=r"^2A5E "):
        decode("2A5E", frame[:-1])
    with pytest.raises(DecodeError, match=r"2A5E length: 1 trailing byte"):
        decode("2A5E", frame + b"\x00")


@pytest.mark.parametrize("flags", range(32))
def test_continuous_every_flag_combination(flags: int) -> None:
    frame = bytes([flags]) + SPEZI_FULL[1:5]
    frame += SPEZI_FULL[5:9] if flags & 0x01 else b""
    frame += SPEZI_FULL[9:13] if flags & 0x02 else b""
    frame += SPEZI_FULL[13:15] if flags & 0x04 else b""
    frame += SPEZI_FULL[15:18] if flags & 0x08 else b""
    frame += SPEZI_FULL[18:20] if flags & 0x10 else b""
    detailed = decode_detailed("2A5F", frame)
    p = detailed.value
    assert (p.spo2, p.pulse_rate) == (Decimal("99.0"), Decimal("97.0"))
    assert ("spo2_fast" in detailed.extra) == bool(flags & 0x01)
    assert detailed.extra.get("pulse_rate_slow", None) == (
        Decimal("69.0") if flags & 0x02 else None)
    assert p.measurement_status == (0x0120 if flags & 0x04 else None)
    assert p.device_and_sensor_status == (0 if flags & 0x08 else None)
    assert p.pulse_amplitude_index == (Decimal("8.90") if flags & 0x10 else None)
    assert p.timestamp is None
    with pytest.raises(DecodeError, match=r"^2A5F "):
        decode("2A5F", frame[:-1])


@pytest.mark.parametrize("uuid", ["2A5E", "2A5F"])
@pytest.mark.parametrize("bit", [5, 6, 7])
def test_reserved_flag_bits(uuid: str, bit: int) -> None:
    with pytest.raises(DecodeError, match=rf"{uuid} flags: reserved bits set"):
        decode(uuid, bytes([1 << bit]) + _SPO2_PR)


@pytest.mark.parametrize("bit", range(16))
def test_each_measurement_status_bit(bit: int) -> None:
    frame = b"\x02" + _SPO2_PR + (1 << bit).to_bytes(2, "little")
    p = decode("2A5E", frame)
    assert p.measurement_status == 1 << bit
    expected = {MEASUREMENT_STATUS_FLAGS[bit]} if bit in MEASUREMENT_STATUS_FLAGS else set()
    assert p.flags == expected
    assert p.flags <= FLAGS


@pytest.mark.parametrize("bit", range(24))
def test_each_device_status_bit(bit: int) -> None:
    frame = b"\x04" + _SPO2_PR + (1 << bit).to_bytes(3, "little")
    p = decode("2A5E", frame)
    assert p.device_and_sensor_status == 1 << bit
    expected = {DEVICE_STATUS_FLAGS[bit]} if bit in DEVICE_STATUS_FLAGS else set()
    assert p.flags == expected
    assert p.flags <= FLAGS


def test_specific_mappings() -> None:
    # reference §5.3/§5.4 bit meanings -> vocabulary (documented in drivers/ble/plx.py).
    assert MEASUREMENT_STATUS_FLAGS[13] == "measurement_unsuccessful"  # unavailable
    assert MEASUREMENT_STATUS_FLAGS[15] == "measurement_unsuccessful"  # invalid
    assert DEVICE_STATUS_FLAGS[5] == "low_perfusion"
    assert DEVICE_STATUS_FLAGS[11] == "sensor_off"  # unconnected to user
    assert DEVICE_STATUS_FLAGS[15] == "sensor_off"  # sensor disconnected
    assert DEVICE_STATUS_FLAGS[9] == "searching"  # signal analysis ongoing


@pytest.mark.parametrize(
    ("wire", "reason"),
    [("ff 07", "not-a-number"), ("00 08", "error"), ("fe 07", "positive-infinity"),
     ("02 08", "negative-infinity"), ("01 08", "error")],
)
def test_special_values(wire: str, reason: str) -> None:
    special = bytes.fromhex(wire)
    detailed = decode_detailed("2A5F", b"\x01" + special + special + SPEZI_FULL[5:9])
    assert (detailed.value.spo2, detailed.value.pulse_rate) == (None, None)
    assert dict(detailed.absent_reasons) == {"spo2": reason, "pulse_rate": reason}
    assert detailed.extra["spo2_fast"] == Decimal("97.0")


# --- PLX Features 0x2A60 ----------------------------------------------------------------------
def test_spezi_features() -> None:
    f = decode("2A60", bytes([163, 0, 64, 16, 128, 1, 0]))
    assert f == PlxFeatures(
        supported_features=0x00A3,  # status support, device status support, slow, multi-bond
        measurement_status_support=0x1040,  # early estimated + calibration ongoing
        device_and_sensor_status_support=0x000180,  # nonpulsatile + questionable pulse
    )
    assert f.spo2pr_slow and f.multiple_bonds and not f.spo2pr_fast
    assert not f.measurement_storage and not f.timestamp_supported


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (bytes([0x00, 0x00]), PlxFeatures(0)),
        (bytes([0x01, 0x00, 0x20, 0x00]), PlxFeatures(1, 0x0020)),
        (bytes([0x02, 0x00, 0x00, 0x08, 0x00]), PlxFeatures(2, None, 0x000800)),
    ],
)
def test_feature_optional_fields(frame: bytes, expected: PlxFeatures) -> None:
    assert decode("2A60", frame) == expected


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (bytes([0x00, 0x01]), r"2A60 supported_features: reserved bits set"),
        (bytes([0x01, 0x00, 0x20]), r"2A60 measurement_status_support: needs 2 bytes"),
        (bytes([0xA3, 0, 64, 16, 128, 1]), r"2A60 device_and_sensor_status_support: needs 3"),
        (bytes([0x00, 0x00, 0x00]), r"2A60 length: 1 trailing byte"),
    ],
)
def test_feature_malformed(frame: bytes, match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        decode("2A60", frame)
