"""Blood Pressure Measurement 0x2A35 and Intermediate Cuff Pressure 0x2A36.

Layout (BLS v1.1.1, GSS "Blood Pressure Measurement"; reference ble-gatt-health.md §2.1):
Flags uint8 (bit 0 unit kPa, 1 Time Stamp, 2 Pulse Rate, 3 User ID, 4 Measurement Status,
5-7 reserved) | Systolic, Diastolic, MAP (3 x SFLOAT) | Time Stamp (Date Time, 7) | Pulse Rate
(SFLOAT, /min) | User ID (uint8, 255 = unknown user) | Measurement Status (uint16).

0x2A36 has the same format; the systolic slot is the current cuff pressure and the diastolic and
MAP slots are unused (GSS: "set to NaN"; Nordic's tests send 0x0000), so their content is
ignored and they decode to None (reference §2.2).

Measurement Status -> ``flags`` (BLS v1.1.1 Measurement Status field; reference §2.1 table):

=======  ==================================  ==========================================
bits     meaning                             flags
=======  ==================================  ==========================================
0        body movement during measurement    ``body_movement``
1        cuff too loose                      ``cuff_loose``
2        irregular pulse detected            ``irregular_pulse``
3-4 = 1  pulse rate exceeds upper limit      ``pulse_out_of_range``
3-4 = 2  pulse rate below lower limit        ``pulse_out_of_range``, ``pulse_too_low``
3-4 = 3  reserved                            (none)
5        improper measurement position       ``improper_position``
6-15     reserved                            (none; kept in ``measurement_status``)
=======  ==================================  ==========================================

Reserved *status* bits are kept in the raw field and do not raise: they change no layout. Reserved
*flag* bits do raise, since they could announce fields we would misread.
"""

from __future__ import annotations

from drivers.ble._reader import Reader
from drivers.ble.decoded import Decoded
from drivers.ble.quirks import BEURER_BM_BYTE_ORDER
from drivers.measurements import BloodPressure

FLAG_KPA = 0x01
FLAG_TIME_STAMP = 0x02
FLAG_PULSE_RATE = 0x04
FLAG_USER_ID = 0x08
FLAG_STATUS = 0x10
_FLAGS_ALLOWED = 0x1F
_BEURER_FLAG_BIT6 = 0x40

STATUS_BODY_MOVEMENT = 0x0001
STATUS_CUFF_LOOSE = 0x0002
STATUS_IRREGULAR_PULSE = 0x0004
STATUS_PULSE_RANGE_MASK = 0x0018
STATUS_IMPROPER_POSITION = 0x0020


def status_flags(status: int) -> frozenset[str]:
    flags: set[str] = set()
    if status & STATUS_BODY_MOVEMENT:
        flags.add("body_movement")
    if status & STATUS_CUFF_LOOSE:
        flags.add("cuff_loose")
    if status & STATUS_IRREGULAR_PULSE:
        flags.add("irregular_pulse")
    pulse_range = (status & STATUS_PULSE_RANGE_MASK) >> 3
    if pulse_range == 1:
        flags.add("pulse_out_of_range")
    elif pulse_range == 2:
        flags |= {"pulse_out_of_range", "pulse_too_low"}
    if status & STATUS_IMPROPER_POSITION:
        flags.add("improper_position")
    return frozenset(flags)


def _decode(uuid: str, data: bytes, quirks: frozenset[str], intermediate: bool) -> Decoded:
    beurer = BEURER_BM_BYTE_ORDER in quirks and not intermediate
    r = Reader(uuid, data)
    allowed = _FLAGS_ALLOWED | (_BEURER_FLAG_BIT6 if beurer else 0)
    flags = r.flags("flags", 1, allowed)
    unit = "kPa" if flags & FLAG_KPA else "mm[Hg]"
    if intermediate:
        systolic = r.sfloat("current_cuff_pressure")
        if "current_cuff_pressure" in r.absent:
            r.absent["systolic"] = r.absent.pop("current_cuff_pressure")
        r.take("diastolic", 2)  # unused by 2A36, content ignored (GSS)
        r.take("mean_arterial_pressure", 2)
        diastolic = mean = None
    else:
        systolic = r.sfloat("systolic")
        diastolic = r.sfloat("diastolic")
        mean_offset = r.offset
        mean = r.sfloat("mean_arterial_pressure")
        if beurer and data[mean_offset:mean_offset + 2] == b"\x00\x00":
            mean = None
            r.absent["mean_arterial_pressure"] = "unsupported"
    timestamp = r.date_time("timestamp") if flags & FLAG_TIME_STAMP else None
    pulse_rate = r.sfloat("pulse_rate", big_endian=beurer) if flags & FLAG_PULSE_RATE else None
    user_id = r.u8("user_id") if flags & FLAG_USER_ID or beurer else None
    status = r.u16("measurement_status", big_endian=beurer) if flags & FLAG_STATUS else None
    r.end()
    value = BloodPressure(
        systolic=systolic,
        diastolic=diastolic,
        mean_arterial_pressure=mean,
        unit=unit,
        timestamp=timestamp,
        pulse_rate=pulse_rate,
        user_id=user_id,
        measurement_status=status,
        flags=status_flags(status) if status is not None else frozenset(),
        raw=data,
    )
    return Decoded.of(value, r.absent)


def decode_measurement(data: bytes, quirks: frozenset[str] = frozenset()) -> Decoded:
    return _decode("2A35", data, quirks, intermediate=False)


def decode_intermediate_cuff_pressure(
    data: bytes, quirks: frozenset[str] = frozenset()
) -> Decoded:
    return _decode("2A36", data, quirks, intermediate=True)
