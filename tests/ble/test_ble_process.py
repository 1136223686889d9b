"""`roomvitals simulate --ble` as its own process, reached by the gateway over loopback TCP,
and the demo provider that starts it."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

from simulators.ble import demo
from tests.ble.conftest import readings
from tests.helpers import wait_until


def test_gateway_reads_a_simulator_process(mosquitto, ble_gateway, collector, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = tmp_path / "devices.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "roomvitals.cli", "simulate", "--ble", "bp-cuff", "--ble",
         "thermometer", "--hci", f"tcp-server:127.0.0.1:{port}", "--every", "1",
         "--devices-out", str(out)],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_until(out.exists, timeout=30)
        entries = json.loads(out.read_text())
        assert [e["protocol"] for e in entries] == ["blood-pressure", "health-thermometer"]
        for entry in entries:
            entry |= {"reconnect_min_s": 0.2, "room": "exam-1"}
        ble_gateway(mosquitto.port, *entries)
        wait_until(lambda: {r.device.kind for r in readings(collector)} == {
            "bp_monitor", "thermometer"}, timeout=30)
    finally:
        process.terminate()
        process.wait(10)


def test_demo_provider_gives_four_ble_devices_per_room(tmp_path: Path):
    started = demo.start(tmp_path, ["exam-1", "exam-2"])
    try:
        kinds = sorted((d["room"], d["protocol"]) for d in started.devices)
        assert kinds == sorted((room, protocol) for room in ("exam-1", "exam-2") for protocol in (
            "blood-pressure", "health-thermometer", "weight-scale", "pulse-oximeter"))
        assert len({d["id"] for d in started.devices}) == 8
    finally:
        started.stop()
