"""Driver measurements -> contract observations, and which measurements are patient readings.

This is the one place that knows both the driver types and the contract's kinds and codes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from drivers.measurements import (
    BloodPressure,
    HeartRate,
    Measurement,
    PulseOximetry,
    Temperature,
    Weight,
)
from vitals.kinds import MDC_PULS_OXIM_PULS_RATE, kind
from vitals.message import Observation

DEVICE_KIND = {
    Weight: "scale",
    BloodPressure: "bp_monitor",
    Temperature: "thermometer",
    PulseOximetry: "pulse_oximeter",
    HeartRate: "heart_rate_monitor",
}

# Flags that mean the device itself says the number is not a measurement of the patient.
_NOT_A_READING = frozenset(
    {
        "motion",
        "overload",
        "underload",
        "zero_error",
        "tare_error",
        "sensor_off",
        "probe_error",
        "searching",
        "measurement_unsuccessful",
        "device_error",
    }
)


@dataclass(frozen=True)
class Verdict:
    is_reading: bool
    reason: str = ""
    device_error: bool = False
    """The device reported a fault (overload, probe error...), worth showing on its status."""


# The data-absent-reason codes the reading schema allows; any other reason is sent as "unknown".
ABSENT_REASONS = frozenset(
    {"not-a-number", "error", "positive-infinity", "negative-infinity", "unknown"}
)


def observations(
    measurement: Measurement, absent_reasons: Mapping[str, str] | None = None
) -> tuple[Observation, ...]:
    """The observations a measurement carries; fields the device did not send are left out.

    ``absent_reasons`` (field -> FHIR data-absent-reason, from ``drivers.ble.decode_detailed``)
    says why a value is None, e.g. ``not-a-number`` for an IEEE 11073 NaN.
    """
    reasons = absent_reasons or {}
    items: list[tuple[str, object, str, int | None]] = []
    match measurement:
        case Weight():
            items.append(("weight", measurement.weight, measurement.unit, None))
            if measurement.height is not None:
                items.append(("height", measurement.height, measurement.height_unit or "", None))
            if measurement.bmi is not None:
                items.append(("bmi", measurement.bmi, "kg/m2", None))
        case BloodPressure():
            items += [
                ("systolic", measurement.systolic, measurement.unit, None),
                ("diastolic", measurement.diastolic, measurement.unit, None),
            ]
            if measurement.mean_arterial_pressure is not None:
                items.append(
                    (
                        "mean_arterial_pressure",
                        measurement.mean_arterial_pressure,
                        measurement.unit,
                        None,
                    )
                )
            if measurement.pulse_rate is not None:
                items.append(("pulse_rate", measurement.pulse_rate, "/min", None))
        case Temperature():
            items.append(("temperature", measurement.temperature, measurement.unit, None))
        case PulseOximetry():
            items.append(("spo2", measurement.spo2, "%", None))
            items.append(("pulse_rate", measurement.pulse_rate, "/min", MDC_PULS_OXIM_PULS_RATE))
        case HeartRate():
            items.append(("pulse_rate", measurement.heart_rate, "/min", 147842))
    result = []
    for name, value, unit, mdc in items:
        spec = kind(name)
        number = None if value is None else Decimal(str(value))
        result.append(
            Observation(
                kind=name,
                value=number,
                unit=unit,
                mdc=mdc or spec.mdc,
                loinc=spec.loinc,
                absent_reason=None if number is not None else _reason(reasons.get(name)),
            )
        )
    return tuple(result)


def _reason(reason: str | None) -> str:
    return reason if reason in ABSENT_REASONS else "unknown"


def verdict(measurement: Measurement, obs: tuple[Observation, ...] | None = None) -> Verdict:
    """Whether a measurement becomes a patient reading, or only a device event.

    Scales report zero, motion and overload as they happen; a chart wants only a stable
    weight of somebody standing on the platform (serial-protocols.md, "Implementation notes").
    """
    blocking = measurement.flags & _NOT_A_READING
    if blocking:
        return Verdict(
            False,
            "device reports " + ", ".join(sorted(blocking)),
            device_error=bool(blocking - {"motion", "searching"}),
        )
    if obs is None:
        obs = observations(measurement)
    if all(o.value is None for o in obs):
        return Verdict(False, "no value")
    if isinstance(measurement, Weight) and (measurement.weight is None or measurement.weight <= 0):
        return Verdict(False, "empty platform")
    return Verdict(True)
