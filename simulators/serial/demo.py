"""Serial devices of the demo rooms: a Health o meter scale in every room, and a streaming
pulse oximeter beside it (a Nonin DF7 in odd-numbered rooms such as exam-1, a Contec CMS50 in
even-numbered ones such as exam-2), each on its own pseudo-terminal."""

from __future__ import annotations

from pathlib import Path

from simulators.demo_devices import DemoDevices

ROOM_SCENARIOS = ("demo-room-a", "demo-room-b")


def start(state_dir: Path, rooms: list[str]) -> DemoDevices:
    # The rooms are scenario files (simulators/scenarios/demo-room-*.toml): odd rooms play
    # room A (scale + Nonin DF7), even rooms room B (scale + CMS50).
    from simulators.scenario_file import ScenarioRun, for_room, load, named

    result = DemoDevices()
    for index, room in enumerate(rooms):
        scenario = for_room(load(named(ROOM_SCENARIOS[index % len(ROOM_SCENARIOS)])), room)
        run = ScenarioRun(scenario, state_dir / "dev").start()
        result.stoppers.append(run.stop)
        result.devices += run.gateway_devices()
    return result
