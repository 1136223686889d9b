"""Hypothesis fuzzing of every BLE decoder: random bytes give a result or DecodeError, never
anything else; results are frozen, carry the raw bytes, use only vocabulary flags, and never
hold a non-finite number. Frames are also built from random field values per flag combination,
so the decoders' deeper paths (not only the length checks) are exercised."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers import DecodeError
from drivers.ble import DECODERS, decode, decode_detailed
from drivers.ble.quirks import QUIRKS
from drivers.measurements import BloodPressure, HeartRate, PulseOximetry, Temperature, Weight
from vitals.flags import FLAGS

UUIDS = sorted(DECODERS)
MEASUREMENTS = (BloodPressure, HeartRate, PulseOximetry, Temperature, Weight)


def _check(value: object, data: bytes) -> None:
    assert dataclasses.is_dataclass(value)
    with pytest.raises(dataclasses.FrozenInstanceError):
        value.raw = b"x"  # type: ignore[attr-defined]
    assert value.raw == data  # type: ignore[attr-defined]
    if isinstance(value, MEASUREMENTS):
        assert value.flags <= FLAGS
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            if isinstance(item, Decimal):
                assert item.is_finite()


def _decode_or_error(uuid: int, data: bytes, quirks: frozenset[str] = frozenset()) -> None:
    try:
        detailed = decode_detailed(uuid, data, quirks=quirks)
    except DecodeError as exc:
        assert str(exc).startswith(f"{uuid:04X} ")  # names the characteristic and field
        return
    _check(detailed.value, data)
    assert detailed.value == decode(uuid, data, quirks=quirks)
    for name, reason in detailed.absent_reasons.items():
        assert reason in {"not-a-number", "error", "positive-infinity", "negative-infinity",
                          "unsupported"}
        if hasattr(detailed.value, name):
            assert getattr(detailed.value, name) is None


@settings(max_examples=600)
@given(uuid=st.sampled_from(UUIDS), data=st.binary(max_size=24))
def test_random_bytes(uuid: int, data: bytes) -> None:
    _decode_or_error(uuid, data)


@settings(max_examples=300)
@given(data=st.binary(max_size=24), quirks=st.sets(st.sampled_from(sorted(QUIRKS))))
def test_random_bytes_with_quirks(data: bytes, quirks: set[str]) -> None:
    _decode_or_error(0x2A35, data, frozenset(quirks))


# Field sizes per flag bit, from each characteristic's layout (see the decoder modules).
_LAYOUTS: dict[int, tuple[int, int, dict[int, int]]] = {
    # uuid: (flag bits allowed, fixed bytes after flags, {flag bit: field size})
    0x2A35: (0x1F, 6, {0x02: 7, 0x04: 2, 0x08: 1, 0x10: 2}),
    0x2A36: (0x1F, 6, {0x02: 7, 0x04: 2, 0x08: 1, 0x10: 2}),
    0x2A1C: (0x07, 4, {0x02: 7, 0x04: 1}),
    0x2A1E: (0x07, 4, {0x02: 7, 0x04: 1}),
    0x2A9D: (0x0F, 2, {0x02: 7, 0x04: 1, 0x08: 4}),
    0x2A5E: (0x1F, 4, {0x01: 7, 0x02: 2, 0x04: 3, 0x08: 2}),
    0x2A5F: (0x1F, 4, {0x01: 4, 0x02: 4, 0x04: 2, 0x08: 3, 0x10: 2}),
}


@st.composite
def well_sized_frames(draw: st.DrawFn) -> tuple[int, bytes]:
    uuid = draw(st.sampled_from(sorted(_LAYOUTS)))
    allowed, fixed, sizes = _LAYOUTS[uuid]
    flags = draw(st.integers(0, 255).map(lambda f: f & allowed))
    size = fixed + sum(n for bit, n in sizes.items() if flags & bit)
    return uuid, bytes([flags]) + draw(st.binary(min_size=size, max_size=size))


@settings(max_examples=800)
@given(frame=well_sized_frames())
def test_well_sized_random_fields(frame: tuple[int, bytes]) -> None:
    uuid, data = frame
    try:
        decode(uuid, data)
    except DecodeError as exc:
        # With every length right, only a field's value can be wrong: a date or a code.
        message = str(exc)
        assert any(key in message for key in (
            "timestamp", "temperature_type", "bmi: BMI and Height must be absent")), message
    else:
        _decode_or_error(uuid, data)


# Fixed-size characteristics: random values at exactly the right length reach the value checks.
_SIZES: dict[int, tuple[int, ...]] = {
    0x2A08: (7,), 0x2A2B: (10,), 0x2A1D: (1,), 0x2A49: (2,), 0x2A9E: (4,), 0x2A52: (4,),
    0x2A60: (2, 4, 5, 7), 0x2A37: (2, 3, 4, 5, 6, 7, 8),
}


@settings(max_examples=800)
@given(data=st.data())
def test_right_length_random_values(data: st.DataObject) -> None:
    uuid = data.draw(st.sampled_from(sorted(_SIZES)))
    size = data.draw(st.sampled_from(_SIZES[uuid]))
    _decode_or_error(uuid, data.draw(st.binary(min_size=size, max_size=size)))
