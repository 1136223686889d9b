"""A BLE device's configuration entry (``transport = "ble"``): checks and typed settings.

Example (reference: README "Bluetooth devices")::

    [[devices]]
    id = "exam-1-cuff"
    room = "exam-1"
    transport = "ble"
    protocol = "blood-pressure"      # blood-pressure | health-thermometer | weight-scale |
                                     # pulse-oximeter
    address = "C0:00:00:00:00:01"    # or name = "UA-651BLE" (advertised name), or neither:
                                     # then the first device advertising the profile's service
    backend = "platform"             # bleak on BlueZ / CoreBluetooth / WinRT (default), or
                                     # "bumble" with bumble_transport = "tcp-client:127.0.0.1:9100"
    bonding = true                   # pair when connecting (also done on Insufficient Encryption)
    quirks = ["beurer-bm-byte-order"]
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from drivers.ble.quirks import QUIRKS


@dataclass(frozen=True)
class BleProfile:
    service: int
    record: int
    """The indicated characteristic that carries finished (and stored) measurements."""
    live: tuple[int, ...] = ()
    """Notified characteristics with streaming values (live topic only)."""
    feature: int | None = None
    """A readable characteristic read on connect (it also tells whether bonding is needed)."""


# Bluetooth SIG profiles (shared/reference/ble-gatt-health.md §2-§5).
PROFILES: dict[str, BleProfile] = {
    "blood-pressure": BleProfile(0x1810, 0x2A35, (0x2A36,), 0x2A49),
    "health-thermometer": BleProfile(0x1809, 0x2A1C, (0x2A1E,), 0x2A1D),
    "weight-scale": BleProfile(0x181D, 0x2A9D, (), 0x2A9E),
    "pulse-oximeter": BleProfile(0x1822, 0x2A5E, (0x2A5F,), 0x2A60),
}

BACKENDS = ("platform", "bumble")
# bumble transports that reach a controller served by `roomvitals simulate --ble` (or the
# in-process radio of the tests, "local").
BUMBLE_TRANSPORTS = ("local", "tcp-client:", "unix-client:", "ws-client:")

_MAC = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")
_UUID = re.compile(r"^[0-9A-Fa-f]{8}-([0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}$")  # macOS ids

_COMMON = {"id", "room", "protocol", "transport", "port", "model", "serial", "baudrate",
           "poll_interval"}
_NUMBERS = {
    "scan_timeout": (0.1, 600.0),
    "connect_timeout": (0.5, 120.0),
    "reconnect_min_s": (0.01, 600.0),
    "reconnect_max_s": (0.01, 3600.0),
    "racp_timeout": (0.5, 600.0),
    "clock_tolerance_s": (0.0, 86400.0),
}
_BOOLS = {"bonding", "set_clock", "racp"}
_STRINGS = {"address", "name", "backend", "bumble_transport"}
_KNOWN = _COMMON | set(_NUMBERS) | _BOOLS | _STRINGS | {"quirks"}


@dataclass(frozen=True)
class BleSettings:
    profile: BleProfile
    address: str = ""
    name: str = ""
    backend: str = "platform"
    bumble_transport: str = ""
    bonding: bool = False
    quirks: frozenset[str] = frozenset()
    set_clock: bool = True
    racp: bool = True
    scan_timeout: float = 10.0
    connect_timeout: float = 20.0
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 60.0
    racp_timeout: float = 30.0
    clock_tolerance_s: float = 60.0
    """Set the device clock only when it is off by more than this (or not set at all)."""

    @classmethod
    def of(cls, protocol: str, options: dict) -> BleSettings:
        """From a checked entry's protocol and ``DeviceConfig.options``."""
        values = {k: options[k] for k in _NUMBERS.keys() | _BOOLS | _STRINGS if k in options}
        for key in _NUMBERS:
            if key in values:
                values[key] = float(values[key])
        return cls(PROFILES[protocol], quirks=frozenset(options.get("quirks", ())), **values)


def check_ble_device(where: str, data: dict) -> None:
    """Refuse a BLE entry that could not work, saying which key is wrong and why."""
    from device_gateway.config import ConfigError

    protocol = data.get("protocol")
    if protocol not in PROFILES:
        raise ConfigError(
            f"{where}protocol {protocol!r} is not a BLE profile; one of {', '.join(PROFILES)}"
        )
    unknown = sorted(set(data) - _KNOWN)
    if unknown:
        raise ConfigError(f"{where}unknown key(s) for a BLE device: {', '.join(unknown)}")
    for key in _STRINGS:
        if key in data and not isinstance(data[key], str):
            raise ConfigError(f"{where}{key} must be a string")
    address = data.get("address", "")
    if address and not (_MAC.match(address) or _UUID.match(address)):
        raise ConfigError(
            f"{where}address {address!r} is not a Bluetooth address (AA:BB:CC:DD:EE:FF) "
            "or a macOS device UUID"
        )
    backend = data.get("backend", "platform")
    if backend not in BACKENDS:
        raise ConfigError(f"{where}backend {backend!r} is not one of {', '.join(BACKENDS)}")
    transport = data.get("bumble_transport", "")
    if backend == "bumble":
        if not transport:
            raise ConfigError(
                f"{where}bumble_transport is required with backend 'bumble' "
                "(e.g. tcp-client:127.0.0.1:9100 or unix-client:/path/to/socket)"
            )
        if not transport.startswith(BUMBLE_TRANSPORTS):
            raise ConfigError(
                f"{where}bumble_transport {transport!r} must start with one of "
                f"{', '.join(BUMBLE_TRANSPORTS)}"
            )
    elif transport:
        raise ConfigError(f"{where}bumble_transport is only used with backend 'bumble'")
    for key in _BOOLS:
        if key in data and not isinstance(data[key], bool):
            raise ConfigError(f"{where}{key} must be true or false")
    for key, (low, high) in _NUMBERS.items():
        if key not in data:
            continue
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not (
            low <= value <= high
        ):
            raise ConfigError(f"{where}{key} must be a number of seconds in {low}..{high}")
    quirks = data.get("quirks", [])
    if not isinstance(quirks, list) or not all(isinstance(q, str) for q in quirks):
        raise ConfigError(f"{where}quirks must be a list of quirk names")
    bad = sorted(set(quirks) - QUIRKS.keys())
    if bad:
        raise ConfigError(
            f"{where}unknown quirk(s) {', '.join(bad)}; known: {', '.join(sorted(QUIRKS))}"
        )
