"""``roomvitals replay BLE-CAPTURE``: a bumble peripheral that plays a BLE capture back.

The peripheral stands where the recorded device stood: it advertises the recorded name and
service UUIDs (at the recorded address unless told otherwise), serves the recorded GATT
database (every characteristic with its properties; Device Information from the header;
other reads answer the last value recorded, or the ATT error recorded; the device clock runs
at the recorded offset from now and takes writes), and once a central has subscribed to the
characteristics the capture has values for, sends each value as it came (``notify`` or
``indicate``, an indication waiting for its confirmation) at its recorded time after the
subscriptions, divided by ``speed``; then hangs up where the device did. A gateway reaches
it exactly like a live simulated device (``simulators.ble.host``): in-process on a
``VirtualRadio``, or from another process through the virtual controller served on ``--hci``.

The values are played once, to the first central that subscribes (a later session finds
nothing new, as with a device whose records were sent); ``repeat`` plays them on every
connection. Pairing is not replayed: a capture of a device that needed bonding replays
without it (the header says ``bonded``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import re
import signal
import sys
import threading
import uuid as uuid_module
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bumble import data_types
from bumble.att import ATT_Error, AttributeValue, ErrorCode
from bumble.core import UUID, AdvertisingData
from bumble.device import Connection, Device
from bumble.gatt import Characteristic, Service
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

from simulators.ble import encoding
from simulators.ble.capture import (
    DEVICE_INFORMATION,
    DIS_BINARY,
    DIS_TEXT,
    ble_records,
    short_uuid,
)
from simulators.ble.controller import FixedController
from simulators.ble.peripheral import ADVERTISING_INTERVAL_MS
from simulators.capture import CaptureError, CaptureHeader, Record, read_capture

log = logging.getLogger(__name__)

P = Characteristic.Properties
_PROPERTIES = {
    "broadcast": P.BROADCAST, "read": P.READ, "write-without-response": P.WRITE_WITHOUT_RESPONSE,
    "write": P.WRITE, "notify": P.NOTIFY, "indicate": P.INDICATE,
    "authenticated-signed-writes": P.AUTHENTICATED_SIGNED_WRITES,
}
_MAC = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")
DEFAULT_ADDRESS = "C0:00:00:00:0F:01"
START_GRACE_S = 2.0
"""Start the timeline this long after the first subscription even if the central did not
subscribe to everything the capture has values for (those values are then not sent)."""
# Simulator kinds by profile, as ``roomvitals simulate --ble`` names them.
KIND_OF_PROFILE = {"blood-pressure": "bp-cuff", "health-thermometer": "thermometer",
                   "weight-scale": "scale", "pulse-oximeter": "oximeter"}


def bumble_uuid(text: str) -> UUID:
    """A capture's UUID for the GATT server: 16-bit on the air where it is a SIG one."""
    short = short_uuid(text)
    return UUID.from_16_bits(short) if short is not None else UUID(text)


def uuid_text(value: UUID) -> str:
    return str(uuid_module.UUID(bytes=bytes(reversed(value.to_bytes(force_128=True)))))


class ReplayPeripheral:
    def __init__(self, link: LocalLink, header: CaptureHeader, records: list[Record], *,
                 speed: float = 1.0, address: str | None = None, repeat: bool = False) -> None:
        if header.transport != "ble" or not header.gatt:
            raise CaptureError("not a BLE capture: its header has no 'gatt' description")
        if not speed > 0:
            raise ValueError("speed must be above 0")
        gatt = header.gatt
        self.header = header
        self.gatt = gatt
        self.records = ble_records(records)
        self.speed = speed
        self.repeat = repeat
        recorded = gatt.get("address") or ""
        self.address = address or (recorded if _MAC.match(recorded) else DEFAULT_ADDRESS)
        if not _MAC.match(self.address):
            raise ValueError(f"{self.address!r} is not a Bluetooth address (AA:BB:CC:DD:EE:FF)")
        info = gatt.get("device_information", {})
        self.name = gatt.get("name") or f"RV-replay-{header.protocol}"
        self.kind = KIND_OF_PROFILE.get(header.protocol, header.protocol)
        self.model = info.get("model_number", "")
        self.serial = info.get("serial_number", "")
        self.timeline = [r for r in self.records if r.op in ("notify", "indicate")]
        self.needed = {r.char for r in self.timeline}
        """Characteristics the capture has values for: the timeline starts once the central
        has subscribed to all of them (or START_GRACE_S after its first subscription)."""
        self._reads = {r.char: r.data for r in self.records if r.op == "read"}  # last wins
        clock = gatt.get("clock") or {}
        self._clock_uuid = clock.get("uuid", "")
        offset = clock.get("offset_s")
        self._clock_offset = None if offset is None else timedelta(seconds=offset)
        self.sent = 0
        """Values sent so far (all plays)."""
        self.skipped = 0
        """Values not sent because the central had not subscribed to their characteristic."""
        self.writes: list[tuple[str, bytes]] = []
        self.connections = 0
        self.plays = 0
        self.done = threading.Event()
        """Set when a play has sent the whole timeline."""
        self._connections: dict[int, Connection] = {}
        self._subscribed: dict[int, dict[str, tuple[bool, bool]]] = {}
        self._started: set[int] = set()
        self._tasks: set[asyncio.Task] = set()
        self.characteristics: dict[str, Characteristic] = {}
        self.controller = FixedController(self.name, link=link)
        self.device = Device(
            name=self.name, address=Address(self.address, Address.RANDOM_DEVICE_ADDRESS),
            host=Host(self.controller, AsyncPipeSink(self.controller)))

    # ---- GATT database -------------------------------------------------------------------
    def services(self) -> list[Service]:
        info = self.gatt.get("device_information", {})
        services = []
        for service in self.gatt.get("services", []):
            dis = short_uuid(service["uuid"]) == DEVICE_INFORMATION
            chars = []
            for entry in service.get("characteristics", []):
                uuid = entry["uuid"].lower()
                value = self._dis_value(uuid, info) if dis else None
                chars.append(self._characteristic(uuid, entry, value))
            services.append(Service(bumble_uuid(service["uuid"]), chars))
        return services

    @staticmethod
    def _dis_value(uuid: str, info: dict[str, str]) -> bytes | None:
        short = short_uuid(uuid)
        if short in DIS_TEXT and DIS_TEXT[short] in info:
            return info[DIS_TEXT[short]].encode("utf-8")
        if short in DIS_BINARY and DIS_BINARY[short] in info:
            return bytes.fromhex(info[DIS_BINARY[short]])
        return None

    def _characteristic(self, uuid: str, entry: dict[str, Any], fixed: bytes | None
                        ) -> Characteristic:
        properties = P(0)
        for name in entry.get("properties", []):
            properties |= _PROPERTIES.get(name, P(0))  # extended ones have no bit to set
        permissions = Characteristic.Permissions(0)
        if properties & P.READ:
            permissions |= Characteristic.READABLE
        if properties & (P.WRITE | P.WRITE_WITHOUT_RESPONSE):
            permissions |= Characteristic.WRITEABLE
        read_error = entry.get("read_error")

        def read(_connection) -> bytes:
            if fixed is not None:
                return fixed
            if uuid == self._clock_uuid:
                return self._clock_value()
            if uuid in self._reads:
                return self._reads[uuid]
            # bumble does not enforce READABLE itself (ble-simulation.md §6, finding 2).
            raise ATT_Error(read_error if isinstance(read_error, int)
                            else ErrorCode.READ_NOT_PERMITTED)

        def write(_connection, value) -> None:
            value = bytes(value)
            self.writes.append((uuid, value))
            if uuid == self._clock_uuid:
                moment = encoding.parse_current_time(value)
                if moment is None:
                    raise ATT_Error(ErrorCode.VALUE_NOT_ALLOWED)
                self._clock_offset = moment - datetime.now()

        char = Characteristic(bumble_uuid(uuid), properties, permissions,
                              AttributeValue(read=read, write=write))
        self.characteristics[uuid] = char
        return char

    def _clock_value(self) -> bytes:
        """The device clock now, in the recorded format (zeros while it was never set)."""
        recorded = self._reads.get(self._clock_uuid, b"")
        if self._clock_offset is None:
            return recorded or bytes(7)
        now = (datetime.now() + self._clock_offset).replace(microsecond=0)
        if len(recorded) >= 10:
            return encoding.current_time(now)[:len(recorded)]
        return encoding.date_time(now)

    def _advertising_data(self) -> bytes:
        uuids = self.gatt.get("advertised_services") or [
            s["uuid"] for s in self.gatt.get("services", [])
            if short_uuid(s["uuid"]) != DEVICE_INFORMATION][:1]
        short = [bumble_uuid(u) for u in uuids if short_uuid(u) is not None]
        long = [bumble_uuid(u) for u in uuids if short_uuid(u) is None]
        items: list[Any] = [
            data_types.Flags(AdvertisingData.Flags.LE_GENERAL_DISCOVERABLE_MODE
                             | AdvertisingData.Flags.BR_EDR_NOT_SUPPORTED),
            data_types.CompleteLocalName(self.name),
        ]
        if short:
            items.append(data_types.IncompleteListOf16BitServiceUUIDs(short))
        if long:
            items.append(data_types.IncompleteListOf128BitServiceUUIDs(long))
        data = bytes(AdvertisingData(items))
        if len(data) > 31:
            raise CaptureError(f"name {self.name!r} and services do not fit an advertisement")
        return data

    # ---- life cycle ----------------------------------------------------------------------
    async def start(self) -> ReplayPeripheral:
        self.device.add_services(self.services())
        self.device.on(Device.EVENT_CONNECTION, self._on_connection)
        self.device.on("characteristic_subscription", self._on_subscription)
        await self.device.power_on()
        await self.device.start_advertising(
            auto_restart=True, advertising_data=self._advertising_data(),
            advertising_interval_min=ADVERTISING_INTERVAL_MS,
            advertising_interval_max=ADVERTISING_INTERVAL_MS)
        return self

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for connection in list(self._connections.values()):
            await self._drop(connection)
        await self.device.stop_advertising()
        await self.device.power_off()

    def _on_connection(self, connection: Connection) -> None:
        self.connections += 1
        handle = connection.handle
        self._connections[handle] = connection
        self._subscribed[handle] = {}

        def gone(_reason) -> None:
            self._connections.pop(handle, None)
            self._subscribed.pop(handle, None)
            self._started.discard(handle)

        connection.on(Connection.EVENT_DISCONNECTION, gone)

    def _on_subscription(self, connection, characteristic, notify_enabled, indicate_enabled):
        handle = connection.handle
        subscribed = self._subscribed.setdefault(handle, {})
        uuid = uuid_text(characteristic.uuid)
        if notify_enabled or indicate_enabled:
            subscribed[uuid] = (notify_enabled, indicate_enabled)
        else:
            subscribed.pop(uuid, None)
        if handle in self._started:
            return
        if self.needed <= subscribed.keys():
            self._start(connection)
        elif len(subscribed) == 1:
            self._spawn(self._start_later(connection))

    async def _start_later(self, connection: Connection) -> None:
        await asyncio.sleep(START_GRACE_S)
        if connection.handle in self._connections and connection.handle not in self._started:
            log.info("%s: central did not subscribe to %s; playing without them", self.name,
                     sorted(self.needed - self._subscribed.get(connection.handle, {}).keys()))
            self._start(connection)

    def _start(self, connection: Connection) -> None:
        self._started.add(connection.handle)
        self._spawn(self._play(connection))

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)  # keep a reference until it is done
        task.add_done_callback(self._tasks.discard)

    async def _drop(self, connection: Connection) -> None:
        try:
            await connection.disconnect()
        except Exception as exc:  # the link may already be gone; nothing else to do
            log.debug("%s: disconnect: %s", self.name, exc)

    # ---- playing -------------------------------------------------------------------------
    async def _play(self, connection: Connection) -> None:
        loop = asyncio.get_running_loop()
        begun = loop.time()
        origin = self.gatt.get("subscribed_at") or 0.0
        timeline = self.timeline if (self.repeat or not self.plays) else []
        try:
            for record in timeline:
                wait = begun + max(0.0, record.t - origin) / self.speed - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if connection.handle not in self._connections:
                    return  # the central left: this play is not finished
                await self._send(connection, record)
            if timeline:
                self.plays += 1
                self.done.set()
            hang_up = self.gatt.get("disconnected_at")
            if hang_up is not None:
                wait = begun + max(0.0, hang_up - origin) / self.speed - loop.time()
                await asyncio.sleep(max(wait, 0.05))  # the last confirmation goes out first
                await self._drop(connection)
        except Exception as exc:  # the central went away mid-play
            log.info("%s: replay interrupted: %r", self.name, exc)

    async def _send(self, connection: Connection, record: Record) -> None:
        notify, indicate = self._subscribed.get(connection.handle, {}).get(
            record.char, (False, False))
        char = self.characteristics.get(record.char)
        if char is None or not (notify or indicate):
            self.skipped += 1
            return
        # The recorded kind where the central enabled it, else the one it enabled.
        if (record.op == "indicate" and indicate) or not notify:
            # A link that drops while an indication waits for its confirmation would leave
            # it waiting for bumble's 30 s ATT timeout.
            await asyncio.wait_for(self.device.indicate_subscriber(connection, char,
                                                                   record.data), 5)
        else:
            await self.device.notify_subscriber(connection, char, record.data)
        self.sent += 1


async def add_replay(radio, capture: str | Path, *, speed: float = 1.0,
                     address: str | None = None, repeat: bool = False) -> ReplayPeripheral:
    """Start a replay of ``capture`` on ``radio`` (a ``VirtualRadio``; closed with it)."""
    header, records = read_capture(capture)
    replay = ReplayPeripheral(radio.link, header, records, speed=speed, address=address,
                              repeat=repeat)
    await replay.start()
    radio.devices.append(replay)
    return replay


# ---- `roomvitals replay BLE-CAPTURE` ------------------------------------------------------
async def serve(args: argparse.Namespace) -> int:
    from simulators.ble.host import gateway_entries
    from simulators.ble.radio import VirtualRadio

    radio = await VirtualRadio().open()
    try:
        replay = await add_replay(radio, args.capture, speed=args.speed,
                                  address=args.address, repeat=args.loop)
        await radio.export(args.hci)
    except (OSError, ValueError) as exc:
        print(f"roomvitals replay: {exc}", file=sys.stderr, flush=True)
        await radio.close()
        return 2
    entries = gateway_entries([replay], args.hci)  # type: ignore[list-item]
    if args.devices_out:
        path = Path(args.devices_out)
        path.with_suffix(".tmp").write_text(json.dumps(entries, indent=1))
        path.with_suffix(".tmp").replace(path)  # whole or not at all, for a waiting reader
    print(f"{replay.kind} {replay.name} at {replay.address} (replay of {args.capture}: "
          f"{len(replay.timeline)} values, speed {args.speed:g}"
          f"{', again on every connection' if args.loop else ''})", flush=True)
    print(f"gateway controller on {args.hci}", flush=True)
    if args.hci != "vhci":
        entry = entries[0]
        print(f'gateway entry: transport = "ble", protocol = "{entry["protocol"]}", '
              f'address = "{entry["address"]}", backend = "bumble", '
              f'bumble_transport = "{entry["bumble_transport"]}"', flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    with contextlib.suppress(Exception):
        await radio.close()
    return 0


def run(args: argparse.Namespace) -> int:
    return asyncio.run(serve(args))
