"""The bleak internals the in-tree bumble backend relies on (ble-simulation.md §5.3).

bleak declares its backend API unstable. If an upgrade changes any of these, this fails with
the name of what moved, before anything subtler breaks.
"""

from __future__ import annotations

import inspect

import bleak
from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakGATTProtocolError

from simulators.ble.bleak_backend import BumbleClient, BumbleScanner


def params(fn) -> list[str]:
    return list(inspect.signature(fn).parameters)


def test_bleak_version_is_the_tested_one():
    from importlib.metadata import version

    assert version("bleak").startswith("3.1."), "re-run the BLE tests and update the pin"
    assert version("bumble") == "0.0.236", "re-run the BLE tests and update the pin"


def test_front_ends_take_a_backend_class_and_pass_extra_kwargs():
    assert "backend" in params(BleakClient.__init__) and "kwargs" in params(BleakClient.__init__)
    assert "backend" in params(BleakScanner.__init__)
    assert "kwargs" in params(BleakScanner.__init__)
    client = BleakClient("C0:00:00:00:00:01", backend=BumbleClient, bumble_transport="local")
    assert client.backend_id == "BumbleClient"
    scanner = BleakScanner(backend=BumbleScanner, bumble_transport="local")
    assert scanner.backend_id == "BumbleScanner"
    assert "kwargs" in params(BleakScanner.find_device_by_filter)


def test_abstract_methods_are_all_implemented():
    for backend, base in ((BumbleClient, BaseBleakClient), (BumbleScanner, BaseBleakScanner)):
        missing = [name for name in base.__abstractmethods__ if name in backend.__abstractmethods__]
        assert not missing and not backend.__abstractmethods__, missing
    assert params(BaseBleakClient.connect)[:2] == ["self", "pair"]
    assert "disconnected_callback" in params(BaseBleakClient.__init__)


def test_gatt_object_constructors():
    assert params(BleakGATTService.__init__) == ["self", "obj", "handle", "uuid"]
    assert params(BleakGATTCharacteristic.__init__) == [
        "self", "obj", "handle", "uuid", "properties", "max_write_without_response_size",
        "service"]
    assert params(BleakGATTDescriptor.__init__) == [
        "self", "obj", "handle", "uuid", "characteristic"]
    for name in ("add_service", "add_characteristic", "add_descriptor", "get_characteristic"):
        assert hasattr(BleakGATTServiceCollection, name), name
    assert params(BLEDevice.__init__)[:4] == ["self", "address", "name", "details"]


def test_scanner_helpers_and_advertisement_fields():
    for name in ("seen_devices", "create_or_update_device", "call_detection_callbacks",
                 "is_allowed_uuid"):
        assert hasattr(BaseBleakScanner, name) or name in BaseBleakScanner.__annotations__, name
    assert AdvertisementData._fields == (
        "local_name", "manufacturer_data", "service_data", "service_uuids", "tx_power", "rssi",
        "platform_data")


def test_errors():
    error = BleakGATTProtocolError(0x0F)
    assert error.args[0] == 0x0F and isinstance(error, bleak.exc.BleakError)
    assert BleakDeviceNotFoundError("C0:00:00:00:00:01", "gone").identifier == (
        "C0:00:00:00:00:01")
