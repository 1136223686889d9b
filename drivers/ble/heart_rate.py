"""Heart Rate Measurement 0x2A37.

Layout (HRS v1.0, GSS "Heart Rate Measurement"; reference ble-gatt-health.md §6): Flags
uint8 (bit 0 HR is uint16, bits 1-2 Sensor Contact, 3 Energy Expended, 4 RR-Interval, 5-7
reserved) | Heart Rate (uint8 or uint16, /min) | Energy Expended (uint16, kJ) | RR-Interval
(one or more uint16, 1/1024 s).

Sensor Contact bits 1-2: 0 or 1 = not supported (``sensor_contact`` None), 2 = supported but
not detected (False, and flag ``sensor_off``), 3 = detected (True). RR-Intervals are exact
``Decimal`` seconds (raw / 1024 has a finite decimal expansion). With bit 4 set at least one
RR-Interval must follow, and what follows must be whole uint16 values.
"""

from __future__ import annotations

from decimal import Decimal

from drivers.ble._reader import Reader
from drivers.ble.decoded import Decoded
from drivers.measurements import HeartRate

FLAG_UINT16 = 0x01
FLAG_CONTACT_MASK = 0x06
FLAG_ENERGY = 0x08
FLAG_RR = 0x10
_FLAGS_ALLOWED = 0x1F

_RR_UNIT = Decimal(1024)


def decode_measurement(data: bytes) -> Decoded:
    r = Reader("2A37", data)
    flags = r.flags("flags", 1, _FLAGS_ALLOWED)
    heart_rate = r.u16("heart_rate") if flags & FLAG_UINT16 else r.u8("heart_rate")
    contact_bits = (flags & FLAG_CONTACT_MASK) >> 1
    sensor_contact = None if contact_bits < 2 else contact_bits == 3
    energy = r.u16("energy_expended") if flags & FLAG_ENERGY else None
    rr: list[Decimal] = []
    if flags & FLAG_RR:
        if r.left() == 0:
            raise r.error("rr_intervals", "flag bit 4 set but no RR-Interval follows")
        while r.left():
            rr.append(Decimal(r.u16(f"rr_intervals[{len(rr)}]")) / _RR_UNIT)
    r.end()
    value = HeartRate(
        heart_rate=heart_rate,
        rr_intervals=tuple(rr),
        energy_expended=energy,
        sensor_contact=sensor_contact,
        flags=frozenset({"sensor_off"}) if sensor_contact is False else frozenset(),
        raw=data,
    )
    return Decoded.of(value)
