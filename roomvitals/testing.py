"""Public test helpers for device integrators (docs/writing-a-driver.md).

* ``expect_readings(scenario, broker_port=..., workdir=...)``: play a scenario file's devices
  on pseudo-terminals, run the real gateway against an MQTT broker, and assert that each
  device's readings are the file's ``[[expect]]`` entries, in order. Returns the readings.
* ``readings_of(protocol, data)``: what a parser makes of some bytes, for a parser test.
* ``replay_readings(capture)``: what the parser makes of a capture file's device bytes, the
  way a live gateway's parser saw them (chunk by chunk).
* ``describe(measurement)``: one stable line per measurement, as capture headers keep them.
* ``matches(expected, reading)``: one ``[[expect]]`` entry against one reading message.

A test needs a broker for ``expect_readings``; the project's tests use their ``mosquitto``
fixture, any MQTT 5 broker on 127.0.0.1 will do.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from vitals.message import Reading, decode_reading

_NOT_OBSERVATIONS = {"device", "flags", "absent", "measured_at_source"}


def matches(expected: dict[str, Any], reading: Reading) -> list[str]:
    """What differs between an ``[[expect]]`` entry and a reading ([] when it matches).

    Keys: observation kinds (``weight``, ``spo2``, ``pulse_rate``, ``systolic``...) with the
    value expected (compared as decimals), ``flags`` (each must be set), ``absent`` (kinds
    that must be there without a value), ``measured_at_source`` (``device`` or ``gateway``).
    """
    problems = []
    for kind, value in expected.items():
        if kind in _NOT_OBSERVATIONS:
            continue
        observed = reading.observation(kind)
        if observed is None or observed.value is None:
            problems.append(f"{kind}: expected {value}, reading has none")
        elif Decimal(str(value)) != observed.value:
            problems.append(f"{kind}: expected {value}, got {observed.value}")
    missing = set(expected.get("flags", ())) - reading.flags
    if missing:
        problems.append(f"flags {sorted(missing)} missing (has {sorted(reading.flags)})")
    for kind in expected.get("absent", ()):
        observed = reading.observation(kind)
        if observed is None or observed.value is not None:
            problems.append(f"{kind}: expected no value")
    source = expected.get("measured_at_source")
    if source is not None and reading.measured_at_source != source:
        problems.append(f"measured_at_source {reading.measured_at_source}, expected {source}")
    return problems


class _Readings:
    """Reading messages of one site, collected from the broker."""

    def __init__(self, port: int, site: str) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.readings: list[Reading] = []
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_connect = lambda c, *_: c.subscribe(f"roomvitals/v1/{site}/reading/#", 1)
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_message = self._message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not subscribed.wait(10):
            raise AssertionError(f"could not subscribe on the broker at 127.0.0.1:{port}")

    def _message(self, _client, _userdata, message) -> None:
        with self._lock:
            self.readings.append(decode_reading(message.payload))

    def of(self, device_id: str) -> list[Reading]:
        with self._lock:
            return [r for r in self.readings if r.device.id == device_id]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _summary(reading: Reading) -> str:
    values = ", ".join(f"{o.kind}={o.value}" for o in reading.observations)
    return f"{values} flags={sorted(reading.flags)}"


def expect_readings(
    scenario: str | Path, *, broker_port: int, workdir: str | Path, timeout: float = 60.0,
    speed: float = 1.0,
) -> list[Reading]:
    """Run ``scenario`` (a path, or the name of a shipped one) through the real gateway and
    assert its ``[[expect]]`` readings, per device and in order; more readings than expected
    fail too. Returns every reading received."""
    from device_gateway.config import parse_config
    from device_gateway.gateway import Gateway
    from simulators.scenario_file import ScenarioRun, load, named

    path = Path(scenario)
    loaded = load(path if path.suffix == ".toml" else named(str(scenario)))
    if not loaded.expect:
        raise AssertionError(f"{loaded.path} has no [[expect]] entries")
    workdir = Path(workdir)
    site = f"scenario-{uuid.uuid4().hex[:12]}"  # nothing retained from another run mixes in
    run = ScenarioRun(loaded, workdir / "dev", speed=speed)
    collected = _Readings(broker_port, site)
    gateway = Gateway(parse_config({
        "site": site, "gateway_id": "gw-scenario", "state_dir": str(workdir / "gateway"),
        "broker": {"url": f"mqtt://127.0.0.1:{broker_port}"},
        "devices": run.gateway_devices(),
    }))
    try:
        run.start()
        gateway.start()
        wanted = {d.id: loaded.expected(d.id) for d in loaded.devices}
        deadline = time.monotonic() + timeout
        while any(len(collected.of(d)) < len(e) for d, e in wanted.items()):
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        if not loaded.repeat:  # a run that ends: wait for the timeline, then a little more
            while run.passes < 1 and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1.0)
    finally:
        gateway.stop()
        run.stop()
        collected.close()
    problems = []
    for device_id, expected in wanted.items():
        got = collected.of(device_id)
        if loaded.repeat:
            got = got[: len(expected)]  # a looping scenario goes on making readings
        for n, entry in enumerate(expected):
            if n >= len(got):
                problems.append(f"{device_id} reading {n + 1}: expected {entry}, none came")
                continue
            for problem in matches(entry, got[n]):
                problems.append(f"{device_id} reading {n + 1}: {problem}")
        for extra in got[len(expected):]:
            problems.append(f"{device_id}: unexpected reading {_summary(extra)}")
    if problems:
        raise AssertionError(f"{loaded.path.name}:\n  " + "\n  ".join(problems))
    return list(collected.readings)


def describe(measurement: Any) -> str:
    """One line for a measurement: its type and every field but ``raw``, flags sorted, so two
    runs (and two Python processes) write the same text for the same measurement."""
    from dataclasses import fields

    parts = []
    for f in fields(measurement):
        if f.name == "raw":
            continue
        value = getattr(measurement, f.name)
        parts.append(f"{f.name}={sorted(value) if f.name == 'flags' else value!r}")
    return f"{type(measurement).__name__}({', '.join(parts)})"


def readings_of(protocol: str, data: bytes | Sequence[bytes]) -> list[Any]:
    """Every measurement a fresh ``protocol`` parser makes of ``data`` (bytes or chunks)."""
    from drivers.serial import parser

    chunks = [data] if isinstance(data, bytes | bytearray) else list(data)
    p = parser(protocol)
    return [m for chunk in chunks for m in p.feed(bytes(chunk))]


def replay_readings(capture: str | Path) -> list[Any]:
    """What the capture's protocol parser makes of its device bytes, chunk by chunk."""
    from simulators.capture import read_capture

    header, records = read_capture(capture)
    if header.transport != "serial":
        raise ValueError(f"{capture}: a {header.transport} capture; replay it with a central")
    return readings_of(header.protocol, [r.data for r in records if r.direction == "rx"])
