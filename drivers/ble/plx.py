"""PLX Spot-Check Measurement 0x2A5E and PLX Continuous Measurement 0x2A5F (PLXS v1.0.1).

Spot-check (PLXS v1.0.1, GSS "PLX Spot-Check Measurement"; reference ble-gatt-health.md §5.1):
Flags uint8 (bit 0 Timestamp, 1 Measurement Status, 2 Device and Sensor Status, 3 Pulse
Amplitude Index, 4 Device Clock is Not Set, 5-7 reserved) | SpO2 SFLOAT | PR SFLOAT | Timestamp
(Date Time, 7) | Measurement Status uint16 | Device and Sensor Status uint24 | PAI SFLOAT.

Continuous (PLXS v1.0.1, GSS "PLX Continuous Measurement"; reference §5.2): Flags uint8 (bit 0
SpO2PR-Fast, 1 SpO2PR-Slow, 2 Measurement Status, 3 Device and Sensor Status, 4 PAI, 5-7
reserved) | SpO2PR-Normal (SpO2, PR) | SpO2PR-Fast | SpO2PR-Slow | Measurement Status | Device
and Sensor Status | PAI. The Normal pair goes to ``spo2``/``pulse_rate``; Fast and Slow are in
``Decoded.extra``.

Status bits -> ``flags`` (bit maps: PLXS v1.0.1 Measurement Status and Device and Sensor Status
fields, reference §5.3/§5.4).
Bits with no clinical-quality meaning (measurement ongoing, early estimate, validated, fully
qualified, from storage, extended display update, signal analysis... see below) set no flag;
every bit stays in the raw ``measurement_status`` / ``device_and_sensor_status`` int.

Measurement Status (uint16):

===  ======================================  ============================
bit  meaning                                 flag
===  ======================================  ============================
13   Measurement Unavailable                 ``measurement_unsuccessful``
14   Questionable Measurement Detected       ``artifact``
15   Invalid Measurement Detected            ``measurement_unsuccessful``
===  ======================================  ============================

(5 ongoing, 6 early estimated, 7 validated, 8 fully qualified, 9 from storage, 10 demonstration,
11 testing, 12 calibration ongoing: no flag. 10 and 11 must keep a reading off a patient record;
the vocabulary has no name for them yet, so the gateway reads the raw bits.)

Device and Sensor Status (uint24):

===  ======================================  ============================
bit  meaning                                 flag
===  ======================================  ============================
1    Equipment Malfunction Detected          ``device_error``
2    Signal Processing Irregularity          ``artifact``
3    Inadequate Signal Detected              ``low_signal``
4    Poor Signal Detected                    ``low_signal``
5    Low Perfusion Detected                  ``low_perfusion``
6    Erratic Signal Detected                 ``artifact``
7    Nonpulsatile Signal Detected            ``out_of_track`` (no pulse being tracked)
8    Questionable Pulse Detected             ``artifact``
9    Signal Analysis Ongoing                 ``searching``
10   Sensor Interference Detected            ``artifact``
11   Sensor Unconnected to User              ``sensor_off``
12   Unknown Sensor Connected                ``probe_error``
13   Sensor Displaced                        ``sensor_alarm``
14   Sensor Malfunctioning                   ``probe_error``
15   Sensor Disconnected                     ``sensor_off``
===  ======================================  ============================

(0 extended display update ongoing: no flag.) Spot-check flag bit 4 (Device Clock is Not Set)
sets ``device_clock_not_set``; the timestamp is still reported as the device sent it.
Reserved status bits (measurement status 0-4, device status 16-23) are kept raw, never raised.
"""

from __future__ import annotations

from decimal import Decimal

from drivers.ble._reader import Reader
from drivers.ble.decoded import Decoded
from drivers.measurements import PulseOximetry

SPOT_TIMESTAMP = 0x01
SPOT_MEASUREMENT_STATUS = 0x02
SPOT_DEVICE_STATUS = 0x04
SPOT_PAI = 0x08
SPOT_CLOCK_NOT_SET = 0x10
_SPOT_ALLOWED = 0x1F

CONT_FAST = 0x01
CONT_SLOW = 0x02
CONT_MEASUREMENT_STATUS = 0x04
CONT_DEVICE_STATUS = 0x08
CONT_PAI = 0x10
_CONT_ALLOWED = 0x1F

MEASUREMENT_STATUS_FLAGS: dict[int, str] = {
    13: "measurement_unsuccessful",
    14: "artifact",
    15: "measurement_unsuccessful",
}

DEVICE_STATUS_FLAGS: dict[int, str] = {
    1: "device_error",
    2: "artifact",
    3: "low_signal",
    4: "low_signal",
    5: "low_perfusion",
    6: "artifact",
    7: "out_of_track",
    8: "artifact",
    9: "searching",
    10: "artifact",
    11: "sensor_off",
    12: "probe_error",
    13: "sensor_alarm",
    14: "probe_error",
    15: "sensor_off",
}


def status_flags(measurement_status: int | None, device_status: int | None) -> frozenset[str]:
    flags: set[str] = set()
    for status, table in (
        (measurement_status, MEASUREMENT_STATUS_FLAGS),
        (device_status, DEVICE_STATUS_FLAGS),
    ):
        if status is None:
            continue
        flags.update(name for bit, name in table.items() if status >> bit & 1)
    return frozenset(flags)


def decode_spot_check(data: bytes) -> Decoded:
    r = Reader("2A5E", data)
    flags = r.flags("flags", 1, _SPOT_ALLOWED)
    spo2 = r.sfloat("spo2")
    pulse_rate = r.sfloat("pulse_rate")
    timestamp = r.date_time("timestamp") if flags & SPOT_TIMESTAMP else None
    status = r.u16("measurement_status") if flags & SPOT_MEASUREMENT_STATUS else None
    device = r.u24("device_and_sensor_status") if flags & SPOT_DEVICE_STATUS else None
    pai = r.sfloat("pulse_amplitude_index") if flags & SPOT_PAI else None
    r.end()
    names = set(status_flags(status, device))
    if flags & SPOT_CLOCK_NOT_SET:
        names.add("device_clock_not_set")
    value = PulseOximetry(
        spo2=spo2,
        pulse_rate=pulse_rate,
        timestamp=timestamp,
        measurement_status=status,
        device_and_sensor_status=device,
        pulse_amplitude_index=pai,
        flags=frozenset(names),
        raw=data,
    )
    return Decoded.of(value, r.absent)


def decode_continuous(data: bytes) -> Decoded:
    r = Reader("2A5F", data)
    flags = r.flags("flags", 1, _CONT_ALLOWED)
    spo2 = r.sfloat("spo2")
    pulse_rate = r.sfloat("pulse_rate")
    extra: dict[str, Decimal | None] = {}
    if flags & CONT_FAST:
        extra["spo2_fast"] = r.sfloat("spo2_fast")
        extra["pulse_rate_fast"] = r.sfloat("pulse_rate_fast")
    if flags & CONT_SLOW:
        extra["spo2_slow"] = r.sfloat("spo2_slow")
        extra["pulse_rate_slow"] = r.sfloat("pulse_rate_slow")
    status = r.u16("measurement_status") if flags & CONT_MEASUREMENT_STATUS else None
    device = r.u24("device_and_sensor_status") if flags & CONT_DEVICE_STATUS else None
    pai = r.sfloat("pulse_amplitude_index") if flags & CONT_PAI else None
    r.end()
    value = PulseOximetry(
        spo2=spo2,
        pulse_rate=pulse_rate,
        measurement_status=status,
        device_and_sensor_status=device,
        pulse_amplitude_index=pai,
        flags=status_flags(status, device),
        raw=data,
    )
    return Decoded.of(value, r.absent, extra)
