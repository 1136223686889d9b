"""Line settings and polling of each serial protocol, from the same sources as its driver.

(../shared/reference/serial-protocols.md: ESC scales 9600 8N1, host request ``ESC R ESC E``.)
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.serial.healthometer_esc import REQUEST_READING


@dataclass(frozen=True)
class SerialProfile:
    device_kind: str
    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1
    poll: bytes | None = None
    """Bytes that ask the device for a reading, sent every ``poll_interval`` (None: it pushes)."""


PROFILES: dict[str, SerialProfile] = {
    "healthometer-esc": SerialProfile("scale", 9600, poll=REQUEST_READING),
}


def profile(protocol: str) -> SerialProfile:
    try:
        return PROFILES[protocol]
    except KeyError:
        raise KeyError(f"no serial line profile for protocol {protocol!r}") from None
