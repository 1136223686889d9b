"""Behaviours of real BLE health devices, as switches on a simulated peripheral.

Each comes from a documented real device (shared/reference/ble-gatt-health.md §11):
upload-then-disconnect (A&D UA-651BLE), a backlog re-sent on every connection (Beurer BM59
sends its last 10), a wrong or unset clock (Omron factory dates, PLX "clock not set"), bonding
required, ATT errors (Omron answers a Current Time write with 0x80), slow responses, and a
device that drops the link in the middle of a transfer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta


@dataclass(frozen=True)
class Scenario:
    name: str = "upload-disconnect"
    disconnect_after_upload: bool = True
    """Hang up once the stored records are confirmed (the normal end of a session)."""
    resend_all: bool = False
    """Send every stored record on every connection, not only the unsent ones."""
    clock_offset: timedelta = timedelta(0)
    clock_unset: bool = False
    bonding: bool = False
    """Refuse feature reads (Insufficient Encryption) and uploads on an unencrypted link."""
    time_write_error: int | None = None
    """ATT error code for writes to Current Time / Date Time (0x80: data field ignored)."""
    feature_read_error: int | None = None
    response_delay_s: float = 0.0
    """Delay before every read/write response and every indication."""
    vanish_after: int | None = None
    """Drop the link (once) after this many records of a transfer were confirmed."""
    errors: bool = False
    """Generated measurements include NaN/NRes values and error status bits."""


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(),
        Scenario("stay-connected", disconnect_after_upload=False),
        Scenario("backlog", resend_all=True),
        Scenario("clock-wrong", clock_offset=-timedelta(days=412, hours=3)),
        Scenario("clock-unset", clock_unset=True),
        Scenario("bonding", bonding=True),
        Scenario("att-errors", time_write_error=0x80, feature_read_error=0x0E),
        Scenario("slow", response_delay_s=0.3),
        Scenario("vanish", vanish_after=2),
        Scenario("errors", errors=True),
    )
}


def scenario(name: str, **changes) -> Scenario:
    try:
        base = SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown BLE scenario {name!r}; one of {', '.join(SCENARIOS)}") from None
    return replace(base, **changes) if changes else base
