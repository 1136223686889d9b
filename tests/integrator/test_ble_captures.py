"""BLE captures: record a simulated device through the real bleak code path, replay the
capture as a bumble peripheral, and the gateway files exactly the readings it filed from the
live device (values, units, flags, device times, ids, raw bytes). One capture per health
profile is kept under tests/captures/ble/ and replayed here; regenerate them with
``.venv/bin/python -m tests.integrator.test_ble_captures``.

Everything runs on the gateway's BLE loop with an in-process virtual radio
(tests/ble/conftest.py); the gateway reaches the live device and the replay alike with
``backend = "bumble"``, ``bumble_transport = "local"``."""

from __future__ import annotations

import asyncio
import json
import random
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

import pytest

from device_gateway.ble_config import PROFILES
from device_gateway.observations import observations, verdict
from drivers.ble import decode_detailed
from roomvitals.testing import describe
from simulators.ble import encoding
from simulators.ble.capture import BleRecorder, short_uuid
from simulators.ble.radio import VirtualRadio
from simulators.ble.replay import ReplayPeripheral, add_replay
from simulators.ble.scenarios import scenario
from simulators.capture import CaptureError, CaptureHeader, read_capture
from tests.ble.conftest import ble_gateway, collector, radio, readings  # noqa: F401 (fixtures)
from tests.helpers import wait_until

CAPTURES = Path(__file__).parent.parent / "captures" / "ble"
ROOT = Path(__file__).resolve().parents[2]


# ---- what each simulated device holds and does while it is recorded ----------------------
@dataclass(frozen=True)
class Case:
    kind: str
    profile: str
    scenario: str
    store: Callable  # (device) -> None: records kept on the device before anyone connects
    readings: int  # how many of them the gateway files as readings
    during: Callable | None = None  # coroutine factory run once the recorder subscribed


def _cuff(cuff) -> None:
    cuff.store(cuff.record(Decimal(128), Decimal(82), Decimal(97), Decimal(66)))
    cuff.store(cuff.record(None, None, None, Decimal(72)))  # pressures NaN, pulse measured
    cuff.store(cuff.record(Decimal(150), Decimal(95), Decimal(113), Decimal(88),
                           status=encoding.BP_CUFF_LOOSE | encoding.BP_BODY_MOVEMENT))
    cuff.store(cuff.record(Decimal(138), Decimal(86), Decimal(103), Decimal(93),
                           status=encoding.BP_IRREGULAR_PULSE, user_id=None))


def _thermometer(thermometer) -> None:
    for value in (Decimal("37.85"), "nres", Decimal("36.60")):
        thermometer.store(thermometer.record(value))


def _scale(scale) -> None:
    scale.store(scale.record(Decimal("81.35"), Decimal("1.774"), Decimal("25.8")))
    scale.store(scale.record(None))  # 0xFFFF: measurement unsuccessful, not a reading
    scale.store(scale.record(Decimal("64.20")))


def _oximeter(oximeter) -> None:
    oximeter.store(oximeter.record(Decimal(97), Decimal(71)))
    oximeter.store(oximeter.record(Decimal(91), Decimal(104),
                                   device_status=encoding.PLX_LOW_PERFUSION))
    oximeter.store(oximeter.record(None, None,
                                   device_status=encoding.PLX_SENSOR_DISCONNECTED))


CASES = {
    # The cuff stays connected: it sends its stored records, then a measurement taken while
    # the recorder listens (cuff pressure notified on 0x2A36 while inflating, then 0x2A35).
    "blood-pressure": Case("bp-cuff", "blood-pressure", "backlog", _cuff, 5,
                           lambda cuff: cuff.take(random.Random(3))),
    "health-thermometer": Case("thermometer", "health-thermometer", "backlog", _thermometer, 2),
    "weight-scale": Case("scale", "weight-scale", "backlog", _scale, 2),
    # RACP: the oximeter sends its spot-checks when asked, then hangs up.
    "pulse-oximeter": Case("oximeter", "pulse-oximeter", "upload-disconnect", _oximeter, 2),
}


def add_device(sim: VirtualRadio, case: Case):
    changes = {"disconnect_after_upload": False} if case.during else {}
    device = sim.call(sim.add(case.kind, scenario(case.scenario, **changes),
                                  serial=f"SN-{case.kind}"))
    case.store(device)
    return device


def record(sim: VirtualRadio, device, case: Case, out: Path, source: str = "") -> BleRecorder:
    """One session of ``roomvitals record --ble``'s recorder with ``device``."""
    recorder = BleRecorder(case.profile, out, address=device.address, backend="bumble",
                           bumble_transport="local", source=source, scan_timeout=2.0,
                           connect_timeout=2.0, racp_timeout=5.0)
    stop = asyncio.Event()
    running = asyncio.run_coroutine_threadsafe(recorder.run(stop, seconds=15), sim.loop)
    if case.during is not None:
        measurement = PROFILES[case.profile].record
        stored = len(device.records)
        wait_until(lambda: len(next(iter(device._subscribed.values()), ())) >= 2)
        sim.call(case.during(device))
        wait_until(lambda: len(recorder.readings) == stored + 1 and device.counters.indications
                   >= stored + 1)
        assert measurement in next(iter(device._subscribed.values()))
        sim.loop.call_soon_threadsafe(stop.set)
    running.result(30)
    return recorder


def view(reading) -> tuple:
    """Everything a reading says about the measurement (not when or by which gateway run it
    was received): the id is derived from device, device time and values where the device
    time-stamped it, so it must be equal too."""
    by_device = reading.measured_at_source == "device"
    return (
        reading.id if by_device else None,
        reading.device.kind, reading.device.protocol, reading.device.serial,
        tuple((o.kind, o.value, o.unit, o.mdc, o.loinc, o.absent_reason)
              for o in reading.observations),
        tuple(sorted(reading.flags)),
        reading.measured_at if by_device else None,
        reading.measured_at_source, reading.raw,
    )


def entry(case: Case, address: str) -> dict:
    return {"id": f"{case.kind}-1", "protocol": case.profile, "address": address,
            "serial": f"SN-{case.kind}"}


# ---- record live, replay, compare --------------------------------------------------------
@pytest.mark.parametrize("profile", CASES)
def test_replay_gives_the_gateway_the_readings_of_the_live_device(
        profile, mosquitto, radio, ble_gateway, collector, tmp_path):  # noqa: F811
    case = CASES[profile]
    device = add_device(radio, case)
    out = tmp_path / f"ble-{profile}.jsonl"
    recorder = record(radio, device, case, out)
    header, records = read_capture(out)
    assert header.transport == "ble" and header.protocol == profile
    assert header.readings == recorder.readings and len(header.readings) >= case.readings
    assert header.patient_ids.startswith("none:") and "serial number" in header.patient_ids
    info = header.gatt["device_information"]
    assert (info["model_number"], info["serial_number"]) == (device.model, f"SN-{case.kind}")

    # The live device, read by the gateway.
    gateway = ble_gateway(mosquitto.port, entry(case, device.address))
    wait_until(lambda: len(readings(collector)) == case.readings)
    wait_until(lambda: gateway.outbox.depth() == 0)
    gateway.stop()
    live = readings(collector)
    radio.call(device.stop())  # off the air: only the replay answers at its address now

    # The replay, read by a fresh gateway with the same configuration.
    replay = radio.call(add_replay(radio, out, speed=4.0))
    assert replay.address == device.address and replay.name == device.name
    ble_gateway(mosquitto.port, entry(case, device.address))
    wait_until(lambda: len(readings(collector)) == 2 * case.readings)
    replayed = readings(collector)[case.readings:]
    assert [view(r) for r in replayed] == [view(r) for r in live]
    for before, after in zip(live, replayed, strict=True):
        # The replayed clock runs at the recorded offset (whole seconds on the device).
        assert (before.device.clock_offset_s is None) == (after.device.clock_offset_s is None)
        if before.device.clock_offset_s is not None:
            assert abs(before.device.clock_offset_s - after.device.clock_offset_s) < 5
    assert replay.done.is_set() and replay.skipped == 0
    assert replay.sent == len(replay.timeline) == sum(
        r.op in ("notify", "indicate") for r in records)
    if case.during is not None:  # the cuff pressure of the recording went to the live topic
        pressures = [v["value"] for m in collector.on("live") for v in json.loads(m.payload)[
            "values"] if v["kind"] == "systolic"]
        assert pressures == [40, 75, 110, 145, 180]


# ---- the committed captures, replayed in CI ----------------------------------------------
def test_there_is_a_capture_for_every_ble_profile():
    assert {p.stem for p in CAPTURES.glob("*.jsonl")} == set(PROFILES)


def decoded(header: CaptureHeader, records) -> list:
    """The measurement characteristic's values as the gateway's decoder reads them."""
    from drivers.ble.quirks import quirks_for_model

    quirks = quirks_for_model(header.gatt["name"]) | quirks_for_model(
        header.gatt["device_information"].get("model_number"))
    record_char = PROFILES[header.protocol].record
    return [decode_detailed(record_char, r.data, quirks=quirks) for r in records
            if short_uuid(r.char) == record_char and r.op in ("notify", "indicate")]


def expected_view(result) -> tuple:
    m = result.value
    timestamp = None if "device_clock_not_set" in m.flags else m.timestamp
    return (tuple((o.kind, o.value, o.unit) for o in observations(m, result.absent_reasons)),
            tuple(sorted(m.flags)), timestamp, m.raw.hex())


def filed_view(reading) -> tuple:
    by_device = reading.measured_at_source == "device"
    return (tuple((o.kind, o.value, o.unit) for o in reading.observations),
            tuple(sorted(reading.flags)),
            reading.measured_at.replace(tzinfo=None) if by_device else None, reading.raw)


@pytest.mark.parametrize("capture", sorted(CAPTURES.glob("*.jsonl")), ids=lambda p: p.stem)
def test_a_committed_capture_replays_to_its_readings(
        capture, mosquitto, radio, ble_gateway, collector):  # noqa: F811
    header, records = read_capture(capture)
    assert header.transport == "ble" and header.source.startswith("simulator ")
    assert header.patient_ids.startswith("none:")
    results = decoded(header, records)
    # The decoder still reads the bytes as it did while recording...
    assert [describe(r.value) for r in results] == header.readings and header.readings
    expected = [expected_view(r) for r in results if verdict(r.value).is_reading]
    assert expected, "a capture that files nothing tests nothing"
    # ...and the gateway files exactly those from the replay, in order.
    replay = radio.call(add_replay(radio, capture, speed=5.0))
    ble_gateway(mosquitto.port, {"id": "dev-1", "protocol": header.protocol,
                                 "address": replay.address})
    wait_until(lambda: len(readings(collector)) >= len(expected) and replay.done.is_set())
    assert [filed_view(r) for r in readings(collector)] == expected


def test_the_replay_command_serves_a_capture_to_a_gateway_in_another_process(
        mosquitto, ble_gateway, collector, tmp_path):  # noqa: F811
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = tmp_path / "devices.json"
    capture = CAPTURES / "health-thermometer.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "roomvitals.cli", "replay", str(capture), "--speed", "5",
         "--hci", f"tcp-server:127.0.0.1:{port}", "--devices-out", str(out)],
        stdout=subprocess.PIPE, text=True, cwd=ROOT)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True).start()
    try:
        wait_until(out.exists, timeout=30)
        [device] = json.loads(out.read_text())
        assert (device["backend"], device["bumble_transport"]) == (
            "bumble", f"tcp-client:127.0.0.1:{port}")
        ble_gateway(mosquitto.port, {**device, "reconnect_min_s": 0.2, "room": "exam-1"})
        header, records = read_capture(capture)
        wanted = sum(verdict(r.value).is_reading for r in decoded(header, records))
        wait_until(lambda: len(readings(collector)) == wanted, timeout=30)
        wait_until(lambda: len(lines) >= 3)
        assert lines[0].startswith("thermometer ") and "replay of" in lines[0]
        assert lines[1].strip() == f"gateway controller on tcp-server:127.0.0.1:{port}"
        assert 'backend = "bumble"' in lines[2]
    finally:
        process.terminate()
        process.wait(10)


def test_the_record_command_records_a_simulator_process(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    devices = tmp_path / "devices.json"
    simulator = subprocess.Popen(
        [sys.executable, "-m", "roomvitals.cli", "simulate", "--ble", "thermometer", "--hci",
         f"tcp-server:127.0.0.1:{port}", "--every", "1", "--devices-out", str(devices)],
        stdout=subprocess.DEVNULL, cwd=ROOT)
    try:
        wait_until(devices.exists, timeout=30)
        [device] = json.loads(devices.read_text())
        # Its first measurement comes 1 s after it starts (simulators/ble/host.py); a recorder
        # connecting before that would find nothing stored and be hung up on, empty-handed.
        time.sleep(max(0.0, devices.stat().st_mtime + 1.5 - time.time()))
        out = tmp_path / "thermometer.jsonl"
        done = subprocess.run(
            [sys.executable, "-m", "roomvitals.cli", "record", "--ble", "--profile",
             "health-thermometer", "--address", device["address"], "--backend", "bumble",
             "--bumble-transport", device["bumble_transport"], "--out", str(out),
             "--seconds", "20"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    finally:
        simulator.terminate()
        simulator.wait(10)
    assert done.returncode == 0, done.stderr
    assert "patient IDs: none:" in done.stdout and "nothing stripped" in done.stdout
    # The simulator measures every second: how many wait by the time the recorder (a fresh
    # Python process) has connected depends on the machine; all of them must be recorded.
    found = re.search(r"\(the device hung up\); (\d+) measurements decoded", done.stdout)
    assert found, done.stdout
    measured = int(found.group(1))
    assert measured >= 1
    header, records = read_capture(out)
    assert header.gatt["device_information"]["serial_number"] == device["serial"]
    assert [r.op for r in records if r.op != "read"] == ["indicate"] * measured
    assert len(header.readings) == measured
    assert all("Temperature(" in r for r in header.readings)


# ---- bad input ---------------------------------------------------------------------------
def test_a_bad_ble_capture_gets_a_specific_error(tmp_path):
    header, records = read_capture(CAPTURES / "weight-scale.jsonl")
    with pytest.raises(CaptureError, match="no 'gatt'"):
        ReplayPeripheral(None, replace(header, gatt={}), records)  # type: ignore[arg-type]
    with pytest.raises(CaptureError, match="needs 'char' and 'op'"):
        ReplayPeripheral(None, header, [replace(records[0], op="sing")])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="speed"):
        ReplayPeripheral(None, header, records, speed=0)  # type: ignore[arg-type]


def test_record_ble_refuses_a_bad_command_line(tmp_path, capsys):
    from roomvitals.cli import main as roomvitals

    out = str(tmp_path / "x.jsonl")
    assert roomvitals(["record", "--ble", "--address", "C0:00:00:00:00:01", "--out", out]) == 2
    assert "--ble needs --profile" in capsys.readouterr().err
    assert roomvitals(["record", "--ble", "--profile", "weight-scale", "--address", "not-mac",
                       "--out", out]) == 2
    assert "not a Bluetooth address" in capsys.readouterr().err
    assert roomvitals(["record", "--ble", "--profile", "weight-scale", "--backend", "bumble",
                       "--out", out]) == 2
    assert "bumble_transport is required" in capsys.readouterr().err
    assert roomvitals(["record", "--protocol", "sma"]) == 2
    assert "--port and --protocol are required" in capsys.readouterr().err
    assert not Path(out).exists()


# ---- regenerating tests/captures/ble/ -----------------------------------------------------
def main() -> int:
    """Record one capture per profile from the simulators, with the real recorder."""
    from device_gateway.ble_link import ble_loop

    CAPTURES.mkdir(parents=True, exist_ok=True)
    for profile, case in CASES.items():
        sim = VirtualRadio(ble_loop())
        sim.call(sim.open())
        sim.attach_local()
        try:
            device = add_device(sim, case)
            out = CAPTURES / f"{profile}.jsonl"
            recorder = record(sim, device, case, out,
                              source=f"simulator {case.kind} (simulators/ble, not a real device)")
            print(f"{out.name}: {recorder.records} values, {len(recorder.readings)} measurements")
        finally:
            sim.call(sim.close())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
