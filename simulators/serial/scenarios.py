"""Scripted behaviour over time of every simulated serial device (except the ESC scale, whose
scenarios are in ``scale_scenarios``), and which simulator speaks which protocol.

A scenario is what the patient does (``normal`` adult, ``low-spo2``, ``finger-removed``,
``motion`` artifact, ``spot-cycle`` of patients; scale ``weigh-cycle``, ``steady``,
``motion``, ``overload``; blood pressure ``normal``, ``hypertensive``, ``error``) or a fault
of the wire on top of the device's usual behaviour (``garbage`` bursts, a frame ``split``
across writes, ``unplug``/replug, ``slow-baud``).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from simulators.serial.cms50 import CMS50Oximeter
from simulators.serial.device import SimulatedDevice
from simulators.serial.dinamap import DinamapMonitor
from simulators.serial.masimo import MasimoOximeter
from simulators.serial.nonin import NoninOximeter
from simulators.serial.pty_port import PtyPort
from simulators.serial.sma import SmaScale
from simulators.serial.tanita import TanitaScale
from simulators.serial.toledo import ToledoScale

FAULTS = ("garbage", "split", "unplug", "slow-baud")
SCENARIOS: dict[str, tuple[str, ...]] = {
    "pulse_oximeter": ("normal", "low-spo2", "finger-removed", "motion", "spot-cycle", *FAULTS),
    "scale": ("weigh-cycle", "steady", "motion", "overload", *FAULTS),
    "bp_monitor": ("normal", "hypertensive", "error", *FAULTS),
}
DEFAULT_SCENARIO = {"pulse_oximeter": "spot-cycle", "scale": "weigh-cycle", "bp_monitor": "normal"}

_DEVICES: dict[str, tuple[str, Callable[[PtyPort], SimulatedDevice]]] = {
    "nonin-df2": ("pulse_oximeter", lambda p: NoninOximeter(p, data_format=2)),
    "nonin-df7": ("pulse_oximeter", lambda p: NoninOximeter(p, data_format=7)),
    "nonin-df8": ("pulse_oximeter", lambda p: NoninOximeter(p, data_format=8)),
    "nonin-df13": ("pulse_oximeter", lambda p: NoninOximeter(p, data_format=13)),
    "nonin-ascii": ("pulse_oximeter", lambda p: NoninOximeter(p, data_format="ascii")),
    "cms50": ("pulse_oximeter", lambda p: CMS50Oximeter(p)),
    "cms50-v7": ("pulse_oximeter", lambda p: CMS50Oximeter(p)),
    "cms50-legacy": ("pulse_oximeter", lambda p: CMS50Oximeter(p, generation="legacy")),
    "masimo-ascii": ("pulse_oximeter", lambda p: MasimoOximeter(p)),
    "sma": ("scale", lambda p: SmaScale(p)),
    "toledo-continuous": ("scale", lambda p: ToledoScale(p)),
    "tanita-csv": ("scale", lambda p: TanitaScale(p)),
    "dinamap": ("bp_monitor", lambda p: DinamapMonitor(p)),
}
PROTOCOLS = tuple(_DEVICES)


def device_kind(protocol: str) -> str:
    return _DEVICES[protocol][0]


def make_device(protocol: str, port: PtyPort) -> SimulatedDevice:
    try:
        return _DEVICES[protocol][1](port)
    except KeyError:
        raise ValueError(
            f"no simulator for protocol {protocol!r}; known: {', '.join(PROTOCOLS)}"
        ) from None


@dataclass
class Scenario:
    device: SimulatedDevice
    kind: str
    name: str
    cycle_seconds: float = 12.0
    """How long a patient stays (oximeter placement, weighing, time between BP readings)."""
    rng: random.Random = field(default_factory=lambda: random.Random(11))

    def __post_init__(self) -> None:
        if self.name not in SCENARIOS[self.kind]:
            raise ValueError(
                f"unknown {self.kind} scenario {self.name!r}; known: "
                + ", ".join(SCENARIOS[self.kind])
            )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scenario", daemon=True)

    def start(self) -> Scenario:
        faults = self.device.faults
        if self.name == "garbage":
            faults.garbage_every = 3
        elif self.name == "split":
            faults.split = True
        elif self.name == "slow-baud":
            faults.bytes_per_second = 960  # a 9600 baud device on a line set to 9600 / 10
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=3)

    def _wait(self, seconds: float) -> bool:
        """Sleep; True when the scenario is being stopped."""
        return self._stop.wait(seconds)

    def _run(self) -> None:
        step = {"pulse_oximeter": self._oximeter, "scale": self._scale, "bp_monitor": self._bp}
        cycle = 0
        while not self._stop.is_set():
            cycle += 1
            if step[self.kind](cycle):
                return
            if self.name == "unplug" and cycle % 2 == 0:
                self.device.port.unplug()
                if self._wait(3.0):
                    return
                self.device.port.plug()

    # --- per kind; each returns True when stopped ----------------------------------------
    def _patient(self) -> tuple[int, int]:
        if self.name == "low-spo2":
            return self.rng.randint(86, 89), self.rng.randint(96, 104)
        return self.rng.randint(95, 99), self.rng.randint(58, 92)

    def _oximeter(self, cycle: int) -> bool:
        spo2, pulse = self._patient()
        removals = self.name in ("spot-cycle", "finger-removed")
        if removals:
            self.device.set(finger=True)
        elapsed = 0.0
        while elapsed < self.cycle_seconds:
            jitter = self.rng.choice((-1, 0, 0, 1))
            artifact = self.name == "motion" and int(elapsed) % 6 >= 3
            self.device.set(
                spo2=max(
                    50, min(100, spo2 + jitter + (self.rng.randint(-6, 3) if artifact else 0))
                ),
                pulse=pulse + self.rng.choice((-2, -1, 0, 1, 2)),
                artifact=artifact,
                finger=True,
            )
            if self._wait(1.0):
                return True
            elapsed += 1.0
        if removals:
            self.device.set(finger=False)
            return self._wait(5.0)
        return False

    def _scale(self, cycle: int) -> bool:
        if self.name == "overload":
            self.device.set(weight=Decimal("350.0"), overload=True)
            return self._wait(self.cycle_seconds)
        if self.name == "steady":
            self.device.set(weight=Decimal("72.4"))
            return self._wait(self.cycle_seconds)
        kg = max(3.0, self.rng.choice([self.rng.gauss(78, 14), self.rng.gauss(30, 9)]))
        weight = Decimal(f"{kg:.1f}")
        settle = 4.0 if self.name == "motion" else 1.0
        self.device.set(weight=weight + Decimal("1.3"), motion=True)  # stepping on
        if self._wait(settle):
            return True
        self.device.set(weight=weight, motion=False)
        if self._wait(self.cycle_seconds / 2):
            return True
        self.device.set(weight=Decimal("0.0"), motion=False)  # stepped off
        return self._wait(self.cycle_seconds / 3)

    def _bp(self, cycle: int) -> bool:
        if self.name == "hypertensive":
            systolic, diastolic = self.rng.randint(150, 175), self.rng.randint(95, 110)
        else:
            systolic, diastolic = self.rng.randint(108, 132), self.rng.randint(66, 84)
        self.device.set(
            systolic=systolic,
            diastolic=diastolic,
            mean=round((systolic + 2 * diastolic) / 3),
            pulse=self.rng.randint(58, 92),
            fails=self.name == "error",
        )
        if isinstance(self.device, DinamapMonitor):
            self.device.measure()  # as the monitor's own interval timer does
        return self._wait(self.cycle_seconds)
