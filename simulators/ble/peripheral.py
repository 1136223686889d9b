"""A simulated BLE health device: a bumble GATT server on a virtual controller.

The base class holds what every profile shares: advertising (name and service UUID in the
advertising PDU, 20 ms interval: ble-simulation.md §2.5 and §6), Device Information 0x180A,
the device clock (Current Time 0x1805/0x2A2B or a Date Time 0x2A08 inside the profile
service, as A&D does), stored records and their upload on subscription, RACP 0x2A52 where the
profile has it, and the scenario switches of ``simulators.ble.scenarios``. Profiles are in
``simulators.ble.devices``. Everything runs on the event loop the peripheral was started on.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime

from bumble import data_types
from bumble.att import ATT_Error, AttributeValue, ErrorCode
from bumble.core import UUID, AdvertisingData
from bumble.device import Connection, Device
from bumble.gatt import Characteristic, Service
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.profiles.device_information_service import DeviceInformationService
from bumble.transport.common import AsyncPipeSink

from simulators.ble import encoding
from simulators.ble.controller import FixedController
from simulators.ble.scenarios import Scenario

log = logging.getLogger(__name__)

P = Characteristic.Properties
ADVERTISING_INTERVAL_MS = 20


def uuid16(value: int) -> UUID:
    return UUID.from_16_bits(value)


@dataclass
class StoredRecord:
    payload: bytes
    sent: bool = False


@dataclass
class Counters:
    connections: int = 0
    indications: int = 0
    clock_writes: int = 0
    racp_requests: list[bytes] = field(default_factory=list)


class SimulatedPeripheral:
    kind = ""
    service: int = 0
    measurement: int = 0
    """The indicated measurement characteristic (stored records arrive here)."""
    clock_characteristic = "cts"  # "cts" (Current Time service) or "date-time" (0x2A08)
    has_racp = False
    manufacturer = "RoomVitals Simulators"
    model = ""

    def __init__(
        self, link: LocalLink, address: str, name: str, scenario: Scenario | None = None, *,
        serial: str = "SIM-0001",
    ) -> None:
        self.address = address
        self.name = name
        self.scenario = scenario or Scenario()
        self.serial = serial
        self.battery_level = 87
        """Battery Level 0x2A19 in percent (Battery Service 1.0: uint8, 0-100)."""
        self.clock_offset = self.scenario.clock_offset
        self.clock_set = not self.scenario.clock_unset
        self.records: list[StoredRecord] = []
        self.counters = Counters()
        self._vanished = False
        self._connections: dict[int, Connection] = {}
        self._subscribed: dict[int, set[int]] = {}  # connection handle -> characteristic uuids
        self._upload_locks: dict[int, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task] = set()
        self.controller = FixedController(name, link=link)
        self.device = Device(
            name=name,
            address=Address(address, Address.RANDOM_DEVICE_ADDRESS),
            host=Host(self.controller, AsyncPipeSink(self.controller)),
        )
        self.characteristics: dict[int, Characteristic] = {}

    # ---- clock ---------------------------------------------------------------------------
    def device_now(self) -> datetime | None:
        """The device's own clock (None while it has never been set)."""
        if not self.clock_set:
            return None
        return (datetime.now() + self.clock_offset).replace(microsecond=0)

    def _set_clock(self, value: bytes) -> None:
        moment = encoding.parse_current_time(value)
        if moment is None:
            raise ATT_Error(ErrorCode.VALUE_NOT_ALLOWED)
        self.counters.clock_writes += 1
        if self.scenario.time_write_error is not None:
            raise ATT_Error(self.scenario.time_write_error)
        self.clock_offset = moment - datetime.now()
        self.clock_set = True

    # ---- GATT database -------------------------------------------------------------------
    def profile_characteristics(self) -> list[Characteristic]:
        raise NotImplementedError

    def characteristic(self, uuid: int, properties: P, value=None, *, readable=True,
                       writable=False, encrypted=False) -> Characteristic:
        permissions = Characteristic.Permissions(0)
        if readable:
            permissions |= Characteristic.READABLE
            if encrypted:
                permissions |= Characteristic.READ_REQUIRES_ENCRYPTION
        if writable:
            permissions |= Characteristic.WRITEABLE
        char = Characteristic(uuid16(uuid), properties, permissions, value)
        self.characteristics[uuid] = char
        return char

    def not_readable(self, uuid: int, properties: P) -> Characteristic:
        # bumble does not enforce READABLE (ble-simulation.md §6, finding 2): refuse ourselves,
        # as real devices do for indicate-only characteristics (ble-gatt-health.md §11.8).
        def refuse(_connection):
            raise ATT_Error(ErrorCode.READ_NOT_PERMITTED)

        return self.characteristic(uuid, properties, AttributeValue(read=refuse))

    def delayed_read(self, produce, error: int | None = None) -> AttributeValue:
        async def read(_connection):
            await self._delay()
            if error is not None:
                raise ATT_Error(error)
            return produce()

        return AttributeValue(read=read)

    def clock_value(self, size: int) -> AttributeValue:
        async def read(_connection):
            await self._delay()
            now = self.device_now()
            return encoding.current_time(now)[:size] if size == 10 else encoding.date_time(now)

        async def write(_connection, value):
            await self._delay()
            self._set_clock(bytes(value))

        return AttributeValue(read=read, write=write)

    def services(self) -> list[Service]:
        chars = self.profile_characteristics()
        if self.clock_characteristic == "date-time":
            chars.append(self.characteristic(0x2A08, P.READ | P.WRITE, self.clock_value(7),
                                             writable=True))
        if self.has_racp:
            chars.append(self.characteristic(
                0x2A52, P.WRITE | P.INDICATE,
                AttributeValue(read=self._refuse_read, write=self._racp_write),
                readable=False, writable=True,
            ))
        services = [
            Service(uuid16(self.service), chars),
            DeviceInformationService(
                manufacturer_name=self.manufacturer,
                model_number=self.model,
                serial_number=self.serial,
                firmware_revision="1.0.0",
            ),
        ]
        services.append(Service(uuid16(0x180F), [self.characteristic(
            0x2A19, P.READ, AttributeValue(read=lambda _c: bytes([self.battery_level])),
        )]))
        if self.clock_characteristic == "cts":
            services.append(Service(uuid16(0x1805), [self.characteristic(
                0x2A2B, P.READ | P.WRITE | P.NOTIFY, self.clock_value(10), writable=True,
            )]))
        return services

    @staticmethod
    def _refuse_read(_connection):
        raise ATT_Error(ErrorCode.READ_NOT_PERMITTED)

    # ---- life cycle ----------------------------------------------------------------------
    async def start(self) -> SimulatedPeripheral:
        self.device.add_services(self.services())
        self.device.on(Device.EVENT_CONNECTION, self._on_connection)
        self.device.on("characteristic_subscription", self._on_subscription)
        await self.device.power_on()
        advertising = AdvertisingData([
            data_types.Flags(AdvertisingData.Flags.LE_GENERAL_DISCOVERABLE_MODE
                             | AdvertisingData.Flags.BR_EDR_NOT_SUPPORTED),
            data_types.CompleteLocalName(self.name),
            data_types.IncompleteListOf16BitServiceUUIDs([uuid16(self.service)]),
        ])
        await self.device.start_advertising(
            auto_restart=True,
            advertising_data=bytes(advertising),
            advertising_interval_min=ADVERTISING_INTERVAL_MS,
            advertising_interval_max=ADVERTISING_INTERVAL_MS,
        )
        return self

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for connection in list(self._connections.values()):
            await self._drop(connection)
        await self.device.stop_advertising()
        await self.device.power_off()

    def _on_connection(self, connection: Connection) -> None:
        self.counters.connections += 1
        self._connections[connection.handle] = connection
        self._subscribed[connection.handle] = set()

        def gone(_reason) -> None:
            self._connections.pop(connection.handle, None)
            self._subscribed.pop(connection.handle, None)
            self._upload_locks.pop(connection.handle, None)

        connection.on(Connection.EVENT_DISCONNECTION, gone)

    def _on_subscription(self, connection, characteristic, notify_enabled, indicate_enabled):
        uuid = int.from_bytes(characteristic.uuid.to_bytes()[:2], "little")
        subscribed = self._subscribed.setdefault(connection.handle, set())
        if notify_enabled or indicate_enabled:
            subscribed.add(uuid)
        else:
            subscribed.discard(uuid)
        if uuid == self.measurement and indicate_enabled and not self.has_racp:
            self._spawn(self._upload(connection, stored=True))

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)  # keep a reference until it is done
        task.add_done_callback(self._tasks.discard)

    async def _delay(self) -> None:
        if self.scenario.response_delay_s:
            await asyncio.sleep(self.scenario.response_delay_s)

    async def _drop(self, connection: Connection) -> None:
        try:
            await connection.disconnect()
        except Exception as exc:  # the link may already be gone; nothing else to do
            log.debug("%s: disconnect: %s", self.name, exc)

    # ---- records -------------------------------------------------------------------------
    def store(self, payload: bytes) -> None:
        """A record the device keeps until it was confirmed (or for ever with resend_all)."""
        self.records.append(StoredRecord(payload))

    async def measure(self, payload: bytes) -> None:
        """A new finished measurement: stored, then sent to a subscribed central (in the
        background: an interrupted transfer leaves it for the next connection)."""
        self.store(payload)
        for connection in list(self._connections.values()):
            if self.measurement in self._subscribed.get(connection.handle, ()):
                self._spawn(self._upload(connection, stored=False))

    async def notify(self, uuid: int, payload: bytes) -> int:
        """A streaming value (intermediate cuff pressure, continuous PLX) to subscribers."""
        sent = 0
        for connection in list(self._connections.values()):
            if uuid in self._subscribed.get(connection.handle, ()):
                await self.device.notify_subscriber(connection, self.characteristics[uuid],
                                                    payload)
                sent += 1
        return sent

    def _pending(self, everything: bool) -> list[StoredRecord]:
        return [r for r in self.records if everything or not r.sent]

    async def _upload(self, connection: Connection, stored: bool,
                      records: list[StoredRecord] | None = None) -> bool:
        """Indicate records one by one; each counts as sent once the central confirmed it."""
        if self.scenario.bonding and not connection.is_encrypted:
            log.info("%s: not bonded, no upload", self.name)
            return False
        lock = self._upload_locks.setdefault(connection.handle, asyncio.Lock())
        async with lock:
            if connection.handle not in self._connections:
                return False  # hung up while this transfer waited for the previous one
            return await self._transfer(connection, stored, records)

    async def _transfer(self, connection: Connection, stored: bool,
                        records: list[StoredRecord] | None) -> bool:
        try:
            await asyncio.sleep(0.01)  # let the CCCD write response reach the central first
            todo = records if records is not None else self._pending(
                self.scenario.resend_all and stored)
            for count, record in enumerate(todo):
                if (self.scenario.vanish_after is not None and not self._vanished
                        and count >= self.scenario.vanish_after):
                    self._vanished = True
                    log.info("%s: vanishing mid-transfer after %d records", self.name, count)
                    await self._drop(connection)
                    return False
                await self._delay()
                # A link that drops while an indication waits for its confirmation would
                # leave it waiting for bumble's 30 s ATT timeout.
                await asyncio.wait_for(self.device.indicate_subscriber(
                    connection, self.characteristics[self.measurement], record.payload), 5)
                record.sent = True
                self.counters.indications += 1
        except Exception as exc:  # the central went away mid-transfer: records stay unsent
            log.info("%s: upload interrupted: %r", self.name, exc)
            return False
        if self.scenario.disconnect_after_upload and records is None:
            await asyncio.sleep(0.05)
            await self._drop(connection)
        return True

    # ---- Record Access Control Point (ble-gatt-health.md §8) ------------------------------
    async def _racp_write(self, connection: Connection, value: bytes) -> None:
        value = bytes(value)
        self.counters.racp_requests.append(value)
        if 0x2A52 not in self._subscribed.get(connection.handle, ()):
            raise ATT_Error(ErrorCode.CCCD_IMPROPERLY_CONFIGURED)
        if self.scenario.bonding and not connection.is_encrypted:
            raise ATT_Error(ErrorCode.INSUFFICIENT_ENCRYPTION)
        await self._delay()
        self._spawn(self._racp(connection, value))

    async def _racp(self, connection: Connection, request: bytes) -> None:
        await asyncio.sleep(0.01)  # after the write response
        op = request[0] if request else 0
        operator = request[1] if len(request) > 1 else 0
        racp = self.characteristics[0x2A52]
        if op == encoding.RACP_REPORT_NUMBER:
            reply = encoding.racp_count(len(self.records))
        elif op in (encoding.RACP_REPORT, encoding.RACP_DELETE):
            if operator != encoding.RACP_ALL_RECORDS:
                reply = encoding.racp_response(op, encoding.RACP_OPERATOR_NOT_SUPPORTED)
            elif not self.records:
                reply = encoding.racp_response(op, encoding.RACP_NO_RECORDS)
            elif op == encoding.RACP_DELETE:
                self.records.clear()
                reply = encoding.racp_response(op, encoding.RACP_SUCCESS)
            else:
                done = await self._upload(connection, stored=True, records=list(self.records))
                if not done:
                    return  # the link is gone: no response
                reply = encoding.racp_response(op, encoding.RACP_SUCCESS)
        else:
            reply = encoding.racp_response(op, encoding.RACP_OP_NOT_SUPPORTED)
        try:
            await self.device.indicate_subscriber(connection, racp, reply)
        except Exception as exc:  # the central left before the response
            log.info("%s: RACP response not delivered: %r", self.name, exc)
            return
        if self.scenario.disconnect_after_upload and op == encoding.RACP_REPORT:
            await asyncio.sleep(0.05)
            await self._drop(connection)
