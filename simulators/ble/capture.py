"""BLE captures: what a Bluetooth LE health device sent, with its GATT database, and the
recorder behind ``roomvitals record --ble``.

Same file family as serial captures (``simulators/capture.py``): a JSON header line, then one
line per value. The header has ``"transport": "ble"``, ``protocol`` = the health profile
(``blood-pressure`` ...) and a ``gatt`` object that lets ``simulators.ble.replay`` stand in
for the device::

    {"format": "roomvitals-capture", "version": 1, "transport": "ble",
     "protocol": "blood-pressure", "source": "...", "patient_ids": "none: ...",
     "readings": ["BloodPressure(systolic=Decimal('128'), ...)"],
     "gatt": {"address": "C0:00:00:00:00:01", "name": "UA-651BLE",
              "advertised_services": ["00001810-0000-1000-8000-00805f9b34fb"],
              "services": [{"uuid": "00001810-...", "characteristics": [
                  {"uuid": "00002a35-...", "properties": ["indicate"]}, ...]}, ...],
              "device_information": {"manufacturer_name": "A&D", "model_number": "...",
                                     "serial_number": "5070612345", "system_id": "<hex>"},
              "clock": {"uuid": "00002a2b-...", "offset_s": -1.2},
              "bonded": false, "subscribed_at": 0.031, "disconnected_at": 0.094}}
    {"t": 0.012, "char": "00002a49-0000-1000-8000-00805f9b34fb", "op": "read", "hex": "0700"}
    {"t": 0.045, "char": "00002a35-0000-1000-8000-00805f9b34fb", "op": "indicate", "hex": "1e..."}

``t`` is seconds since the connection was made; ``op`` is ``notify``/``indicate`` (a value the
device sent), ``read`` (a value the recorder read) or ``write`` (what the recorder wrote, the
RACP request: for reference, a replay does not wait for it). ``clock.offset_s`` is the device
clock minus the recorder's when it was read (``null``: never set), ``subscribed_at`` when all
subscriptions were in place (a replay starts its timeline there), ``disconnected_at`` when
the device hung up (``null``: the recording was stopped first).

Patient identifiers: the Bluetooth SIG health profiles carry none. ``user_id`` in blood
pressure and weight records is the index of a user slot on the device (255 = unknown user),
not a person, and is kept; the Device Information serial number, the address and the
advertised name identify the device and are kept. Nothing is stripped, and the header's
``patient_ids`` and the recorder's output say so.

The recorder is host-side code (like the serial recorder in ``roomvitals.capture_cmd``): it
reaches the device through bleak's public API with the backend ``device_gateway.ble_backend``
picks, and decodes the measurements with ``drivers`` for the header's ``readings``. Those
imports are made inside it, so the format helpers and the replay never depend on drivers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from simulators.capture import CaptureHeader, CaptureWriter, Record

log = logging.getLogger(__name__)

PATIENT_IDS = (
    "none: Bluetooth SIG health profiles carry no patient identifier; user_id (a user slot "
    "on the device) kept; device identity kept: Device Information serial number, address, "
    "advertised name; nothing stripped"
)
OPS = ("notify", "indicate", "read", "write")
_SIG = re.compile(r"^0000([0-9a-f]{4})-0000-1000-8000-00805f9b34fb$")

DEVICE_INFORMATION = 0x180A
# Device Information strings (GATT Specification Supplement 3.x) and the binary values kept
# as hex: System ID 0x2A23, IEEE regulatory list 0x2A2A, PnP ID 0x2A50.
DIS_TEXT = {0x2A29: "manufacturer_name", 0x2A24: "model_number", 0x2A25: "serial_number",
            0x2A27: "hardware_revision", 0x2A26: "firmware_revision",
            0x2A28: "software_revision"}
DIS_BINARY = {0x2A23: "system_id", 0x2A2A: "ieee_regulatory_certification", 0x2A50: "pnp_id"}
GENERIC_SERVICES = (0x1800, 0x1801)
"""GAP and GATT: every stack makes its own; neither recorded nor replayed."""
CLOCKS = (0x2A2B, 0x2A08)  # Current Time, Date Time (the gateway's order)
RACP = 0x2A52
_NEEDS_BOND = {0x05, 0x0F}  # Insufficient Authentication / Encryption (Core Vol 3 Part F)


def sig_uuid(short: int) -> str:
    return f"0000{short:04x}-0000-1000-8000-00805f9b34fb"


def short_uuid(uuid: str) -> int | None:
    """The 16-bit value of a Bluetooth SIG UUID, None for a vendor's 128-bit one."""
    found = _SIG.match(uuid.lower())
    return int(found.group(1), 16) if found else None


def ble_records(records: list[Record]) -> list[Record]:
    """The BLE records of a capture; a serial record or an unknown op is a CaptureError."""
    from simulators.capture import CaptureError

    for number, record in enumerate(records, start=2):
        if not record.char or record.op not in OPS:
            raise CaptureError(f"record {number - 1} (line {number}): a BLE record needs "
                               f"'char' and 'op' ({', '.join(OPS)}), got op {record.op!r}")
    return records


class BleRecorder:
    """Record one session with a BLE health device into ``out``.

    Connects as the gateway does (scan by address, advertised name or the profile's service;
    pair when a read asks for it), reads Device Information into the header and every other
    readable characteristic as ``read`` records, subscribes to the profile's measurement and
    intermediate characteristics, asks for stored records with RACP where the device has it,
    and records every value until the device hangs up, ``seconds`` pass or ``stop`` is set.
    The device clock is read, never set: the capture shows the device as it was.
    """

    def __init__(self, profile: str, out: str | Path, *, address: str = "", name: str = "",
                 backend: str = "platform", bumble_transport: str = "", source: str = "",
                 scan_timeout: float = 10.0, connect_timeout: float = 20.0,
                 racp_timeout: float = 30.0) -> None:
        from device_gateway.ble_config import BleSettings, check_ble_device

        options: dict[str, Any] = {"address": address, "name": name, "backend": backend}
        if bumble_transport:
            options["bumble_transport"] = bumble_transport
        # The gateway's own checks: a clear ConfigError (a ValueError) for a wrong value.
        check_ble_device("", {"protocol": profile, **options})
        self.settings = BleSettings.of(profile, {**options, "scan_timeout": scan_timeout,
                                                 "connect_timeout": connect_timeout,
                                                 "racp_timeout": racp_timeout})
        self.profile = profile
        self.out = Path(out)
        self.patient_ids = PATIENT_IDS
        target = address or (f"named {name!r}" if name else f"any {profile} device")
        self.header = CaptureHeader(
            "ble", profile, source or f"device {target} via bleak ({backend})", PATIENT_IDS,
            recorded_at=datetime.now().replace(microsecond=0).isoformat(),
        )
        self.readings: list[str] = []
        """What the decoder made of the measurement characteristic's values, in order."""
        self.records = 0
        self.gatt: dict[str, Any] = {}

    # ---- finding the device ----------------------------------------------------------------
    async def _find(self):
        from bleak import BleakScanner

        from device_gateway.ble_backend import bleak_kwargs

        settings = self.settings
        service = sig_uuid(settings.profile.service)
        address = settings.address.upper()
        adverts: dict[str, Any] = {}

        def match(device, advertisement) -> bool:
            if address:
                hit = device.address.upper() == address
            elif settings.name:
                hit = (advertisement.local_name or device.name) == settings.name
            else:
                hit = service in advertisement.service_uuids
            if hit:
                adverts[device.address] = advertisement
            return hit

        found = await BleakScanner.find_device_by_filter(
            match, timeout=settings.scan_timeout, **bleak_kwargs(settings, "scanner"))
        if found is None:
            raise LookupError(f"no {self.profile} device found ({self.header.source}) within "
                              f"{settings.scan_timeout:g} s: is it advertising?")
        return found, adverts.get(found.address)

    # ---- the session -----------------------------------------------------------------------
    async def run(self, stop: asyncio.Event | None = None, seconds: float | None = None) -> int:
        """Record one session; returns the number of records written."""
        from bleak import BleakClient

        from device_gateway.ble_backend import bleak_kwargs

        stop = stop or asyncio.Event()
        found, advertisement = await self._find()
        gone = asyncio.Event()
        client = BleakClient(found, lambda _client: gone.set(),
                             timeout=self.settings.connect_timeout,
                             **bleak_kwargs(self.settings, "client"))
        await client.connect()
        loop = asyncio.get_running_loop()
        begun = loop.time()
        self.gatt = {
            "address": found.address,
            "name": (advertisement.local_name if advertisement else None) or found.name or "",
            "advertised_services": list(advertisement.service_uuids) if advertisement else [],
            "services": [], "device_information": {}, "clock": None, "bonded": False,
            "subscribed_at": None, "disconnected_at": None,
        }
        writer = CaptureWriter(self.out, self.header)
        try:
            await self._session(client, writer, lambda: loop.time() - begun, gone, stop, seconds)
            if gone.is_set():
                self.gatt["disconnected_at"] = round(loop.time() - begun, 4)
        finally:
            if client.is_connected:
                with contextlib.suppress(Exception):  # the device may be gone already
                    await client.disconnect()
            self.records = writer.records
            writer.close(replace(self.header, readings=self.readings, gatt=self.gatt))
        return self.records

    async def _session(self, client, writer: CaptureWriter, now, gone: asyncio.Event,
                       stop: asyncio.Event, seconds: float | None) -> None:
        from drivers.ble.quirks import quirks_for_model

        readable = []
        for service in client.services:
            short = short_uuid(service.uuid)
            if short in GENERIC_SERVICES:
                continue
            chars = [{"uuid": c.uuid, "properties": sorted(c.properties)}
                     for c in service.characteristics]
            self.gatt["services"].append({"uuid": service.uuid, "characteristics": chars})
            readable += [(short, c) for c in service.characteristics if "read" in c.properties]
        for service_short, char in readable:
            value = await self._read(client, char)
            if value is None:
                continue
            char_short = short_uuid(char.uuid)
            if service_short == DEVICE_INFORMATION and char_short in DIS_TEXT:
                text = value.rstrip(b"\x00").decode("utf-8", "replace")
                self.gatt["device_information"][DIS_TEXT[char_short]] = text
            elif service_short == DEVICE_INFORMATION and char_short in DIS_BINARY:
                self.gatt["device_information"][DIS_BINARY[char_short]] = value.hex()
            else:
                writer.write(Record(now(), value, "rx", char.uuid, "read"))
                if char_short in CLOCKS and self.gatt["clock"] is None:
                    self.gatt["clock"] = {"uuid": char.uuid,
                                          "offset_s": _clock_offset(char_short, value)}
        info = self.gatt["device_information"]
        self._quirks = quirks_for_model(self.gatt["name"]) | quirks_for_model(
            info.get("model_number"))
        profile = self.settings.profile
        for short in (profile.record, *profile.live):
            char = client.services.get_characteristic(sig_uuid(short))
            if char is not None:
                await client.start_notify(char, self._receiver(writer, now, char, short))
        racp = client.services.get_characteristic(sig_uuid(RACP))
        if racp is not None:
            answered = asyncio.Event()

            def on_racp(_char, data: bytearray) -> None:
                writer.write(Record(now(), bytes(data), "rx", racp.uuid, _op(racp)))
                if data[:1] == b"\x06":  # RACP Response Code (§8): the request is done
                    answered.set()

            await client.start_notify(racp, on_racp)
            self.gatt["subscribed_at"] = round(now(), 4)
            request = b"\x01\x01"  # report stored records: all (as the gateway asks)
            writer.write(Record(now(), request, "tx", racp.uuid, "write"))
            await client.write_gatt_char(racp, request, response=True)
            await _first(answered, gone, stop, timeout=self.settings.racp_timeout)
        else:
            self.gatt["subscribed_at"] = round(now(), 4)
        left = None if seconds is None else max(0.0, seconds - now())
        await _first(gone, stop, timeout=left)

    async def _read(self, client, char) -> bytes | None:
        from bleak.exc import BleakGATTProtocolError

        try:
            return bytes(await client.read_gatt_char(char))
        except BleakGATTProtocolError as exc:
            code = exc.args[0] if exc.args else None
            if code in _NEEDS_BOND and not self.gatt["bonded"]:
                log.info("pairing: the device requires it to read %s", char.uuid)
                await client.pair()
                self.gatt["bonded"] = True
                return await self._read(client, char)
            log.info("read %s refused: %s", char.uuid, exc)
            for service in self.gatt["services"]:
                for entry in service["characteristics"]:
                    if entry["uuid"] == char.uuid:
                        entry["read_error"] = code  # the replay answers the same
            return None

    def _receiver(self, writer: CaptureWriter, now, char, short: int):
        from drivers import DecodeError
        from drivers.ble import decode_detailed
        from roomvitals.testing import describe

        op = _op(char)
        is_record = short == self.settings.profile.record

        def receive(_char, data: bytearray) -> None:
            writer.write(Record(now(), bytes(data), "rx", char.uuid, op))
            if is_record:
                try:
                    self.readings.append(describe(decode_detailed(
                        short, bytes(data), quirks=self._quirks).value))
                except DecodeError as exc:
                    self.readings.append(f"DecodeError({exc})")

        return receive


def _op(char) -> str:
    # Where a characteristic has both, bleak's backends subscribe for notifications.
    return "notify" if "notify" in char.properties else "indicate"


def _clock_offset(short: int, value: bytes) -> float | None:
    from drivers import DecodeError
    from drivers.ble import decode

    try:
        moment = decode(f"{short:04X}", value).timestamp
    except DecodeError as exc:
        log.info("device clock value %s: %s", value.hex(), exc)
        return None
    return None if moment is None else round((moment - datetime.now()).total_seconds(), 3)


async def _first(*events: asyncio.Event, timeout: float | None) -> None:
    """Wait until one of ``events`` is set or ``timeout`` passes."""
    waiters = {asyncio.ensure_future(e.wait()) for e in events}
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


# ---- `roomvitals record --ble` ------------------------------------------------------------
def record_main(args) -> int:
    """The ``roomvitals record --ble`` command: one session, then a summary."""
    import signal
    import sys

    if not args.profile:
        print("roomvitals record: --ble needs --profile (blood-pressure, health-thermometer, "
              "weight-scale or pulse-oximeter)", file=sys.stderr)
        return 2
    out = args.out or f"captures/ble-{args.profile}-{datetime.now():%Y%m%d-%H%M%S}.jsonl"
    try:
        recorder = BleRecorder(args.profile, out, address=args.address or "",
                               name=args.name or "", backend=args.backend,
                               bumble_transport=args.bumble_transport or "")
    except ValueError as exc:
        print(f"roomvitals record: {exc}", file=sys.stderr)
        return 2
    print(f"recording {args.profile} from {recorder.header.source} to {out}; Ctrl-C stops",
          flush=True)
    print(f"patient IDs: {recorder.patient_ids}", flush=True)

    async def session() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await recorder.run(stop, args.seconds)

    try:
        count = asyncio.run(session())
    except Exception as exc:  # bleak, the OS stack or the transport: say which, no traceback
        print(f"roomvitals record: cannot record: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    ended = ("the device hung up" if recorder.gatt.get("disconnected_at") is not None
             else "stopped")
    print(f"{count} values written to {out} ({ended}); {len(recorder.readings)} measurements "
          "decoded", flush=True)
    return 0
