"""A bleak backend (client and scanner) on a bumble central: bleak's own API, no radio.

Selected with ``backend=BumbleClient`` / ``backend=BumbleScanner`` (bleak 3.1 passes extra
keyword arguments through to the backend, which is how ``bumble_transport`` arrives). Only
``device_gateway.ble_backend`` makes that choice. bleak declares its backend API unstable
(https://bleak.readthedocs.io/en/latest/backends/index.html): what this module relies on is
listed in tests/ble/test_bleak_contract.py, which fails loudly when an upgrade breaks it.
"""

from __future__ import annotations

import logging
import uuid as uuid_module
from typing import Any

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bumble import core
from bumble.att import ATT_Error
from bumble.device import Advertisement, Connection, Peer
from bumble.hci import Address

from simulators.ble.central import LOCAL, central_for

log = logging.getLogger(__name__)

_PROPERTY_NAMES = (
    (0x01, "broadcast"),
    (0x02, "read"),
    (0x04, "write-without-response"),
    (0x08, "write"),
    (0x10, "notify"),
    (0x20, "indicate"),
    (0x40, "authenticated-signed-writes"),
    (0x80, "extended-properties"),
)


def uuid_text(value: core.UUID) -> str:
    """bumble UUID -> the lower-case 128-bit string bleak uses everywhere."""
    return str(uuid_module.UUID(bytes=bytes(reversed(value.to_bytes(force_128=True)))))


def _address(text: str) -> Address:
    return Address(text, Address.RANDOM_DEVICE_ADDRESS)


def advertisement_data(advertisement: Advertisement) -> tuple[str | None, AdvertisementData]:
    """Parse the raw AD structures (Core Supplement Part A) into bleak's AdvertisementData."""
    name: str | None = None
    uuids: list[str] = []
    service_data: dict[str, bytes] = {}
    manufacturer: dict[int, bytes] = {}
    tx_power: int | None = None
    for ad_type, value in advertisement.data.ad_structures:
        kind = int(ad_type)
        if kind in (0x08, 0x09):
            name = value.decode("utf-8", "replace")
        elif kind in (0x02, 0x03):
            uuids += [uuid_text(core.UUID.from_bytes(value[i:i + 2]))
                      for i in range(0, len(value) - 1, 2)]
        elif kind in (0x06, 0x07):
            uuids += [uuid_text(core.UUID.from_bytes(value[i:i + 16]))
                      for i in range(0, len(value) - 15, 16)]
        elif kind == 0x16 and len(value) >= 2:
            service_data[uuid_text(core.UUID.from_bytes(value[:2]))] = bytes(value[2:])
        elif kind == 0xFF and len(value) >= 2:
            manufacturer[int.from_bytes(value[:2], "little")] = bytes(value[2:])
        elif kind == 0x0A and value:
            tx_power = int.from_bytes(value[:1], "little", signed=True)
    # The virtual controller reports every advertisement a second time as a scan response
    # (ble-simulation.md §6, finding 4): keep each UUID once.
    uuids = list(dict.fromkeys(uuids))
    data = AdvertisementData(
        local_name=name,
        manufacturer_data=manufacturer,
        service_data=service_data,
        service_uuids=uuids,
        tx_power=tx_power,
        rssi=advertisement.rssi,
        platform_data=(advertisement,),
    )
    return name, data


class BumbleScanner(BaseBleakScanner):
    def __init__(
        self,
        detection_callback=None,
        service_uuids: list[str] | None = None,
        scanning_mode: str = "active",
        *,
        bumble_transport: str = LOCAL,
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._spec = bumble_transport
        self._central = None

    async def start(self) -> None:
        self.seen_devices = {}
        try:
            self._central = await central_for(self._spec)
            await self._central.add_listener(self._on_advertisement)
        except core.BaseBumbleError as exc:  # e.g. the simulator process went away
            raise BleakError(f"bumble central on {self._spec}: {exc!r}") from exc

    async def stop(self) -> None:
        central, self._central = self._central, None
        if central is not None:
            try:
                await central.remove_listener(self._on_advertisement)
            except core.BaseBumbleError as exc:
                raise BleakError(f"bumble central on {self._spec}: {exc!r}") from exc

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        name, data = advertisement_data(advertisement)
        if not self.is_allowed_uuid(data.service_uuids):
            return
        address = advertisement.address.to_string(False)
        device = self.create_or_update_device(address, address, name, advertisement, data)
        self.call_detection_callbacks(device, data)


class BumbleClient(BaseBleakClient):
    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback=None,
        timeout: float = 10.0,
        bumble_transport: str = LOCAL,
        mtu: int = 247,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout
        )
        self._spec = bumble_transport
        self._wanted_mtu = mtu
        self._mtu = 23
        self._name = (
            address_or_ble_device.name or address_or_ble_device.address
            if isinstance(address_or_ble_device, BLEDevice)
            else address_or_ble_device
        )
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._closing = False

    @property
    def name(self) -> str:
        return self._name

    @property
    def mtu_size(self) -> int:
        return self._mtu

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        central = await central_for(self._spec)
        # The controller takes one Create Connection at a time.
        async with central.connect_lock:
            try:
                connection = await central.device.connect(
                    _address(self.address), timeout=self._timeout
                )
            except core.TimeoutError:
                raise BleakDeviceNotFoundError(
                    self.address, f"device {self.address} was not found"
                ) from None
            except core.BaseBumbleError as exc:
                raise BleakError(f"connect to {self.address} failed: {exc}") from exc
        self._connection = connection
        self._closing = False
        connection.on(Connection.EVENT_DISCONNECTION, self._on_disconnection)
        self._peer = Peer(connection)
        try:
            if pair:
                await self.pair()
            self._mtu = await self._peer.request_mtu(self._wanted_mtu)
            self.services = await self._discover()
        except ATT_Error as exc:
            await self.disconnect()
            raise BleakGATTProtocolError(exc.error_code) from exc
        except (TimeoutError, core.BaseBumbleError) as exc:
            await self.disconnect()
            raise BleakError(f"connect to {self.address}: {exc!r}") from exc

    async def _discover(self) -> BleakGATTServiceCollection:
        assert self._peer is not None
        collection = BleakGATTServiceCollection()
        for service in await self._peer.discover_services():
            bleak_service = BleakGATTService(service, service.handle, uuid_text(service.uuid))
            collection.add_service(bleak_service)
            for char in await service.discover_characteristics():
                properties = [name for bit, name in _PROPERTY_NAMES if char.properties & bit]
                bleak_char = BleakGATTCharacteristic(
                    char, char.handle, uuid_text(char.uuid), properties,
                    lambda: self._mtu - 3, bleak_service,
                )
                collection.add_characteristic(bleak_char)
                for descriptor in await char.discover_descriptors():
                    collection.add_descriptor(BleakGATTDescriptor(
                        descriptor, descriptor.handle, uuid_text(descriptor.type), bleak_char
                    ))
        return collection

    def _on_disconnection(self, reason: int) -> None:
        solicited = self._closing
        self._connection = None
        self._peer = None
        if not solicited and self._disconnected_callback is not None:
            self._disconnected_callback()

    async def disconnect(self) -> None:
        connection = self._connection
        if connection is None:
            return
        self._closing = True
        try:
            await connection.disconnect()
        except core.BaseBumbleError as exc:
            log.debug("disconnect from %s: %s", self.address, exc)
        self._connection = None
        self._peer = None

    def _require(self) -> tuple[Connection, Peer]:
        if self._connection is None or self._peer is None:
            raise BleakError("Not connected")
        return self._connection, self._peer

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        connection, _ = self._require()
        device = connection.device
        keys = await device.keystore.get(str(connection.peer_address)) if device.keystore else None
        try:
            if keys is not None:
                await connection.encrypt()  # bonded before: encrypt with the stored key
            else:
                await connection.pair()
        except core.BaseBumbleError as exc:
            raise BleakError(f"pairing with {self.address} failed: {exc}") from exc

    async def unpair(self) -> None:
        central = await central_for(self._spec)
        if central.device.keystore is not None:
            await central.device.keystore.delete(str(_address(self.address)))
        await self.disconnect()

    async def _att(self, call):
        try:
            return await call
        except ATT_Error as exc:
            raise BleakGATTProtocolError(exc.error_code) from None
        except core.BaseBumbleError as exc:
            raise BleakError(f"{self.address}: {exc!r}") from exc

    async def read_gatt_char(self, characteristic, *, use_cached=False, **kwargs) -> bytearray:
        _, peer = self._require()
        return bytearray(await self._att(peer.read_value(characteristic.obj)))

    async def read_gatt_descriptor(self, descriptor, *, use_cached=False, **kwargs) -> bytearray:
        _, peer = self._require()
        return bytearray(await self._att(peer.read_value(descriptor.obj)))

    async def write_gatt_char(self, characteristic, data, response: bool) -> None:
        _, peer = self._require()
        await self._att(peer.write_value(characteristic.obj, bytes(data), with_response=response))

    async def write_gatt_descriptor(self, descriptor, data) -> None:
        _, peer = self._require()
        await self._att(peer.write_value(descriptor.obj, bytes(data), with_response=True))

    async def start_notify(self, characteristic, callback: NotifyCallback, **kwargs) -> None:
        _, peer = self._require()
        # Prefer notify where both exist, as bleak's own backends do.
        await self._att(peer.subscribe(
            characteristic.obj, lambda value: callback(bytearray(value)),
            prefer_notify="notify" in characteristic.properties,
        ))

    async def stop_notify(self, characteristic) -> None:
        _, peer = self._require()
        await self._att(peer.unsubscribe(characteristic.obj))
