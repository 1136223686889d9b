"""One link per configured device, by transport; every link reports through the same calls.

A link calls ``on_measurement(device, measurement)`` for a finished measurement,
``on_live(device, measurement)`` for a streaming value (live view only), and
``on_status(device, state, error)`` when its connection changes, and
``on_detail(device, **fields)`` for what it learns of the device (e.g. ``battery`` percent).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from device_gateway.config import DeviceConfig
from drivers.measurements import Measurement

OnMeasurement = Callable[[DeviceConfig, Measurement], None]
OnStatus = Callable[[DeviceConfig, str, str], None]


class Link(Protocol):
    device: DeviceConfig

    def start(self) -> None: ...

    def stop(self) -> None: ...


def make_link(
    device: DeviceConfig,
    on_measurement: OnMeasurement,
    on_live: OnMeasurement,
    on_status: OnStatus,
    on_detail: Callable[..., None] | None = None,
) -> Link:
    if device.transport == "serial":
        from device_gateway.serial_link import SerialLink

        return SerialLink(device, on_measurement, on_status, on_live=on_live)
    if device.transport == "ble":
        from device_gateway.ble_link import BleLink

        return BleLink(device, on_measurement, on_status, on_live=on_live, on_detail=on_detail)
    raise ValueError(f"device {device.id}: unknown transport {device.transport!r}")
