"""What a demo room holds: each transport's simulators start here and say how to reach them.

``start(state_dir, rooms)`` of each provider starts its simulated devices and returns the
gateway configuration entries for them (``[[devices]]`` tables as dicts) and a way to stop
them. ``roomvitals demo`` collects them all; a provider adds devices without touching it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path


@dataclass
class DemoDevices:
    devices: list[dict] = field(default_factory=list)
    stoppers: list[Callable[[], None]] = field(default_factory=list)

    def stop(self) -> None:
        for stop in reversed(self.stoppers):
            stop()


PROVIDERS = ("simulators.serial.demo", "simulators.ble.demo")


def start_all(state_dir: Path, rooms: list[str]) -> DemoDevices:
    everything = DemoDevices()
    for name in PROVIDERS:
        try:
            provider = import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        started: DemoDevices = provider.start(state_dir, rooms)
        everything.devices += started.devices
        everything.stoppers += started.stoppers
    return everything
