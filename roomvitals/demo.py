"""``roomvitals demo``: the whole system on one machine, with simulated devices.

It starts a private broker (Mosquitto where installed, else the embedded amqtt), one
simulated Health o meter scale per exam room on a pseudo-terminal, and then the real
``gateway``, ``ingest`` and ``web`` commands as child processes on SQLite, exactly as a
clinic would run them. Ctrl-C stops everything it started.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from roomvitals.broker import start_private_broker, wait_for_port
from simulators.serial.healthometer_esc import HealthOMeterScale, ScaleState
from simulators.serial.pty_port import PtyPort
from simulators.serial.scale_scenarios import ScaleScenario

SITE = "demo-clinic"


def gateway_toml(broker_url: str, state_dir: Path, ports: dict[str, Path]) -> str:
    lines = [
        f'site = "{SITE}"',
        'gateway_id = "demo-gateway"',
        f'state_dir = "{state_dir / "gateway"}"',
        "",
        "[broker]",
        f'url = "{broker_url}"',
    ]
    for room, port in ports.items():
        lines += [
            "",
            "[[devices]]",
            f'id = "{room}-scale"',
            f'room = "{room}"',
            'protocol = "healthometer-esc"',
            f'port = "{port}"',
            'model = "Health o meter 2101KL (simulated)"',
            f'serial = "SIM-{room.upper()}"',
            "poll_interval = 1.0",
        ]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir).absolute()
    if state_dir.exists():
        shutil.rmtree(state_dir)
    (state_dir / "dev").mkdir(parents=True)
    database = f"sqlite:///{state_dir / 'roomvitals.sqlite3'}"

    broker = start_private_broker()
    broker_url = broker.url + ("" if type(broker).__name__ == "Mosquitto" else "?version=3.1.1")
    print(f"broker: {broker_url} ({type(broker).__name__})", flush=True)

    rooms = [f"exam-{n}" for n in range(1, args.rooms + 1)]
    scales, scenarios, ports = [], [], {}
    for index, room in enumerate(rooms):
        port = PtyPort(state_dir / "dev" / f"{room}-scale")
        scale = HealthOMeterScale(port, ScaleState(weight=0)).start()
        scenario = ScaleScenario(scale, "weigh-cycle", on_seconds=5 + index, off_seconds=3)
        scales.append(scale)
        scenarios.append(scenario.start())
        ports[room] = port.path
    config = state_dir / "gateway.toml"
    config.write_text(gateway_toml(broker_url, state_dir, ports))

    env = {**os.environ, "DATABASE_URL": database, "ROOMVITALS_BROKER": broker_url}
    command = [sys.executable, "-m", "roomvitals.cli"]
    subprocess.run([*command, "db", "upgrade"], env=env, check=True)
    children = [
        subprocess.Popen([*command, "gateway", "--config", str(config)], env=env),
        subprocess.Popen([*command, "ingest", "--no-upgrade"], env=env),
        subprocess.Popen(
            [*command, "web", "--no-upgrade", "--port", str(args.port)],
            env=env,
            stdout=subprocess.DEVNULL,
        ),
    ]
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        wait_for_port(args.port, timeout=30)
        print(
            f"\nRoomVitals demo: http://127.0.0.1:{args.port}/  (rooms: {', '.join(rooms)})",
            flush=True,
        )
        print(
            "Simulated scales weigh a patient every few seconds. Ctrl-C stops the demo.", flush=True
        )
        while not stop.wait(1):
            for child in children:
                if child.poll() is not None:
                    print(
                        f"demo: {' '.join(child.args[3:4])} exited with {child.returncode}",
                        file=sys.stderr,
                    )
                    stop.set()
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        for scenario in scenarios:
            scenario.stop()
        for scale in scales:
            scale.stop()
        broker.cleanup()
        print("demo stopped", flush=True)
    return 0
