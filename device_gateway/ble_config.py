"""Checks of a BLE device's configuration entry (``transport = "ble"``)."""

from __future__ import annotations


def check_ble_device(where: str, data: dict) -> None:
    from device_gateway.config import ConfigError

    raise ConfigError(f"{where}transport 'ble' is not supported by this gateway yet")
