"""Byte encoders for the Bluetooth SIG health characteristics, written from the spec alone.

Never import ``drivers`` here (DESIGN.md, simulators): an encoder and a decoder that share a
misreading would cancel out. Layouts are those of the SIG GATT definitions as summarised in
``shared/reference/ble-gatt-health.md`` (section numbers below). Values are ``Decimal`` so a
device's resolution is explicit; ``None`` sends the IEEE 11073 NaN.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

# IEEE 11073-20601 special values (§1.1, §1.2).
SFLOAT_NAN = 0x07FF
SFLOAT_NRES = 0x0800
SFLOAT_POS_INF = 0x07FE
SFLOAT_NEG_INF = 0x0802
FLOAT_NAN = 0x007FFFFF
FLOAT_NRES = 0x00800000

Special = str  # "nan" | "nres" | "+inf" | "-inf"
_SFLOAT_SPECIAL = {"nan": SFLOAT_NAN, "nres": SFLOAT_NRES, "+inf": SFLOAT_POS_INF,
                   "-inf": SFLOAT_NEG_INF}
_FLOAT_SPECIAL = {"nan": FLOAT_NAN, "nres": FLOAT_NRES, "+inf": 0x007FFFFE, "-inf": 0x00800002}


def _mantissa_exponent(value: Decimal, bits: int, exp_min: int, exp_max: int) -> tuple[int, int]:
    sign, digits, exponent = value.normalize().as_tuple()
    mantissa = int("".join(map(str, digits)) or "0") * (-1 if sign else 1)
    exponent = int(exponent)
    limit = 1 << (bits - 1)
    # Keep the device's precision where it fits: 37.60 is sent as 3760e-2 (one more digit).
    quantized = value.as_tuple()
    if int(quantized.exponent) < exponent:
        candidate = int("".join(map(str, quantized.digits))) * (-1 if quantized.sign else 1)
        if -limit + 3 <= candidate < limit - 3:
            mantissa, exponent = candidate, int(quantized.exponent)
    while exponent > exp_max:
        mantissa, exponent = mantissa * 10, exponent - 1
    while exponent < exp_min or not -limit + 3 <= mantissa < limit - 3:
        if mantissa % 10:
            raise ValueError(f"{value} does not fit a {bits}-bit mantissa")
        mantissa, exponent = mantissa // 10, exponent + 1
    if exponent > exp_max:
        raise ValueError(f"{value} does not fit")
    return mantissa, exponent


def sfloat(value: Decimal | int | str | None) -> bytes:
    """SFLOAT: 4-bit signed exponent, 12-bit signed mantissa, little-endian (§1.1)."""
    if value is None:
        return struct.pack("<H", SFLOAT_NAN)
    if isinstance(value, str) and value in _SFLOAT_SPECIAL:
        return struct.pack("<H", _SFLOAT_SPECIAL[value])
    mantissa, exponent = _mantissa_exponent(Decimal(value), 12, -8, 7)
    return struct.pack("<H", ((exponent & 0x0F) << 12) | (mantissa & 0x0FFF))


def float32(value: Decimal | int | str | None) -> bytes:
    """FLOAT: 8-bit signed exponent, 24-bit signed mantissa, little-endian (§1.2)."""
    if value is None:
        return struct.pack("<I", FLOAT_NAN)
    if isinstance(value, str) and value in _FLOAT_SPECIAL:
        return struct.pack("<I", _FLOAT_SPECIAL[value])
    mantissa, exponent = _mantissa_exponent(Decimal(value), 24, -128, 127)
    return struct.pack("<I", ((exponent & 0xFF) << 24) | (mantissa & 0xFFFFFF))


# A timestamp field that is sent but says "not known" (year, month, day 0): what a device
# whose clock was never set sends (§1.3).
CLOCK_UNSET = datetime(1, 1, 1)


def date_time(moment: datetime | None) -> bytes:
    """Date Time, 7 bytes; ``None`` or ``CLOCK_UNSET`` send the all-zero date (§1.3)."""
    if moment is None or moment == CLOCK_UNSET:
        return bytes(7)
    return struct.pack("<HBBBBB", moment.year, moment.month, moment.day, moment.hour,
                       moment.minute, moment.second)


def current_time(moment: datetime | None, adjust_reason: int = 0) -> bytes:
    """Current Time 0x2A2B: Date Time, day of week (1 = Monday), Fractions256, reason (§7)."""
    if moment is None or moment == CLOCK_UNSET:
        return bytes(10)
    return date_time(moment) + bytes(
        [moment.isoweekday(), moment.microsecond * 256 // 1_000_000, adjust_reason]
    )


def parse_current_time(data: bytes) -> datetime | None:
    """The moment a client wrote into Current Time / Date Time (None when not a date)."""
    if len(data) < 7:
        return None
    year, month, day, hour, minute, second = struct.unpack_from("<HBBBBB", data)
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None


# Blood Pressure Measurement status bits (§2.1).
BP_BODY_MOVEMENT = 0x0001
BP_CUFF_LOOSE = 0x0002
BP_IRREGULAR_PULSE = 0x0004
BP_PULSE_ABOVE_RANGE = 0x0008
BP_IMPROPER_POSITION = 0x0020


@dataclass(frozen=True)
class BloodPressureRecord:
    systolic: Decimal | str | None
    diastolic: Decimal | str | None
    mean_arterial_pressure: Decimal | str | None
    pulse_rate: Decimal | str | None = None
    timestamp: datetime | None = None
    user_id: int | None = None
    status: int | None = None
    kpa: bool = False


def blood_pressure(record: BloodPressureRecord, *, intermediate: bool = False) -> bytes:
    """0x2A35 (or 0x2A36 with ``intermediate``: cuff pressure in the systolic slot, the
    two unused slots NaN as the GSS says) (§2.1, §2.2)."""
    flags = 0x01 if record.kpa else 0
    body = sfloat(record.systolic)
    if intermediate:
        body += sfloat(None) + sfloat(None)
    else:
        body += sfloat(record.diastolic) + sfloat(record.mean_arterial_pressure)
    if record.timestamp is not None:
        flags |= 0x02
        body += date_time(record.timestamp)
    if record.pulse_rate is not None:
        flags |= 0x04
        body += sfloat(record.pulse_rate)
    if record.user_id is not None:
        flags |= 0x08
        body += bytes([record.user_id])
    if record.status is not None:
        flags |= 0x10
        body += struct.pack("<H", record.status)
    return bytes([flags]) + body


@dataclass(frozen=True)
class TemperatureRecord:
    temperature: Decimal | str | None
    fahrenheit: bool = False
    timestamp: datetime | None = None
    temperature_type: int | None = None


def temperature(record: TemperatureRecord) -> bytes:
    """0x2A1C / 0x2A1E: flags, FLOAT, Date Time, type (§3.1)."""
    flags = 0x01 if record.fahrenheit else 0
    body = float32(record.temperature)
    if record.timestamp is not None:
        flags |= 0x02
        body += date_time(record.timestamp)
    if record.temperature_type is not None:
        flags |= 0x04
        body += bytes([record.temperature_type])
    return bytes([flags]) + body


@dataclass(frozen=True)
class WeightRecord:
    weight: Decimal | None
    """kg (or lb when ``imperial``); None sends 0xFFFF, "measurement unsuccessful"."""
    imperial: bool = False
    timestamp: datetime | None = None
    user_id: int | None = None
    bmi: Decimal | None = None
    height: Decimal | None = None
    """m (or in when ``imperial``)."""


def weight(record: WeightRecord) -> bytes:
    """0x2A9D: uint16 weight in 0.005 kg / 0.01 lb steps; BMI 0.1; height 0.001 m / 0.1 in
    (§4.1)."""
    flags = 0x01 if record.imperial else 0
    step = Decimal("0.01") if record.imperial else Decimal("0.005")
    raw = 0xFFFF if record.weight is None else int(Decimal(record.weight) / step)
    body = struct.pack("<H", raw)
    if record.timestamp is not None:
        flags |= 0x02
        body += date_time(record.timestamp)
    if record.user_id is not None:
        flags |= 0x04
        body += bytes([record.user_id])
    if record.bmi is not None and record.height is not None and record.weight is not None:
        flags |= 0x08
        height_step = Decimal("0.1") if record.imperial else Decimal("0.001")
        body += struct.pack("<HH", int(record.bmi / Decimal("0.1")),
                            int(record.height / height_step))
    return bytes([flags]) + body


# PLX status bits (§5.3, §5.4).
PLX_FROM_STORAGE = 1 << 9
PLX_QUESTIONABLE = 1 << 14
PLX_SENSOR_DISCONNECTED = 1 << 15  # device and sensor status
PLX_LOW_PERFUSION = 1 << 5  # device and sensor status


@dataclass(frozen=True)
class OximetryRecord:
    spo2: Decimal | str | None
    pulse_rate: Decimal | str | None
    timestamp: datetime | None = None
    measurement_status: int | None = None
    device_status: int | None = None
    pulse_amplitude_index: Decimal | None = None
    clock_not_set: bool = False
    extra: dict = field(default_factory=dict, compare=False)


def plx_spot_check(record: OximetryRecord) -> bytes:
    """0x2A5E (§5.1)."""
    flags = 0x10 if record.clock_not_set else 0
    body = sfloat(record.spo2) + sfloat(record.pulse_rate)
    if record.timestamp is not None:
        flags |= 0x01
        body += date_time(record.timestamp)
    if record.measurement_status is not None:
        flags |= 0x02
        body += struct.pack("<H", record.measurement_status)
    if record.device_status is not None:
        flags |= 0x04
        body += record.device_status.to_bytes(3, "little")
    if record.pulse_amplitude_index is not None:
        flags |= 0x08
        body += sfloat(record.pulse_amplitude_index)
    return bytes([flags]) + body


def plx_continuous(record: OximetryRecord) -> bytes:
    """0x2A5F, Normal pair only plus optional status fields (§5.2)."""
    flags = 0
    body = sfloat(record.spo2) + sfloat(record.pulse_rate)
    if record.measurement_status is not None:
        flags |= 0x04
        body += struct.pack("<H", record.measurement_status)
    if record.device_status is not None:
        flags |= 0x08
        body += record.device_status.to_bytes(3, "little")
    return bytes([flags]) + body


# Features (§2.3, §4.2, §5.5).
def blood_pressure_feature(bits: int) -> bytes:
    return struct.pack("<H", bits)


def weight_scale_feature(bits: int) -> bytes:
    return struct.pack("<I", bits)


def plx_features(supported: int, measurement_status: int | None = None,
                 device_status: int | None = None) -> bytes:
    body = struct.pack("<H", supported)
    if supported & 0x01:
        body += struct.pack("<H", measurement_status or 0)
    if supported & 0x02:
        body += (device_status or 0).to_bytes(3, "little")
    return body


# Record Access Control Point (§8).
RACP_REPORT = 1
RACP_DELETE = 2
RACP_ABORT = 3
RACP_REPORT_NUMBER = 4
RACP_ALL_RECORDS = 1
RACP_SUCCESS = 1
RACP_OP_NOT_SUPPORTED = 2
RACP_OPERATOR_NOT_SUPPORTED = 4
RACP_NO_RECORDS = 6


def racp_response(request_op: int, code: int) -> bytes:
    return bytes([6, 0, request_op, code])


def racp_count(count: int) -> bytes:
    return bytes([5, 0]) + struct.pack("<H", count)
