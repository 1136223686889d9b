"""Every simulator installed: the built-in ones and those of ``roomvitals.simulators`` plug-ins.

A plug-in's entry point (``drivers/plugins.py`` has the declaration) names a module or object
with ``SIMULATORS``: protocol name -> ``SimulatorSpec``. ``make(port)`` returns a device with
the interface of ``simulators.serial.device.SimulatedDevice`` (``start``, ``stop``, ``set``,
``port``), not started; its ``state`` is one of the shared dataclasses (``Weighing``,
``Oximetry``, ``BloodPressureState``) so the named scenarios and scenario files drive it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from drivers.plugins import BUILT_IN, SIMULATORS_GROUP, load, mapping, report_problem
from simulators.serial.pty_port import PtyPort

KINDS = ("scale", "pulse_oximeter", "bp_monitor")
ESC = "healthometer-esc"


@dataclass(frozen=True)
class SimulatorSpec:
    """What a plug-in declares for one simulated device."""

    kind: str
    """``scale``, ``pulse_oximeter`` or ``bp_monitor`` (picks the named scenarios)."""
    make: Callable[[PtyPort], Any]
    description: str = ""


@dataclass(frozen=True)
class SimulatorEntry:
    name: str
    transport: str
    """``serial`` (a pty) or ``ble`` (a bumble GATT peripheral)."""
    kind: str
    source: str
    """``built-in`` or the package that brought it."""
    make: Callable[[PtyPort], Any] | None = None
    """Serial only: a new device on ``port``, not started."""


def _esc(port: PtyPort):
    from simulators.serial.healthometer_esc import HealthOMeterScale, ScaleState

    return HealthOMeterScale(port, ScaleState(weight=Decimal(0)))


def _built_in_serial(name: str) -> Callable[[PtyPort], Any]:
    from simulators.serial.scenarios import make_device

    return lambda port: make_device(name, port)


@cache
def serial_simulators() -> dict[str, SimulatorEntry]:
    """Serial simulators by protocol name, built-in first; plug-ins cannot replace one."""
    from simulators.serial.scenarios import PROTOCOLS, device_kind

    found = {ESC: SimulatorEntry(ESC, "serial", "scale", BUILT_IN, _esc)}
    for name in PROTOCOLS:
        found[name] = SimulatorEntry(name, "serial", device_kind(name), BUILT_IN,
                                     _built_in_serial(name))
    for plugin in load(SIMULATORS_GROUP):
        for name, spec in mapping(plugin, "SIMULATORS", required=True).items():
            if not isinstance(spec, SimulatorSpec) or spec.kind not in KINDS:
                report_problem(plugin.group, plugin.name, plugin.distribution,
                               f"SIMULATORS[{name!r}] must be a SimulatorSpec with a kind in "
                               + ", ".join(KINDS))
                continue
            if name in found:
                report_problem(plugin.group, plugin.name, plugin.distribution,
                               f"simulator {name!r} is already defined")
                continue
            found[name] = SimulatorEntry(name, "serial", spec.kind, plugin.distribution,
                                         spec.make)
    return found


def ble_simulators() -> dict[str, SimulatorEntry]:
    """The bumble GATT peripherals (``roomvitals simulate --ble KIND``), by protocol name."""
    from simulators.ble.host import PROTOCOLS

    kinds = {"bp-cuff": "bp_monitor", "thermometer": "thermometer", "scale": "scale",
             "oximeter": "pulse_oximeter"}
    return {protocol: SimulatorEntry(name, "ble", kinds.get(name, name), BUILT_IN)
            for name, protocol in PROTOCOLS.items()}


def make_serial(name: str, port: PtyPort):
    """A new serial simulator for protocol ``name`` on ``port`` (not started)."""
    entry = serial_simulators().get(name)
    if entry is None or entry.make is None:
        raise ValueError(
            f"no serial simulator for {name!r}; known: {', '.join(serial_simulators())}"
        )
    return entry.make(port)
