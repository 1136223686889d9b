"""Scenario files: a visit scripted over time, in TOML (format: docs/scenario-files.md).

A file names the simulated devices of a room (by protocol), what they show when (``set``
changes the device state: weight on the platform, SpO2 and pulse under the probe, the next
blood pressure), wire and device faults at given seconds (``unplug``, ``garbage``,
``no-value``, ``clock``, ``burst``) and the readings the gateway should make of it
(``[[expect]]``, checked by ``roomvitals.testing.expect_readings``).

``load(path)`` checks the file and says what is wrong with which entry; ``ScenarioRun`` puts
the devices on pseudo-terminals under a directory and plays the timeline (once, or over and
over with ``repeat = true``); ``gateway_devices()`` are the gateway's ``[[devices]]`` tables
for them.
"""

from __future__ import annotations

import contextlib
import threading
import time
import tomllib
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from simulators.plugins import make_serial, serial_simulators
from simulators.serial.pty_port import PtyPort

FAULTS = ("unplug", "garbage", "no-value", "clock", "burst")
SCENARIO_DIR = Path(__file__).parent / "scenarios"
_DECIMAL_FIELDS = {"weight", "height", "bmi"}


class ScenarioError(ValueError):
    """The scenario file is wrong; the text names the file, the entry and the problem."""


@dataclass(frozen=True)
class DeviceSpec:
    id: str
    protocol: str
    room: str
    model: str = ""
    state: dict[str, Any] = field(default_factory=dict)
    gateway: dict[str, Any] = field(default_factory=dict)
    """Extra settings for the gateway's [[devices]] entry (poll_interval, steady_seconds...)."""


@dataclass(frozen=True)
class Step:
    at: float
    device: str
    set: dict[str, Any] = field(default_factory=dict)
    measure: bool = False
    fault: str | None = None
    seconds: float = 3.0
    offset_s: float = 0.0
    count: int = 3


@dataclass(frozen=True)
class Scenario:
    path: Path
    title: str
    description: str
    devices: tuple[DeviceSpec, ...]
    steps: tuple[Step, ...]
    expect: tuple[dict[str, Any], ...]
    repeat: bool = False
    length: float = 0.0
    """Seconds of one pass of the timeline."""

    def expected(self, device_id: str) -> list[dict[str, Any]]:
        return [e for e in self.expect if e["device"] == device_id]


def named(name: str) -> Path:
    """A scenario shipped in ``simulators/scenarios/`` by file name (``.toml`` optional)."""
    path = SCENARIO_DIR / (name if name.endswith(".toml") else f"{name}.toml")
    if not path.exists():
        shipped = ", ".join(sorted(p.stem for p in SCENARIO_DIR.glob("*.toml")))
        raise ScenarioError(f"no scenario {name!r}; shipped: {shipped}")
    return path


def load(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ScenarioError(f"scenario file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    return parse(data, path)


def parse(data: dict, path: Path = Path("<scenario>")) -> Scenario:
    def fail(message: str) -> ScenarioError:
        return ScenarioError(f"{path}: {message}")

    unknown = set(data) - {"title", "description", "room", "repeat", "length", "devices",
                           "steps", "expect"}
    if unknown:
        raise fail(f"unknown key(s) {', '.join(sorted(unknown))}")
    room = str(data.get("room", "exam-1"))
    simulators = serial_simulators()
    devices = []
    for i, d in enumerate(data.get("devices", [])):
        where = f"devices[{i}]"
        if not isinstance(d, dict) or "id" not in d or "protocol" not in d:
            raise fail(f"{where} needs an id and a protocol")
        if d["protocol"] not in simulators:
            raise fail(f"{where}: no simulator for protocol {d['protocol']!r}; one of "
                       + ", ".join(simulators))
        extra = set(d) - {"id", "protocol", "room", "model", "state", "gateway"}
        if extra:
            raise fail(f"{where}: unknown key(s) {', '.join(sorted(extra))}")
        devices.append(DeviceSpec(str(d["id"]), d["protocol"], str(d.get("room", room)),
                                  str(d.get("model", "")), dict(d.get("state", {})),
                                  dict(d.get("gateway", {}))))
    if not devices:
        raise fail("no [[devices]]")
    ids = {d.id for d in devices}
    if len(ids) != len(devices):
        raise fail("two devices share an id")
    steps = []
    for i, s in enumerate(data.get("steps", [])):
        where = f"steps[{i}]"
        extra = set(s) - {"at", "device", "set", "measure", "fault", "seconds", "offset_s",
                          "count"}
        if extra:
            raise fail(f"{where}: unknown key(s) {', '.join(sorted(extra))}")
        if not isinstance(s.get("at"), int | float) or s["at"] < 0:
            raise fail(f"{where}: 'at' must be seconds from the start (a number >= 0)")
        if s.get("device") not in ids:
            raise fail(f"{where}: device {s.get('device')!r} is not one of {', '.join(ids)}")
        if s.get("fault") is not None and s["fault"] not in FAULTS:
            raise fail(f"{where}: fault {s['fault']!r} is not one of {', '.join(FAULTS)}")
        steps.append(Step(float(s["at"]), s["device"], dict(s.get("set", {})),
                          bool(s.get("measure", False)), s.get("fault"),
                          float(s.get("seconds", 3.0)), float(s.get("offset_s", 0.0)),
                          int(s.get("count", 3))))
    steps.sort(key=lambda step: step.at)
    expect = []
    for i, e in enumerate(data.get("expect", [])):
        if e.get("device") not in ids:
            raise fail(f"expect[{i}]: device {e.get('device')!r} is not one of {', '.join(ids)}")
        expect.append(dict(e))
    last = max((s.at + (s.seconds if s.fault in ("unplug", "no-value") else 0) for s in steps),
               default=0.0)
    length = float(data.get("length", last + 1))
    return Scenario(path, str(data.get("title", path.stem)), str(data.get("description", "")),
                    tuple(devices), tuple(steps), tuple(expect), bool(data.get("repeat", False)),
                    length)


class ScenarioRun:
    """The scenario's devices on pseudo-terminals under ``port_dir``, playing its timeline."""

    def __init__(self, scenario: Scenario, port_dir: str | Path, *, speed: float = 1.0) -> None:
        self.scenario = scenario
        self.speed = speed
        self.devices: dict[str, Any] = {}
        self.ports: dict[str, Path] = {}
        for spec in scenario.devices:
            path = Path(port_dir).absolute() / spec.id
            self.devices[spec.id] = make_serial(spec.protocol, PtyPort(path))
            self.ports[spec.id] = path
        for spec in scenario.devices:  # check every state field before anything starts
            self._apply(spec.id, spec.state, dry_run=True)
        for step in scenario.steps:
            self._apply(step.device, step.set, dry_run=True)
            self._check_fault(step)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scenario-file", daemon=True)
        self.passes = 0
        """Passes of the timeline finished."""

    def start(self) -> ScenarioRun:
        for spec in self.scenario.devices:
            self._apply(spec.id, spec.state)
            self.devices[spec.id].start()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        for device in self.devices.values():
            device.stop()

    def gateway_devices(self) -> list[dict[str, Any]]:
        """The gateway's [[devices]] tables for these simulated devices."""
        entries = []
        for spec in self.scenario.devices:
            entry = {"id": spec.id, "room": spec.room, "protocol": spec.protocol,
                     "port": str(self.ports[spec.id]),
                     "model": spec.model or f"{spec.protocol} (simulated)",
                     "serial": f"SIM-{spec.id.upper()}"}
            entries.append(entry | spec.gateway)
        return entries

    # --- timeline -------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            begun = time.monotonic()
            for step in self.scenario.steps:
                if self._stop.wait(max(0.0, begun + step.at / self.speed - time.monotonic())):
                    return
                self._do(step)
            rest = begun + self.scenario.length / self.speed - time.monotonic()
            if self._stop.wait(max(0.0, rest)):
                return
            self.passes += 1
            if not self.scenario.repeat:
                return

    def _do(self, step: Step) -> None:
        device = self.devices[step.device]
        if step.set:
            self._apply(step.device, step.set)
        if step.measure:
            if hasattr(device, "measure"):
                device.measure()  # DINAMAP: start a determination
            elif hasattr(device, "push"):
                device.push()  # ESC scale: the print key
        if step.fault is not None:
            self._fault(step, device)

    def _later(self, seconds: float, action) -> None:
        def run() -> None:
            if not self._stop.wait(seconds / self.speed):
                action()

        threading.Thread(target=run, name="scenario-later", daemon=True).start()

    def _fault(self, step: Step, device: Any) -> None:
        if step.fault == "unplug":
            device.port.unplug()
            self._later(step.seconds, device.port.plug)
        elif step.fault == "garbage":
            noise = device.noise() if hasattr(device, "noise") else b"\x00\xff\x13garbage\r\n"
            device.port.write(noise)
        elif step.fault == "no-value":
            changes = _NO_VALUE[_kind(step.device, self)]
            device.set(**changes)
            self._later(step.seconds, lambda: device.set(**{k: not v for k, v in changes.items()}))
        elif step.fault == "clock":
            device.clock_offset = timedelta(seconds=step.offset_s)
        elif step.fault == "burst":
            _burst(device, step.count)

    def _check_fault(self, step: Step) -> None:
        if step.fault is None:
            return
        device = self.devices[step.device]
        problem = ""
        if step.fault == "no-value" and _kind(step.device, self) not in _NO_VALUE:
            problem = "a scale has no no-value marker on its wire"
        elif step.fault == "clock" and not hasattr(device, "clock_offset"):
            problem = "this simulator has no device clock to set off"
        elif step.fault == "burst" and not _can_burst(device):
            problem = "this simulator keeps no stored records (Nonin DF13 does)"
        if problem:
            raise ScenarioError(f"{self.scenario.path}: fault {step.fault!r} at "
                                f"t={step.at:g} s on {step.device!r}: {problem}")

    def _apply(self, device_id: str, changes: dict[str, Any], *, dry_run: bool = False) -> None:
        if not changes:
            return
        device = self.devices[device_id]
        state = device.state
        names = {f.name for f in fields(state)} if is_dataclass(state) else set()
        values = {}
        for name, value in changes.items():
            if name not in names:
                raise ScenarioError(
                    f"{self.scenario.path}: device {device_id!r} has no state field {name!r}; "
                    f"fields: {', '.join(sorted(names))}")
            current = getattr(state, name)
            if isinstance(current, Decimal) or name in _DECIMAL_FIELDS:
                value = Decimal(str(value))
            values[name] = value
        if not dry_run:
            device.set(**values)


def _kind(device_id: str, run: ScenarioRun) -> str:
    spec = next(d for d in run.scenario.devices if d.id == device_id)
    return serial_simulators()[spec.protocol].kind


# The device's own no-value marker follows from these states (Nonin 127/511, CMS50 0x7F,
# Masimo dashes; a DINAMAP determination that ends in an error).
_NO_VALUE = {"pulse_oximeter": {"searching": True}, "bp_monitor": {"fails": True}}


def _can_burst(device: Any) -> bool:
    return hasattr(device, "df13_record") and getattr(device, "data_format", None) == 13


def _burst(device: Any, count: int) -> None:
    """Stored spot checks sent at once, oldest first, as a DF13 oximeter does on reconnect."""
    now = datetime.now().replace(microsecond=0)
    state = device.state
    for n in range(count, 0, -1):
        record = device.df13_record(state.pulse, state.spo2, now - timedelta(minutes=5 * n),
                                    from_memory=True)
        with contextlib.suppress(OSError):
            device.send(record)


def run_file(file: str, port_dir: str | None = None) -> int:
    """``roomvitals simulate --scenario FILE``: play it until its end (or Ctrl-C when it
    repeats), printing each device's port and the gateway's [[devices]] tables."""
    import json
    import signal

    try:
        run = ScenarioRun(load(file), Path(port_dir or "var/sim").absolute())
    except ScenarioError as exc:
        print(f"roomvitals simulate: {exc}", flush=True)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    run.start()
    print(f"scenario: {run.scenario.title}", flush=True)
    for entry in run.gateway_devices():
        print(f"{entry['protocol']} {entry['id']} on {entry['port']}", flush=True)
    print("gateway [[devices]]:", flush=True)
    for entry in run.gateway_devices():
        print("\n[[devices]]\n" + "\n".join(f"{k} = {json.dumps(v)}" for k, v in entry.items()))
    while not stop.wait(0.5):
        if run.passes and not run.scenario.repeat:
            break
    run.stop()
    return 0


def for_room(scenario: Scenario, room: str) -> Scenario:
    """The same scenario placed in ``room``: device ids become ``<room>-<id>``."""
    from dataclasses import replace

    def rename(device_id: str) -> str:
        return f"{room}-{device_id}"

    return replace(
        scenario,
        devices=tuple(replace(d, id=rename(d.id), room=room) for d in scenario.devices),
        steps=tuple(replace(s, device=rename(s.device)) for s in scenario.steps),
        expect=tuple(e | {"device": rename(e["device"])} for e in scenario.expect),
    )
