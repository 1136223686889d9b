"""Benchmark 5, gateway load: ``python bench/gateway_load.py [--rooms 50]``.

One ``roomvitals gateway`` process with 200 serial devices on pseudo-terminals (50 rooms x 4:
a Nonin DF7 oximeter streaming 75 frames/s, a Health o meter scale polled every 2 s, a DINAMAP
monitor polled, a Masimo oximeter sending a line a second), all real simulators and real
pyserial. Measured: the CPU time of the gateway process over the run, as a share of one core
(baseline: one core; goal < 0.5), and the parser's decode cost per DF7 frame against the
gateway's whole cost per frame (what share of the gateway's work decoding is).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, Counter, Result, report, running_broker, say, wait_for
from drivers.serial import parser as make_parser
from simulators.serial.healthometer_esc import HealthOMeterScale
from simulators.serial.nonin import NoninOximeter
from simulators.serial.pty_port import PtyPort
from simulators.serial.scenarios import make_device
from tests.durability.harness import write_toml

KINDS = ("nonin-df7", "healthometer-esc", "dinamap", "masimo-ascii")
DF7_FRAMES_PER_PACKET = 25


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def frames_sent(devices: list) -> int:
    total = 0
    for device in devices:
        if isinstance(device, NoninOximeter):
            total += device.frames_sent * DF7_FRAMES_PER_PACKET
        elif isinstance(device, HealthOMeterScale):
            total += device.requests
        else:
            total += device.frames_sent
    return total


def decode_cost() -> float:
    """Seconds per DF7 frame in the parser alone."""
    oximeter = NoninOximeter(PtyPort(Path(tempfile.mkdtemp()) / "unused"), data_format=7)
    stream = b"".join(oximeter.packet() for _ in range(400))
    parser = make_parser("nonin-df7")
    started = time.perf_counter()
    for offset in range(0, len(stream), 125):  # 25 frames a read, as 75 frames/s arrive
        parser.feed(stream[offset: offset + 125])
    return (time.perf_counter() - started) / (400 * DF7_FRAMES_PER_PACKET)


def run(quick: bool = False, rooms: int | None = None) -> list[Result]:
    rooms = rooms or 50
    seconds = 5 if quick else 30
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    devices, entries = [], []
    for room in range(rooms):
        for protocol in KINDS:
            port = PtyPort(work / "dev" / f"{protocol}-{room}")
            device = (HealthOMeterScale(port) if protocol == "healthometer-esc"
                      else make_device(protocol, port))
            devices.append(device.start())
            entries.append({"id": f"{protocol}-{room}", "room": f"room-{room}",
                            "protocol": protocol, "port": str(port.path)})
    with running_broker() as broker:
        counter = Counter(broker.port, "roomvitals/#", "bench-load-counter")
        config = write_toml({"site": "bench", "gateway_id": "gw-load",
                             "state_dir": str(work / "state"),
                             "broker": {"url": f"mqtt://127.0.0.1:{broker.port}"},
                             "devices": entries}, work / "gateway.toml")
        gateway = subprocess.Popen(
            [sys.executable, "-m", "roomvitals.cli", "gateway", "--config", str(config)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=(work / "gateway.log").open("ab"))
        try:
            say(f"gateway load: {len(devices)} devices, warming up")
            wait_for(lambda: counter.count > len(devices), 60, "the gateway to report")
            time.sleep(2 if quick else 5)
            cpu0, frames0, wall0 = cpu_seconds(gateway.pid), frames_sent(devices), time.monotonic()
            say(f"gateway load: measuring {seconds} s")
            time.sleep(seconds)
            cpu1, frames1, wall1 = cpu_seconds(gateway.pid), frames_sent(devices), time.monotonic()
            alive = gateway.poll() is None
        finally:
            gateway.terminate()
            gateway.wait(timeout=30)
            counter.close()
            for device in devices:
                device.stop()
    if not alive:
        raise RuntimeError(f"the gateway died: {(work / 'gateway.log').read_text()[-2000:]}")
    cores = (cpu1 - cpu0) / (wall1 - wall0)
    frames = frames1 - frames0
    per_frame = (cpu1 - cpu0) / max(frames, 1)
    decode = decode_cost()
    rate = frames / (wall1 - wall0)
    return [
        Result("gateway_load_cpu", cores, 1.0, "cores", "ratio < 0.5 (of one core)", cores < 0.5,
               f"{len(devices)} devices, {rate:.0f} frames/s"),
        Result("gateway_decode_per_frame", decode * 1e6, per_frame * 1e6, "us/frame", "-", None,
               "DF7 parser alone vs the gateway's whole CPU per frame"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rooms", type=int, default=None)
    args = parser.parse_args()
    report(run(args.quick, args.rooms))
    return 0


if __name__ == "__main__":
    sys.exit(main())
