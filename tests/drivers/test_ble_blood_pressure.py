"""Blood Pressure Measurement 0x2A35, Intermediate Cuff Pressure 0x2A36, BP Feature 0x2A49.

Published vectors:
- NordicSemiconductor/Android-BLE-Common-Library @ c078e25,
  ble-common/src/test/java/no/nordicsemi/android/ble/common/callback/bps/
  BloodPressureMeasurementDataCallbackTest.java (`_full`, `_some`, `_minimal`, `_toShort`,
  `_noTimestamp`) and IntermediateCuffPressureDataCallbackTest.java (same names).
- derdilla/blood-pressure-monitor-fl @ 17aba3d,
  app/test/features/bluetooth/logic/characteristics/ble_measurement_data_test.dart ("decodes sample
  data", status 39/8/16, and four Beurer BM85 captures decoded with bigEndian/alwaysSendsUserId).
- RonanB96/bluetooth-sig-python tests/gatt/characteristics/test_blood_pressure_feature.py and
  StanfordSpezi/SpeziBluetooth BloodPressureTests.swift (feature bits 0-8, rawValue 0x1FF).
- reference/ble-gatt-health.md §2 (layout, NaN on failed readings per derdilla#80, ICP unused
  slots NaN per GSS).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from itertools import product

import pytest

from drivers import BloodPressure, DecodeError
from drivers.ble import BloodPressureFeature, decode, decode_detailed
from drivers.ble.quirks import BEURER_BM_BYTE_ORDER, quirks_for_model
from vitals.flags import FLAGS

H = bytes.fromhex
BEURER = frozenset({BEURER_BM_BYTE_ORDER})

NORDIC_FULL = bytes(
    [0x1E, 0x8A, 0x00, 0x58, 0x00, 0x78, 0x00, 0x00, 0x00, 0x04, 0x11, 0x14, 0x29, 0x3B, 0x3C,
     0x00, 0x01, 0x27, 0x00]
)
NORDIC_SOME = bytes([0x15, 0xBD, 0xF0, 0x0B, 0x00, 0x9F, 0xF0, 0x3C, 0x00, 0x12, 0x00])
NORDIC_MINIMAL = bytes([0x00, 0xBD, 0xF0, 0x0B, 0x00, 0x9F, 0xF0])
DERDILLA_SAMPLE = bytes([22, 124, 0, 86, 0, 97, 0, 232, 7, 6, 15, 17, 17, 27, 51, 0, 0, 0])


def test_nordic_full() -> None:
    bp = decode("2A35", NORDIC_FULL)
    assert bp == BloodPressure(
        systolic=Decimal(138), diastolic=Decimal(88), mean_arterial_pressure=Decimal(120),
        unit="mm[Hg]",
        timestamp=None,  # year 0 = not known (Nordic asserts YEAR unset)
        pulse_rate=Decimal(60), user_id=1, measurement_status=0b100111,
        flags=frozenset({"body_movement", "cuff_loose", "irregular_pulse", "improper_position"}),
    )
    assert bp.raw == NORDIC_FULL


def test_nordic_some_kpa_pulse_below_range() -> None:
    bp = decode("2A35", NORDIC_SOME)
    assert (bp.systolic, bp.diastolic, bp.mean_arterial_pressure) == (
        Decimal("18.9"), Decimal(11), Decimal("15.9"))
    assert bp.unit == "kPa"
    assert bp.pulse_rate == Decimal(60)
    assert bp.user_id is None and bp.timestamp is None
    assert bp.measurement_status == 0b010010
    # cuff too loose + pulse range 2 ("less than lower limit")
    assert bp.flags == {"cuff_loose", "pulse_out_of_range", "pulse_too_low"}


def test_nordic_minimal() -> None:
    bp = decode("2A35", NORDIC_MINIMAL)
    assert bp == BloodPressure(Decimal("18.9"), Decimal(11), Decimal("15.9"), unit="mm[Hg]")
    assert bp.pulse_rate is None and bp.measurement_status is None and bp.flags == frozenset()


def test_derdilla_sample() -> None:
    bp = decode("2A35", DERDILLA_SAMPLE)
    assert (bp.systolic, bp.diastolic, bp.mean_arterial_pressure) == (124, 86, 97)
    assert bp.unit == "mm[Hg]"
    assert bp.pulse_rate == 51
    assert bp.timestamp == datetime(2024, 6, 15, 17, 17, 27)
    assert bp.user_id is None
    assert bp.measurement_status == 0 and bp.flags == frozenset()


@pytest.mark.parametrize(
    ("status", "flags"),
    [
        (39, {"body_movement", "cuff_loose", "irregular_pulse", "improper_position"}),
        (8, {"pulse_out_of_range"}),  # derdilla: 1 => above the limit
        (16, {"pulse_out_of_range", "pulse_too_low"}),  # derdilla: 2 => below the limit
        (24, set()),  # range value 3 is reserved: no flag, raw bits kept
        (0x0040, set()),  # reserved status bit 6: kept raw, no flag, no error
    ],
)
def test_derdilla_status_bits(status: int, flags: set[str]) -> None:
    frame = DERDILLA_SAMPLE[:-2] + status.to_bytes(2, "little")
    bp = decode("2A35", frame)
    assert bp.measurement_status == status
    assert bp.flags == flags
    assert bp.flags <= FLAGS


# --- every flag combination, fields taken from the published frames above -----------------
_PRESSURES = NORDIC_FULL[1:7]  # 138 / 88 / 120
_STAMP = DERDILLA_SAMPLE[7:14]  # 2024-06-15 17:17:27
_PULSE = NORDIC_FULL[14:16]  # 60
_USER = NORDIC_FULL[16:17]  # 1
_STATUS = NORDIC_FULL[17:19]  # 0b100111


@pytest.mark.parametrize("flags", range(32))
def test_every_flag_combination(flags: int) -> None:
    frame = bytes([flags]) + _PRESSURES
    frame += _STAMP if flags & 0x02 else b""
    frame += _PULSE if flags & 0x04 else b""
    frame += _USER if flags & 0x08 else b""
    frame += _STATUS if flags & 0x10 else b""
    bp = decode("2A35", frame)
    assert (bp.systolic, bp.diastolic, bp.mean_arterial_pressure) == (138, 88, 120)
    assert bp.unit == ("kPa" if flags & 0x01 else "mm[Hg]")
    assert bp.timestamp == (datetime(2024, 6, 15, 17, 17, 27) if flags & 0x02 else None)
    assert bp.pulse_rate == (Decimal(60) if flags & 0x04 else None)
    assert bp.user_id == (1 if flags & 0x08 else None)
    assert bp.measurement_status == (0b100111 if flags & 0x10 else None)
    assert bool(bp.flags) == bool(flags & 0x10)
    # One byte short always names the last field.
    with pytest.raises(DecodeError, match=r"^2A35 "):
        decode("2A35", frame[:-1])


@pytest.mark.parametrize("bit", [5, 6, 7])
def test_reserved_flag_bits_raise(bit: int) -> None:
    frame = bytes([1 << bit]) + NORDIC_MINIMAL[1:]
    with pytest.raises(DecodeError, match=r"2A35 flags: reserved bits set"):
        decode("2A35", frame)


def test_nordic_too_short_names_the_field() -> None:
    with pytest.raises(DecodeError, match=r"2A35 mean_arterial_pressure: needs 2 bytes"):
        decode("2A35", bytes([1, 2, 3, 4, 5, 6]))


def test_nordic_missing_timestamp_names_the_field() -> None:
    with pytest.raises(DecodeError, match=r"2A35 timestamp: needs 7 bytes at offset 7, 0 left"):
        decode("2A35", bytes([3, 2, 3, 4, 5, 6, 7]))


def test_trailing_bytes_raise() -> None:
    with pytest.raises(DecodeError, match=r"2A35 length: 1 trailing byte at offset 7 \(3c\)"):
        decode("2A35", NORDIC_MINIMAL + b"\x3c")


@pytest.mark.parametrize(
    ("stamp", "field"),
    [
        ("e8 07 0d 0f 11 11 1b", "month"),  # month 13
        ("e8 07 02 1e 11 11 1b", "day"),  # 2024-02-30
        ("e8 07 06 0f 18 00 00", "hours"),  # hour 24
        ("e8 07 06 0f 11 3c 00", "minutes"),
        ("e8 07 06 0f 11 11 3c", "seconds"),
        ("e8 03 06 0f 11 11 1b", "year"),  # 1000 < 1582
    ],
)
def test_impossible_timestamp_raises(stamp: str, field: str) -> None:
    frame = DERDILLA_SAMPLE[:7] + H(stamp) + DERDILLA_SAMPLE[14:]
    with pytest.raises(DecodeError, match=rf"2A35 timestamp {field}:"):
        decode("2A35", frame)


def test_failed_reading_as_nan_is_none_with_reason() -> None:
    # reference §2.1: cuffs report errors as NaN SFLOATs (ff 07) with status 0 (boso medicus,
    # derdilla#80). Never a number such as 2047 mmHg.
    frame = H("00 ff 07 ff 07 ff 07")
    detailed = decode_detailed("2A35", frame)
    bp = detailed.value
    assert (bp.systolic, bp.diastolic, bp.mean_arterial_pressure) == (None, None, None)
    assert dict(detailed.absent_reasons) == {
        "systolic": "not-a-number", "diastolic": "not-a-number",
        "mean_arterial_pressure": "not-a-number",
    }


@pytest.mark.parametrize(
    ("wire", "reason"),
    [("00 08", "error"), ("fe 07", "positive-infinity"), ("02 08", "negative-infinity"),
     ("01 08", "error"), ("ff 07", "not-a-number")],
)
def test_special_pulse_rate(wire: str, reason: str) -> None:
    frame = H("04") + NORDIC_MINIMAL[1:] + H(wire)
    detailed = decode_detailed("2A35", frame)
    assert detailed.value.pulse_rate is None
    assert dict(detailed.absent_reasons) == {"pulse_rate": reason}


# --- Beurer BM85 (derdilla captures), decoded only through the opt-in quirk ------------------
BEURER_CAPTURES = [
    # (frame, systolic, diastolic, pulse, user, timestamp, status, flags)
    ([86, 106, 0, 71, 0, 0, 0, 234, 7, 8, 11, 18, 31, 0, 0, 63, 0, 0, 0],
     106, 71, 63, 0, datetime(2026, 8, 11, 18, 31), 0, set()),
    ([86, 113, 0, 73, 0, 0, 0, 234, 7, 8, 11, 20, 56, 0, 0, 65, 1, 0, 0],
     113, 73, 65, 1, datetime(2026, 8, 11, 20, 56), 0, set()),
    ([86, 119, 0, 70, 0, 0, 0, 234, 7, 8, 11, 20, 57, 0, 0, 87, 1, 0, 64],
     119, 70, 87, 1, datetime(2026, 8, 11, 20, 57), 0x0040, set()),
    ([86, 118, 0, 80, 0, 0, 0, 234, 7, 8, 11, 20, 27, 0, 0, 60, 0, 0, 4],
     118, 80, 60, 0, datetime(2026, 8, 11, 20, 27), 0x0004, {"irregular_pulse"}),
]


@pytest.mark.parametrize("capture", BEURER_CAPTURES)
def test_beurer_captures_need_the_quirk(capture: tuple) -> None:
    frame = bytes(capture[0])
    with pytest.raises(DecodeError, match=r"2A35 flags: reserved bits set \(0x40 in 0x56\)"):
        decode("2A35", frame)


@pytest.mark.parametrize("capture", BEURER_CAPTURES)
def test_beurer_captures_with_quirk(capture: tuple) -> None:
    frame, systolic, diastolic, pulse, user, stamp, status, flags = capture
    detailed = decode_detailed("2A35", bytes(frame), quirks=BEURER)
    bp = detailed.value
    assert (bp.systolic, bp.diastolic) == (systolic, diastolic)
    assert bp.mean_arterial_pressure is None  # sent as 0x0000 = not measured
    assert detailed.absent_reasons["mean_arterial_pressure"] == "unsupported"
    assert bp.pulse_rate == pulse
    assert bp.user_id == user
    assert bp.timestamp == stamp
    assert bp.measurement_status == status
    assert bp.flags == flags


def test_beurer_quirk_by_model_name() -> None:
    assert quirks_for_model("BM85") == BEURER
    assert quirks_for_model("Beurer bm48 ") == BEURER
    assert quirks_for_model("ELITE900") == BEURER
    assert quirks_for_model("BLEsmart_00000116") == frozenset()
    assert quirks_for_model(None) == frozenset()


def test_beurer_quirk_still_refuses_other_reserved_bits() -> None:
    frame = bytearray(BEURER_CAPTURES[0][0])
    frame[0] |= 0x80
    with pytest.raises(DecodeError, match=r"flags: reserved bits set"):
        decode("2A35", bytes(frame), quirks=BEURER)


def test_unknown_quirk_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown BLE quirk"):
        decode("2A35", NORDIC_MINIMAL, quirks={"beurer-typo"})


# --- Intermediate Cuff Pressure 0x2A36 --------------------------------------------------------
def test_icp_nordic_full() -> None:
    frame = bytes([0x1E, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x11, 0x14, 0x29,
                   0x3B, 0x3C, 0x00, 0x01, 0x27, 0x00])
    bp = decode("2A36", frame)
    assert bp.systolic == 4 and bp.diastolic is None and bp.mean_arterial_pressure is None
    assert bp.unit == "mm[Hg]" and bp.pulse_rate == 60 and bp.user_id == 1
    assert bp.timestamp is None
    assert bp.flags == {"body_movement", "cuff_loose", "irregular_pulse", "improper_position"}


def test_icp_nordic_some_and_minimal() -> None:
    some = decode("2A36", bytes([0x15, 0x6F, 0xF0, 0, 0, 0, 0, 0x3C, 0x00, 0x12, 0x00]))
    assert (some.systolic, some.unit, some.pulse_rate) == (Decimal("11.1"), "kPa", 60)
    assert some.flags == {"cuff_loose", "pulse_out_of_range", "pulse_too_low"}
    minimal = decode("2A36", bytes([0x00, 0xD7, 0xF0, 0, 0, 0, 0]))
    assert minimal == BloodPressure(Decimal("21.5"), None, None)


def test_icp_unused_slots_as_nan_per_gss_are_ignored() -> None:
    # GSS: unused diastolic/MAP "set to NaN" (reference §2.2); Nordic sends 0x0000. Same result.
    detailed = decode_detailed("2A36", H("00 d7 f0 ff 07 ff 07"))
    assert detailed.value == BloodPressure(Decimal("21.5"), None, None)
    assert dict(detailed.absent_reasons) == {}


def test_icp_nan_cuff_pressure_reason_is_on_systolic() -> None:
    detailed = decode_detailed("2A36", H("00 ff 07 ff 07 ff 07"))
    assert detailed.value.systolic is None
    assert dict(detailed.absent_reasons) == {"systolic": "not-a-number"}


def test_icp_nordic_too_short() -> None:
    with pytest.raises(DecodeError, match=r"2A36 mean_arterial_pressure: needs 2 bytes"):
        decode("2A36", bytes([1, 2, 3, 4, 5, 6]))


# --- Blood Pressure Feature 0x2A49 ------------------------------------------------------------
@pytest.mark.parametrize("bits", [0x0000, 0x0001, 0x0005, 0x0101, 0x01FF])
def test_bp_feature(bits: int) -> None:
    # SpeziBluetooth BloodPressureTests.testBloodPressureFeature: all nine bits = 0x1FF.
    feature = decode("2A49", bits.to_bytes(2, "little"))
    assert feature == BloodPressureFeature(bits)
    names = ["body_movement_detection", "cuff_fit_detection", "irregular_pulse_detection",
             "pulse_rate_range_detection", "measurement_position_detection", "multiple_bonds",
             "e2e_crc", "user_data_service", "user_facing_time"]
    for bit, name in enumerate(names):
        assert getattr(feature, name) == bool(bits >> bit & 1)


@pytest.mark.parametrize(("frame", "match"), [
    (H("00 02"), r"2A49 feature: reserved bits set \(0x200"),
    (H("01"), r"2A49 feature: needs 2 bytes"),
    (H("01 00 00"), r"2A49 length: 1 trailing byte"),
])
def test_bp_feature_malformed(frame: bytes, match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        decode("2A49", frame)


def test_uuid_forms_agree() -> None:
    forms = ["2A35", "2a35", "0x2A35", 0x2A35, "00002a35-0000-1000-8000-00805f9b34fb",
             "00002A35-0000-1000-8000-00805F9B34FB"]
    results = {decode(form, NORDIC_SOME) for form in forms}
    assert len(results) == 1


@pytest.mark.parametrize("uuid", ["2A00", "12345", "00002a35-0000-1000-8000-00805f9b34fc", -1,
                                  0x10000, 1.5, True])
def test_bad_uuid(uuid: object) -> None:
    with pytest.raises(DecodeError, match=r"^uuid: "):
        decode(uuid, NORDIC_SOME)  # type: ignore[arg-type]


def test_bytearray_and_memoryview_inputs() -> None:
    assert decode("2A35", bytearray(NORDIC_SOME)) == decode("2A35", memoryview(NORDIC_SOME))


def test_combinations_of_status_bits_map_to_vocabulary() -> None:
    for bits in product([0, 1], repeat=6):
        status = sum(b << i for i, b in enumerate(bits))
        bp = decode("2A35", DERDILLA_SAMPLE[:-2] + status.to_bytes(2, "little"))
        assert bp.flags <= FLAGS
        assert ("body_movement" in bp.flags) == bool(status & 1)
        assert ("improper_position" in bp.flags) == bool(status & 0x20)
