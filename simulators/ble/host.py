"""``roomvitals simulate --ble KIND``: simulated BLE devices in their own process.

The process owns a virtual radio with the devices on it and serves one more virtual
controller on ``--hci`` (default ``tcp-server:127.0.0.1:9100``; ``unix-server:PATH``; ``vhci``
on a Linux box to hand it to BlueZ). A gateway reaches the devices with ``backend = "bumble"``
and ``bumble_transport = "tcp-client:127.0.0.1:9100"`` (or, through BlueZ, with the platform
backend). Each device takes a measurement every ``--every`` seconds; the oximeter also
streams continuous values once a second while a central listens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import signal
from pathlib import Path

from simulators.ble.devices import KINDS
from simulators.ble.peripheral import SimulatedPeripheral
from simulators.ble.radio import VirtualRadio
from simulators.ble.scenarios import SCENARIOS, scenario

PROTOCOLS = {
    "bp-cuff": "blood-pressure",
    "thermometer": "health-thermometer",
    "scale": "weight-scale",
    "oximeter": "pulse-oximeter",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ble", action="append", choices=(*KINDS, "all"), default=None, metavar="KIND",
        help=f"simulate a Bluetooth LE device instead: {', '.join(KINDS)} or all (repeatable)",
    )
    parser.add_argument("--ble-count", type=int, default=1, help="devices of each BLE kind")
    parser.add_argument("--hci", default="tcp-server:127.0.0.1:9100",
                        help="bumble transport serving the gateway's virtual controller "
                        "(tcp-server:HOST:PORT, unix-server:PATH, or vhci for BlueZ)")
    parser.add_argument("--ble-scenario", choices=SCENARIOS, default="upload-disconnect",
                        help="behaviour of the BLE devices (default upload-disconnect)")
    parser.add_argument("--every", type=float, default=20.0,
                        help="seconds between measurements of each BLE device (0: never)")
    parser.add_argument("--devices-out", default=None,
                        help="write the gateway [[devices]] entries of the BLE devices (JSON)")


def gateway_entries(devices: list[SimulatedPeripheral], hci: str, rooms: list[str] | None = None
                    ) -> list[dict]:
    """Gateway [[devices]] tables for these devices behind the controller served on ``hci``."""
    client = hci.replace("tcp-server:", "tcp-client:").replace("unix-server:", "unix-client:")
    entries = []
    for index, device in enumerate(devices):
        room = rooms[index % len(rooms)] if rooms else "exam-1"
        entry = {
            "id": f"{room}-{device.kind}-{index + 1}",
            "room": room,
            "transport": "ble",
            "protocol": PROTOCOLS[device.kind],
            "address": device.address,
            "model": f"{device.model} (simulated)",
            "serial": device.serial,
            "reconnect_min_s": 1.0,
        }
        if hci != "vhci":
            entry |= {"backend": "bumble", "bumble_transport": client}
        entries.append(entry)
    return entries


async def _measure(device: SimulatedPeripheral, every: float, seed: int) -> None:
    rng = random.Random(seed)
    await asyncio.sleep(rng.uniform(1, max(every, 1)))
    while True:
        await device.take(rng)
        await asyncio.sleep(every)


async def _stream(device: SimulatedPeripheral, seed: int) -> None:
    rng = random.Random(seed)
    while True:
        await device.stream(rng)
        await asyncio.sleep(1)


async def serve(kinds: list[str], count: int, hci: str, scenario_name: str, every: float,
                devices_out: str | None, rooms: list[str] | None = None) -> None:
    radio = await VirtualRadio().open()
    tasks = []
    for _ in range(count):
        for kind in kinds:
            device = await radio.add(kind, scenario(scenario_name))
            if every > 0:
                tasks.append(asyncio.ensure_future(_measure(device, every, len(tasks))))
            if kind == "oximeter":
                tasks.append(asyncio.ensure_future(_stream(device, len(tasks))))
    await radio.export(hci)
    entries = gateway_entries(radio.devices, hci, rooms)
    if devices_out:
        path = Path(devices_out)
        path.with_suffix(".tmp").write_text(json.dumps(entries, indent=1))
        path.with_suffix(".tmp").replace(path)  # whole or not at all, for a waiting reader
    for device in radio.devices:
        print(f"{device.kind} {device.name} at {device.address} ({scenario_name})", flush=True)
    print(f"gateway controller on {hci}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for task in tasks:
        task.cancel()
    with contextlib.suppress(Exception):
        await radio.close()


def run(args: argparse.Namespace) -> int:
    kinds = list(KINDS) if "all" in args.ble else list(dict.fromkeys(args.ble))
    rooms = getattr(args, "ble_rooms", None)
    asyncio.run(serve(kinds, args.ble_count, args.hci, args.ble_scenario, args.every,
                      args.devices_out, rooms))
    return 0
