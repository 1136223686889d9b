"""The one vocabulary of reading flags shared by drivers, gateway and dashboard.

Every flag a device can raise (status bits, exception codes, no-value markers) is named
here once. A driver maps its device's bits onto these names; a new name is added here,
never invented in a driver (DESIGN.md, "flags").
"""

from __future__ import annotations

FLAGS: frozenset[str] = frozenset(
    {
        # Scales (SMA SCP-0499 status/motion, Toledo SWB, ESC 999.9 overload)
        "motion",
        "center_of_zero",
        "overload",
        "underload",
        "zero_error",
        "tare_error",
        # Oximeters (Nonin status byte, Contec, Masimo EXC codes, PLX status)
        "sensor_off",
        "sensor_alarm",
        "probe_error",
        "searching",
        "artifact",
        "out_of_track",
        "low_perfusion",
        "marginal_perfusion",
        "low_signal",
        "smart_point",
        # Device-wide
        "low_battery",
        "device_clock_not_set",
        "measurement_unsuccessful",
        "device_error",
        # Blood pressure measurement status (Bluetooth BLS 2A35 bits 0-5)
        "body_movement",
        "cuff_loose",
        "irregular_pulse",
        "pulse_out_of_range",
        "pulse_too_low",
        "improper_position",
    }
)


class UnknownFlagError(ValueError):
    """A flag name that is not in the shared vocabulary."""


def check_flags(flags: frozenset[str] | set[str] | tuple[str, ...]) -> frozenset[str]:
    """Return ``flags`` as a frozenset, refusing any name outside the vocabulary."""
    result = frozenset(flags)
    unknown = result - FLAGS
    if unknown:
        raise UnknownFlagError(f"unknown flag(s) {sorted(unknown)}; add them to vitals.flags.FLAGS")
    return result
