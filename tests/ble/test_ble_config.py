"""BLE device entries of the gateway configuration: what is refused, and why."""

from __future__ import annotations

import pytest

from device_gateway.ble_backend import bleak_kwargs
from device_gateway.ble_config import BleSettings
from device_gateway.config import ConfigError, parse_config


def config(**device):
    return parse_config({
        "site": "s", "gateway_id": "g", "broker": {"url": "mqtt://127.0.0.1:1883"},
        "devices": [{"id": "d", "room": "r", "transport": "ble", **device}],
    })


def test_a_good_entry():
    [device] = config(protocol="blood-pressure", address="C0:00:00:00:00:01", bonding=True,
                      backend="bumble", bumble_transport="tcp-client:127.0.0.1:9100",
                      quirks=["beurer-bm-byte-order"]).devices
    settings = BleSettings.of(device.protocol, device.options)
    assert settings.profile.service == 0x1810 and settings.bonding
    assert bleak_kwargs(settings, "client")["bumble_transport"] == "tcp-client:127.0.0.1:9100"
    assert bleak_kwargs(BleSettings.of("weight-scale", {}), "scanner") == {}


@pytest.mark.parametrize(("entry", "message"), [
    ({"protocol": "healthometer-esc"}, "not a BLE profile"),
    ({"protocol": "weight-scale", "address": "nope"}, "not a Bluetooth address"),
    ({"protocol": "weight-scale", "backend": "bluez"}, "backend 'bluez'"),
    ({"protocol": "weight-scale", "backend": "bumble"}, "bumble_transport is required"),
    ({"protocol": "weight-scale", "backend": "bumble", "bumble_transport": "usb:0"},
     "must start with"),
    ({"protocol": "weight-scale", "quirks": ["fast"]}, "unknown quirk"),
    ({"protocol": "weight-scale", "bonding": "yes"}, "true or false"),
    ({"protocol": "weight-scale", "scan_timeout": -1}, "scan_timeout"),
    ({"protocol": "weight-scale", "adress": "C0:00:00:00:00:01"}, "unknown key(s)"),
])
def test_bad_entries_say_what_is_wrong(entry, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        config(**entry)
