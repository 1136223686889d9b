"""BLE devices of the demo rooms: a cuff, a thermometer, a scale and an oximeter per room.

They run in one ``roomvitals simulate --ble all`` child process, which serves the gateway's
virtual controller on a loopback TCP port; the gateway reaches them with the bumble backend.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

from simulators.demo_devices import DemoDevices

KINDS_PER_ROOM = 4


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(state_dir: Path, rooms: list[str]) -> DemoDevices:
    out = state_dir / "ble-devices.json"
    out.unlink(missing_ok=True)
    hci = f"tcp-server:127.0.0.1:{_free_port()}"
    process = subprocess.Popen(
        [sys.executable, "-m", "roomvitals.cli", "--log-level", "warning", "simulate",
         "--ble", "all", "--ble-count", str(len(rooms)), "--hci", hci, "--every", "20",
         "--devices-out", str(out)],
        stdout=subprocess.DEVNULL,
    )

    def stop() -> None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()

    deadline = time.monotonic() + 30
    while not out.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            stop()
            raise RuntimeError("the BLE simulator process did not start")
        time.sleep(0.1)
    entries = json.loads(out.read_text())
    for index, entry in enumerate(entries):
        room = rooms[index // KINDS_PER_ROOM]
        kind = entry["id"].split("-", 2)[-1].rsplit("-", 1)[0]  # exam-1-bp-cuff-3 -> bp-cuff
        entry["room"] = room
        entry["id"] = f"{room}-ble-{kind}"
    return DemoDevices(devices=entries, stoppers=[stop])
