"""One Bluetooth LE health device, read through bleak's public API.

Every BLE link of the process runs on one asyncio loop in one thread (``ble_loop``). A link
repeats a session: scan for the device (by address, advertised name or the profile's
service), connect, pair where the device needs it, read the feature characteristic, check
and set the device clock (Current Time 0x2A2B or Date Time 0x2A08), subscribe to the
measurement indications (stored records arrive right away on most devices), ask for stored
records with RACP 0x2A52 where the device has it, then wait until the device hangs up, which
is the normal end of a session for a cuff or a scale (ble-gatt-health.md §11.4). Then it
waits and reconnects, with backoff after failures.

Finished measurements go to ``on_measurement`` with the device clock's offset and the FHIR
absent reasons of special values; intermediate cuff pressure, intermediate temperature and
continuous oximetry go to ``on_live``. A time-stamped record already filed in this process
is not filed again when the device re-sends it; the reading id, derived from device, device
time and values, makes the dashboard file it once across gateway restarts too.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import struct
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.exc import BleakError, BleakGATTProtocolError

from device_gateway.ble_backend import bleak_kwargs
from device_gateway.ble_config import BleSettings
from device_gateway.config import DeviceConfig
from device_gateway.observations import observations
from drivers import DecodeError
from drivers.ble import decode, decode_detailed, quirks_for_model
from drivers.ble.racp import OP_RESPONSE_CODE
from drivers.measurements import Measurement

log = logging.getLogger(__name__)

CURRENT_TIME = 0x2A2B
DATE_TIME = 0x2A08
RACP = 0x2A52
MODEL_NUMBER = 0x2A24
BATTERY_LEVEL = 0x2A19  # Battery Service 1.0: uint8 percent
# ATT errors that mean "pair first" (Core Vol 3 Part F 3.4.1.1).
_NEEDS_BOND = {0x05, 0x0F}
_SEEN_LIMIT = 10_000


def sig_uuid(short: int) -> str:
    return f"0000{short:04x}-0000-1000-8000-00805f9b34fb"


# ---- the BLE thread --------------------------------------------------------------------------
_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def ble_loop() -> asyncio.AbstractEventLoop:
    """The process's BLE event loop, started on first use in a daemon thread."""
    global _loop
    with _loop_lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            threading.Thread(target=run, name="ble", daemon=True).start()
            ready.wait(10)
            _loop = loop
        return _loop


class NotFound(Exception):
    """The device is not advertising (asleep between measurements, or out of range)."""


def current_time_value(now: datetime) -> bytes:
    """Current Time 0x2A2B: Date Time, day of week, Fractions256, adjust reason = manual
    (ble-gatt-health.md §7)."""
    return date_time_value(now) + bytes([now.isoweekday(), now.microsecond * 256 // 10**6, 1])


def date_time_value(now: datetime) -> bytes:
    """Date Time 0x2A08 (ble-gatt-health.md §1.3)."""
    return struct.pack("<HBBBBB", now.year, now.month, now.day, now.hour, now.minute, now.second)


def describe(exc: BaseException) -> str:
    if isinstance(exc, BleakGATTProtocolError):
        return f"ATT error {exc.args[0]:#04x}: {exc.args[1] if len(exc.args) > 1 else ''}"
    text = str(exc) or type(exc).__name__
    return text[:200]


class BleLink:
    def __init__(
        self,
        device: DeviceConfig,
        on_measurement: Callable[..., None],
        on_status: Callable[[DeviceConfig, str, str], None],
        on_live: Callable[[DeviceConfig, Measurement], None] | None = None,
        on_detail: Callable[..., None] | None = None,
    ) -> None:
        self.device = device
        self.settings = BleSettings.of(device.protocol, device.options)
        self.profile = self.settings.profile
        self._on_measurement = on_measurement
        self._on_status = on_status
        self._on_live = on_live
        self._on_detail = on_detail
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task = None
        self._stop: asyncio.Event | None = None
        self._seen: OrderedDict[tuple, None] = OrderedDict()
        self._quirks = self.settings.quirks
        self._clock_offset: float | None = None
        self.sessions = 0
        self.decode_errors = 0
        self.last_error = ""

    # ---- thread side ---------------------------------------------------------------------
    def start(self) -> None:
        self._loop = ble_loop()
        self._task = asyncio.run_coroutine_threadsafe(self._run(), self._loop)

    def stop(self) -> None:
        if self._loop is None or self._task is None:
            return
        self._loop.call_soon_threadsafe(lambda: self._stop and self._stop.set())
        with contextlib.suppress(Exception):
            self._task.result(timeout=10)

    # ---- the session loop ----------------------------------------------------------------
    async def _run(self) -> None:
        self._stop = asyncio.Event()
        delay = self.settings.reconnect_min_s
        while not self._stop.is_set():
            try:
                await self._session()
                delay = self.settings.reconnect_min_s
                error = ""
            except NotFound:
                error = ""
                delay = self.settings.reconnect_min_s
            except (BleakError, DecodeError, TimeoutError, OSError, ConnectionError) as exc:
                error = describe(exc)
                log.warning("device %s: %s", self.device.id, error)
                delay = min(delay * 2, self.settings.reconnect_max_s)
            except Exception as exc:  # never let one device stop the BLE thread
                error = f"unexpected: {describe(exc)}"
                log.exception("device %s: unexpected error", self.device.id)
                delay = min(delay * 2, self.settings.reconnect_max_s)
            self.last_error = error
            self._status("disconnected", error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)

    def _status(self, state: str, error: str) -> None:
        try:
            self._on_status(self.device, state, error)
        except Exception:  # the gateway's problem; the link goes on
            log.exception("device %s: status callback failed", self.device.id)

    async def _find(self):
        settings = self.settings
        service = sig_uuid(self.profile.service)
        address = settings.address.upper()

        def match(device, advertisement) -> bool:
            if address:
                return device.address.upper() == address
            if settings.name:
                return (advertisement.local_name or device.name) == settings.name
            return service in advertisement.service_uuids

        found = await BleakScanner.find_device_by_filter(
            match, timeout=settings.scan_timeout, **bleak_kwargs(settings, "scanner")
        )
        if found is None:
            raise NotFound()
        return found

    async def _session(self) -> None:
        found = await self._find()
        if self._stop is not None and self._stop.is_set():
            return
        gone = asyncio.Event()
        client = BleakClient(
            found,
            lambda _client: gone.set(),
            timeout=self.settings.connect_timeout,
            pair=self.settings.bonding,
            **bleak_kwargs(self.settings, "client"),
        )
        await client.connect()
        self.sessions += 1
        try:
            self._status("connected", "")
            self._quirks = self.settings.quirks | quirks_for_model(found.name)
            await self._prepare(client)
            for short in (self.profile.record, *self.profile.live):
                if client.services.get_characteristic(sig_uuid(short)) is not None:
                    await client.start_notify(sig_uuid(short), self._receiver(short))
            if self.settings.racp and client.services.get_characteristic(sig_uuid(RACP)):
                await self._request_records(client, gone)
            stop = asyncio.ensure_future(self._stop.wait())
            hang_up = asyncio.ensure_future(gone.wait())
            try:
                await asyncio.wait({stop, hang_up}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stop.cancel()
                hang_up.cancel()
        finally:
            if client.is_connected:
                with contextlib.suppress(BleakError, TimeoutError, OSError):
                    await client.disconnect()

    async def _prepare(self, client: BleakClient) -> None:
        """Model quirks, bonding and the device clock, before any record is asked for."""
        model = await self._read_optional(client, MODEL_NUMBER)
        if model:
            self._quirks |= quirks_for_model(model.rstrip(b"\x00").decode("utf-8", "replace"))
        if self.profile.feature is not None:
            char = client.services.get_characteristic(sig_uuid(self.profile.feature))
            if char is not None:
                try:
                    await client.read_gatt_char(char)
                except BleakGATTProtocolError as exc:
                    if exc.args[0] not in _NEEDS_BOND:
                        # Not fatal: the feature value only qualifies status bits.
                        log.info("device %s: feature read: %s", self.device.id, describe(exc))
                    else:
                        log.info("device %s: pairing (device requires it)", self.device.id)
                        await client.pair()
                        await client.read_gatt_char(char)
        self._clock_offset = await self._sync_clock(client)
        battery = await self._read_optional(client, BATTERY_LEVEL)
        if battery and battery[0] <= 100 and self._on_detail is not None:
            self._on_detail(self.device, battery=battery[0])

    async def _read_optional(self, client: BleakClient, short: int) -> bytes | None:
        char = client.services.get_characteristic(sig_uuid(short))
        if char is None:
            return None
        try:
            return bytes(await client.read_gatt_char(char))
        except BleakGATTProtocolError as exc:
            log.info("device %s: read %04X: %s", self.device.id, short, describe(exc))
            return None

    async def _sync_clock(self, client: BleakClient) -> float | None:
        """The device clock's offset from the gateway's (seconds, device minus gateway) as
        found on connecting; then set the device clock if it is off or unset."""
        for short, value_of in ((CURRENT_TIME, current_time_value), (DATE_TIME, date_time_value)):
            char = client.services.get_characteristic(sig_uuid(short))
            if char is None:
                continue
            offset = None
            raw = await self._read_optional(client, short) if "read" in char.properties else None
            if raw is not None:
                try:
                    device_time = decode(f"{short:04X}", raw).timestamp
                except DecodeError as exc:
                    log.info("device %s: clock value: %s", self.device.id, exc)
                    device_time = None
                if device_time is not None:
                    offset = (device_time - datetime.now()).total_seconds()
            wrong = offset is None or abs(offset) > self.settings.clock_tolerance_s
            if self.settings.set_clock and wrong and "write" in char.properties:
                try:
                    await client.write_gatt_char(char, value_of(datetime.now()), response=True)
                    log.info("device %s: clock set (was off by %s s)", self.device.id, offset)
                except BleakGATTProtocolError as exc:
                    # Omron answers 0x80 "data field ignored" (ble-gatt-health.md §7): keep
                    # the offset on the readings instead.
                    log.info("device %s: clock not set: %s", self.device.id, describe(exc))
            return offset
        return None

    async def _request_records(self, client: BleakClient, gone: asyncio.Event) -> None:
        """RACP "report all stored records" and wait for its response (§8)."""
        answered = asyncio.Event()
        outcome: list = []

        def on_racp(_char: BleakGATTCharacteristic, data: bytearray) -> None:
            try:
                response = decode("2A52", bytes(data))
            except DecodeError as exc:
                log.warning("device %s: RACP: %s", self.device.id, exc)
                return
            if response.op_code == OP_RESPONSE_CODE:
                outcome.append(response)
                answered.set()

        await client.start_notify(sig_uuid(RACP), on_racp)
        await client.write_gatt_char(sig_uuid(RACP), b"\x01\x01", response=True)
        waiters = {asyncio.ensure_future(answered.wait()), asyncio.ensure_future(gone.wait())}
        try:
            done, _ = await asyncio.wait(
                waiters, timeout=self.settings.racp_timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in waiters:
                waiter.cancel()
        if outcome and not outcome[0].succeeded:
            raise BleakError(f"stored records not sent: RACP {outcome[0].response_name}")
        if not done:
            raise TimeoutError("no RACP response")

    # ---- values --------------------------------------------------------------------------
    def _receiver(self, short: int) -> Callable[[BleakGATTCharacteristic, bytearray], None]:
        def receive(_char: BleakGATTCharacteristic, data: bytearray) -> None:
            try:
                self._value(short, bytes(data))
            except Exception:  # a callback must never break the session
                log.exception("device %s: value of %04X not handled", self.device.id, short)

        return receive

    def _value(self, short: int, data: bytes) -> None:
        try:
            decoded = decode_detailed(short, data, quirks=self._quirks)
        except DecodeError as exc:
            self.decode_errors += 1
            log.warning("device %s: %s (bytes %s)", self.device.id, exc, data.hex())
            self._status("connected", f"undecodable value: {exc}")
            return
        measurement = decoded.value
        if short in self.profile.live:
            if self._on_live is not None:
                self._on_live(self.device, measurement)
            return
        if "device_clock_not_set" in measurement.flags and measurement.timestamp is not None:
            # The time stamp counts from a clock nobody set: not a time of measurement.
            measurement = dataclasses.replace(measurement, timestamp=None)
        if measurement.timestamp is not None:
            key = (short, measurement.timestamp,
                   tuple((o.kind, str(o.value)) for o in observations(measurement)))
            if key in self._seen:
                log.debug("device %s: record re-sent, already filed", self.device.id)
                return
            self._seen[key] = None
            while len(self._seen) > _SEEN_LIMIT:
                self._seen.popitem(last=False)
        self._on_measurement(
            self.device,
            measurement,
            clock_offset_s=self._clock_offset,
            absent_reasons=dict(decoded.absent_reasons),
        )
