"""Serial devices of the demo rooms: a Health o meter scale in every room, and a streaming
pulse oximeter beside it (a Nonin DF7 in odd-numbered rooms such as exam-1, a Contec CMS50 in
even-numbered ones such as exam-2), each on its own pseudo-terminal."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from simulators.demo_devices import DemoDevices
from simulators.serial.healthometer_esc import HealthOMeterScale, ScaleState
from simulators.serial.pty_port import PtyPort
from simulators.serial.scale_scenarios import ScaleScenario
from simulators.serial.scenarios import Scenario, make_device

OXIMETERS = (
    ("nonin-df7", "Nonin Onyx II 9560 (simulated)"),
    ("cms50", "Contec CMS50D+ (simulated)"),
)


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
        protocol, model = OXIMETERS[index % len(OXIMETERS)]
        ox_port = PtyPort(state_dir / "dev" / f"{room}-oximeter")
        oximeter = make_device(protocol, ox_port).start()
        placements = Scenario(oximeter, "pulse_oximeter", "spot-cycle", cycle_seconds=12 + index)
        placements.start()
        result.stoppers += [oximeter.stop, placements.stop]
        result.devices.append(
            {
                "id": f"{room}-oximeter",
                "room": room,
                "protocol": protocol,
                "port": str(ox_port.path),
                "model": model,
                "serial": f"SIM-OX-{room.upper()}",
                "steady_seconds": 6,
            }
        )
    return result
