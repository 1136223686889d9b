"""The one place that picks the bleak backend: every BleakScanner/BleakClient gets its
keyword arguments from here (shared/reference/ble-simulation.md §8).

``platform`` is bleak's own backend for the OS (BlueZ, CoreBluetooth, WinRT): no extra
arguments. ``bumble`` is the in-tree backend of ``simulators.ble`` on a bumble central that
reaches simulated devices through ``bumble_transport``; it is imported only when asked for.
"""

from __future__ import annotations

from typing import Any, Literal

from device_gateway.ble_config import BleSettings


def bleak_kwargs(settings: BleSettings, role: Literal["scanner", "client"]) -> dict[str, Any]:
    if settings.backend == "platform":
        return {}
    if settings.backend == "bumble":
        from simulators.ble.bleak_backend import BumbleClient, BumbleScanner

        backend = BumbleScanner if role == "scanner" else BumbleClient
        return {"backend": backend, "bumble_transport": settings.bumble_transport}
    raise ValueError(f"unknown BLE backend {settings.backend!r}")
