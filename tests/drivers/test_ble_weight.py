"""Weight Measurement 0x2A9D and Weight Scale Feature 0x2A9E.

Published vectors:
- nguyenquocanhz/SoTuyenNghiaVu @ 0edac08, src/ble/protocols/__tests__/sig.test.ts,
  "Weight Measurement (0x2A9D)": SI 14000/14001/1 raw (70 / 70.005 / 0.005 kg), imperial 15432
  and 22046 raw (154.32 / 220.46 lb), time stamp 2026-09-17 07:05:00, user 3 and 0xFF, BMI 229 +
  height 1750 (SI) / 690 (imperial), all fields 0x0e frame, 0xFFFF = unsuccessful, truncated time
  stamp, zero time stamp.
- RonanB96/bluetooth-sig-python tests/gatt/characteristics/test_weight_scale_feature.py
  (`00 00 00 00`, `07 00 00 00`, `8f 00 00 00`, `08 00 00 00`); reference §4.2 (`8f 00 00 00`).
- reference/ble-gatt-health.md §4 (fixed 0.005 kg / 0.01 lb resolution; 0xFFFF rule).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from drivers import DecodeError, Weight
from drivers.ble import WeightScaleFeature, decode, decode_detailed


def le16(value: int) -> bytes:
    return value.to_bytes(2, "little")


def dt(y: int, mo: int, d: int, h: int, mi: int, s: int) -> bytes:
    return le16(y) + bytes([mo, d, h, mi, s])


@pytest.mark.parametrize(("raw", "kg"), [(14000, "70"), (14001, "70.005"), (1, "0.005")])
def test_si_weight(raw: int, kg: str) -> None:
    w = decode("2A9D", b"\x00" + le16(raw))
    assert w == Weight(weight=Decimal(kg), unit="kg")
    assert w.height_unit is None and w.flags == frozenset()


def test_si_weight_keeps_scale_precision() -> None:
    assert str(decode("2A9D", b"\x00" + le16(14000)).weight) == "70.000"


@pytest.mark.parametrize(("raw", "lb"), [(15432, "154.32"), (22046, "220.46")])
def test_imperial_weight(raw: int, lb: str) -> None:
    w = decode("2A9D", b"\x01" + le16(raw))
    assert w.weight == Decimal(lb) and w.unit == "[lb_av]"


def test_time_stamp() -> None:
    w = decode("2A9D", b"\x02" + le16(14000) + dt(2026, 9, 17, 7, 5, 0))
    assert w.timestamp == datetime(2026, 9, 17, 7, 5, 0)
    assert w.user_id is None


@pytest.mark.parametrize("user", [3, 0xFF])
def test_user_id(user: int) -> None:
    # 0xFF ("unknown user") stays the raw int, per DESIGN.md.
    assert decode("2A9D", b"\x04" + le16(14000) + bytes([user])).user_id == user


def test_bmi_height_si() -> None:
    w = decode("2A9D", b"\x08" + le16(14000) + le16(229) + le16(1750))
    assert (w.bmi, w.height, w.height_unit) == (Decimal("22.9"), Decimal("1.750"), "m")


def test_bmi_height_imperial() -> None:
    w = decode("2A9D", b"\x09" + le16(15432) + le16(229) + le16(690))
    assert (w.weight, w.unit) == (Decimal("154.32"), "[lb_av]")
    assert (w.bmi, w.height, w.height_unit) == (Decimal("22.9"), Decimal("69.0"), "[in_i]")


def test_zero_height_is_reported_as_sent() -> None:
    # SoTuyenNghiaVu drops a zero height; the spec gives 0 no special meaning, so we report it.
    w = decode("2A9D", b"\x08" + le16(14000) + le16(229) + le16(0))
    assert w.height == 0 and w.height_unit == "m"


def test_all_fields() -> None:
    frame = b"\x0e" + le16(13000) + dt(2025, 12, 31, 23, 59, 58) + b"\x02" + le16(212) + le16(1755)
    assert decode("2A9D", frame) == Weight(
        weight=Decimal(65), unit="kg", timestamp=datetime(2025, 12, 31, 23, 59, 58), user_id=2,
        bmi=Decimal("21.2"), height=Decimal("1.755"), height_unit="m",
    )


@pytest.mark.parametrize("flags", [0x00, 0x01, 0x02, 0x04, 0x06, 0x07])
def test_measurement_unsuccessful(flags: int) -> None:
    frame = bytes([flags]) + b"\xff\xff"
    frame += dt(2026, 1, 1, 0, 0, 0) if flags & 0x02 else b""
    frame += b"\x01" if flags & 0x04 else b""
    detailed = decode_detailed("2A9D", frame)
    w = detailed.value
    assert w.weight is None
    assert w.flags == {"measurement_unsuccessful"}
    assert dict(detailed.absent_reasons) == {"weight": "error"}
    assert w.unit == ("[lb_av]" if flags & 0x01 else "kg")


def test_unsuccessful_with_bmi_breaks_the_spec() -> None:
    # SoTuyenNghiaVu's third "unsuccessful" frame sets BMI/height with 0xFFFF; WSS says those
    # fields shall be absent then (reference §4.1), so the strict decoder refuses it.
    frame = b"\x0e\xff\xff" + dt(2026, 1, 1, 0, 0, 0) + b"\x01" + bytes(4)
    with pytest.raises(DecodeError, match=r"2A9D bmi: BMI and Height must be absent"):
        decode("2A9D", frame)


def test_truncated_time_stamp_raises() -> None:
    # SoTuyenNghiaVu "tolerates a truncated optional field"; the strict decoder names it instead.
    with pytest.raises(DecodeError, match=r"2A9D timestamp: needs 7 bytes at offset 3, 2 left"):
        decode("2A9D", b"\x02" + le16(14000) + b"\xea\x07")


def test_zero_time_stamp_is_none() -> None:
    assert decode("2A9D", b"\x02" + le16(14000) + bytes(7)).timestamp is None


@pytest.mark.parametrize("flags", range(16))
def test_every_flag_combination(flags: int) -> None:
    frame = bytes([flags]) + le16(14000)
    frame += dt(2026, 9, 17, 7, 5, 0) if flags & 0x02 else b""
    frame += b"\x03" if flags & 0x04 else b""
    frame += le16(229) + le16(1750) if flags & 0x08 else b""
    w = decode("2A9D", frame)
    imperial = bool(flags & 0x01)
    assert w.weight == (Decimal("140") if imperial else Decimal("70"))
    assert w.unit == ("[lb_av]" if imperial else "kg")
    assert w.timestamp == (datetime(2026, 9, 17, 7, 5) if flags & 0x02 else None)
    assert w.user_id == (3 if flags & 0x04 else None)
    if flags & 0x08:
        assert w.bmi == Decimal("22.9")
        assert w.height == (Decimal("175.0") if imperial else Decimal("1.750"))
        assert w.height_unit == ("[in_i]" if imperial else "m")
    else:
        assert (w.bmi, w.height, w.height_unit) == (None, None, None)
    with pytest.raises(DecodeError, match=r"^2A9D "):
        decode("2A9D", frame[:-1])
    with pytest.raises(DecodeError, match=r"2A9D length: 1 trailing byte"):
        decode("2A9D", frame + b"\x00")


@pytest.mark.parametrize("bit", range(4, 8))
def test_reserved_flag_bits(bit: int) -> None:
    with pytest.raises(DecodeError, match=r"2A9D flags: reserved bits set"):
        decode("2A9D", bytes([1 << bit]) + le16(14000))


# --- Weight Scale Feature 0x2A9E --------------------------------------------------------------
@pytest.mark.parametrize(
    ("wire", "ts", "multi", "bmi", "wcode", "hcode"),
    [
        ("00 00 00 00", False, False, False, 0, 0),
        ("07 00 00 00", True, True, True, 0, 0),
        ("8f 00 00 00", True, True, True, 1, 1),  # also reference §4.2
        ("08 00 00 00", False, False, False, 1, 0),
    ],
)
def test_feature_vectors(wire: str, ts: bool, multi: bool, bmi: bool, wcode: int,
                         hcode: int) -> None:
    f = decode("2A9E", bytes.fromhex(wire))
    assert isinstance(f, WeightScaleFeature)
    assert (f.time_stamp_supported, f.multiple_users_supported, f.bmi_supported) == (ts, multi, bmi)
    assert (f.weight_resolution_code, f.height_resolution_code) == (wcode, hcode)


def test_feature_resolutions() -> None:
    # reference §4.2 tables.
    f = decode("2A9E", bytes.fromhex("8f 00 00 00"))
    assert f.weight_resolution() == Decimal("0.5") and f.weight_resolution(True) == Decimal(1)
    assert f.height_resolution() == Decimal("0.01") and f.height_resolution(True) == Decimal(1)
    f = decode("2A9E", (7 << 3 | 3 << 7).to_bytes(4, "little"))
    assert f.weight_resolution() == Decimal("0.005") and f.height_resolution() == Decimal("0.001")
    assert decode("2A9E", bytes(4)).weight_resolution() is None


@pytest.mark.parametrize(
    ("bits", "match"),
    [(8 << 3, r"weight_resolution: code 8 is reserved"),
     (4 << 7, r"height_resolution: code 4 is reserved"),
     (1 << 10, r"feature: reserved bits set")],
)
def test_feature_reserved(bits: int, match: str) -> None:
    with pytest.raises(DecodeError, match=r"2A9E " + match):
        decode("2A9E", bits.to_bytes(4, "little"))


def test_feature_length() -> None:
    with pytest.raises(DecodeError, match=r"2A9E feature: needs 4 bytes"):
        decode("2A9E", b"\x07\x00")
