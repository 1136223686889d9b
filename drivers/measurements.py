"""Measurement types that every driver returns, BLE or serial alike (DESIGN.md).

Numbers are ``Decimal`` where the device sends decimal digits or an SFLOAT/FLOAT (keeping
the device's precision) and ``int`` where it sends an integer. ``None`` means the device
sent no value or its own no-value marker, never a number. ``flags`` use the vocabulary of
``vitals.flags``. ``raw`` is the frame as received, for the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

Number = Decimal | int | float


@dataclass(frozen=True)
class BloodPressure:
    systolic: Number | None
    diastolic: Number | None
    mean_arterial_pressure: Number | None
    unit: str = "mm[Hg]"
    timestamp: datetime | None = None
    pulse_rate: Number | None = None
    user_id: int | None = None
    measurement_status: int | None = None
    flags: frozenset[str] = frozenset()
    raw: bytes = field(default=b"", compare=False, repr=False)


@dataclass(frozen=True)
class Temperature:
    temperature: Number | None
    unit: str = "Cel"
    timestamp: datetime | None = None
    temperature_type: int | None = None
    flags: frozenset[str] = frozenset()
    raw: bytes = field(default=b"", compare=False, repr=False)


@dataclass(frozen=True)
class Weight:
    weight: Number | None
    unit: str = "kg"
    timestamp: datetime | None = None
    user_id: int | None = None
    bmi: Number | None = None
    height: Number | None = None
    height_unit: str | None = None
    flags: frozenset[str] = frozenset()
    raw: bytes = field(default=b"", compare=False, repr=False)


@dataclass(frozen=True)
class PulseOximetry:
    spo2: Number | None
    pulse_rate: Number | None
    timestamp: datetime | None = None
    measurement_status: int | None = None
    device_and_sensor_status: int | None = None
    pulse_amplitude_index: Number | None = None
    flags: frozenset[str] = frozenset()
    raw: bytes = field(default=b"", compare=False, repr=False)


@dataclass(frozen=True)
class HeartRate:
    heart_rate: int | None
    rr_intervals: tuple[Decimal, ...] = ()
    energy_expended: int | None = None
    sensor_contact: bool | None = None
    flags: frozenset[str] = frozenset()
    raw: bytes = field(default=b"", compare=False, repr=False)


Measurement = BloodPressure | Temperature | Weight | PulseOximetry | HeartRate
