"""Serial devices of the demo rooms: a Health o meter scale per room on a pseudo-terminal."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from simulators.demo_devices import DemoDevices
from simulators.serial.healthometer_esc import HealthOMeterScale, ScaleState
from simulators.serial.pty_port import PtyPort
from simulators.serial.scale_scenarios import ScaleScenario


def start(state_dir: Path, rooms: list[str]) -> DemoDevices:
    result = DemoDevices()
    for index, room in enumerate(rooms):
        port = PtyPort(state_dir / "dev" / f"{room}-scale")
        scale = HealthOMeterScale(port, ScaleState(weight=Decimal(0))).start()
        scenario = ScaleScenario(scale, "weigh-cycle", on_seconds=5 + index, off_seconds=3).start()
        result.stoppers += [scale.stop, scenario.stop]
        result.devices.append(
            {
                "id": f"{room}-scale",
                "room": room,
                "protocol": "healthometer-esc",
                "port": str(port.path),
                "model": "Health o meter 2101KL (simulated)",
                "serial": f"SIM-{room.upper()}",
                "poll_interval": 1.0,
            }
        )
    return result
