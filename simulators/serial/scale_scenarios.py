"""Scripted behaviour of a simulated scale over time (who steps on, for how long).

``weigh-cycle``: a patient steps on, stands still, steps off, the next one comes;
``steady``: one weight stays on the platform; ``overload``: the scale reports 999.9;
``garbage``: like weigh-cycle with line noise before every third packet;
``unplug``: like weigh-cycle, and the cable is pulled for a few seconds now and then.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from decimal import Decimal

from simulators.serial.healthometer_esc import HealthOMeterScale

SCENARIOS = ("weigh-cycle", "steady", "overload", "garbage", "unplug")


@dataclass
class ScaleScenario:
    scale: HealthOMeterScale
    name: str = "weigh-cycle"
    on_seconds: float = 6.0
    off_seconds: float = 4.0
    push: bool = False
    """Also push each weighing unasked (print key), besides answering the host's requests."""
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    def __post_init__(self) -> None:
        if self.name not in SCENARIOS:
            raise ValueError(f"unknown scale scenario {self.name!r}; known: {', '.join(SCENARIOS)}")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scale-scenario", daemon=True)

    def start(self) -> ScaleScenario:
        if self.name == "garbage":
            self.scale.garbage_every = 3
        if self.name == "overload":
            self.scale.set(overload=True)
        if self.name == "steady":
            return self
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)

    def _patient_weight(self) -> Decimal:
        kg = self.rng.choice([self.rng.gauss(78, 14), self.rng.gauss(30, 9)])
        return Decimal(f"{max(kg, 3.0):.1f}")

    def _run(self) -> None:
        cycle = 0
        while not self._stop.is_set():
            cycle += 1
            self.scale.set(weight=self._patient_weight())
            if self.push:
                self.scale.push()
            if self._stop.wait(self.on_seconds):
                return
            self.scale.set(weight=Decimal("0.0"))
            if self.name == "unplug" and cycle % 3 == 0:
                self.scale.port.unplug()
                if self._stop.wait(self.off_seconds):
                    return
                self.scale.port.plug()
            if self._stop.wait(self.off_seconds):
                return
