"""Plug-in protocols and simulators through entry points: the built-in shipped that way, a
broken plug-in reported without breaking the built-ins, and the example plug-in package read
end to end (its simulator on a pty -> the real gateway -> Mosquitto -> a reading)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import drivers.serial
from drivers import plugins
from tests.helpers import Collector, wait_until
from tests.integrator.conftest import ROOT, env_with, roomvitals
from vitals.message import decode_reading


def test_one_built_in_protocol_arrives_through_its_entry_point():
    assert drivers.serial.SOURCES["toledo-continuous"] == "roomvitals"
    assert not [p for p in plugins.problems() if p.name == "toledo-continuous"]
    assert drivers.serial.parser("toledo-continuous").feed(b"") == []


def test_every_built_in_protocol_declares_its_verification_level():
    for name in drivers.serial.PROTOCOLS:
        cls = drivers.serial.parser_class(name)
        declared = plugins._module_attr(cls, "VERIFICATION", {})
        assert declared.get(name) in plugins.LEVELS, name
    assert plugins.verification(drivers.serial.parser_class("dinamap"), "dinamap") == "unverified"


def _fake_distribution(where: Path, name: str, entry_points: str) -> None:
    info = where / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)


def test_a_broken_plug_in_is_reported_and_the_built_ins_still_work(tmp_path):
    _fake_distribution(tmp_path, "broken_plugin", (
        "[roomvitals.drivers]\n"
        "missing = no_such_module_anywhere\n"
        "shapeless = json\n"              # loads, but has no PROTOCOLS
        "thief = drivers.serial.sma\n"    # a name that is taken
        "[roomvitals.simulators]\n"
        "nosims = no_such_simulator_module\n"
    ))
    result = roomvitals("devices", "--json", env=env_with(tmp_path))
    assert result.returncode == 1, result.stderr
    listing = json.loads(result.stdout)
    problems = "\n".join(listing["problems"])
    assert "'missing' of broken-plugin" in problems or "'missing' of broken_plugin" in problems
    assert "no_such_module_anywhere" in problems
    assert "has no PROTOCOLS dict" in problems
    assert "protocol 'sma' is already defined" in problems
    assert "no_such_simulator_module" in problems
    names = {row["protocol"] for row in listing["protocols"]}
    assert set(drivers.serial.PROTOCOLS) <= names
    sma = next(r for r in listing["protocols"] if r["protocol"] == "sma")
    assert sma["source"] == "built-in"
    # and a gateway with a built-in device still starts (its config loads)
    config = tmp_path / "gw.toml"
    config.write_text('site = "s"\ngateway_id = "g"\n[[devices]]\nid = "d"\nroom = "r"\n'
                      'protocol = "sma"\nport = "/nonexistent"\n')
    check = subprocess.run(
        [sys.executable, "-c", "from device_gateway.config import load_config; "
         f"print(load_config({str(config)!r}).devices[0].protocol)"],
        capture_output=True, text=True, env=env_with(tmp_path), cwd=ROOT, timeout=60)
    assert check.stdout.strip() == "sma", check.stderr


def test_the_example_plug_in_is_listed(example_plugin):
    result = roomvitals("devices", "--json", env=env_with(example_plugin))
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {r["protocol"]: r for r in json.loads(result.stdout)["protocols"]}
    acme = rows["acme-as200"]
    assert acme["source"] == "roomvitals-example-plugin"
    assert acme["simulator"] == "roomvitals-example-plugin"
    assert acme["verification"] == "simulator only" and acme["profile"] is True
    assert "ID=" in acme["patient_ids"]
    assert rows["toledo-continuous"]["source"] == "roomvitals"


def test_the_gateway_reads_the_example_plug_in_device_end_to_end(
        example_plugin, mosquitto, tmp_path):
    env = env_with(example_plugin)
    port = tmp_path / "dev" / "acme"
    sim = subprocess.Popen(
        [sys.executable, "-m", "roomvitals.cli", "simulate", "--device", "acme-as200",
         "--scenario", "steady", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    site = "site-" + tmp_path.name[-40:]
    config = tmp_path / "gateway.toml"
    config.write_text(f'site = "{site}"\ngateway_id = "gw-plugin"\n'
                      f'state_dir = "{tmp_path / "state"}"\n'
                      f'[broker]\nurl = "mqtt://127.0.0.1:{mosquitto.port}"\n'
                      f'[[devices]]\nid = "acme-1"\nroom = "exam-1"\nprotocol = "acme-as200"\n'
                      f'port = "{port}"\nmodel = "Acme AS-200"\nserial = "AC1"\n'
                      f'poll_interval = 0.3\n')
    collector = Collector(mosquitto.port, f"roomvitals/v1/{site}/reading/#")
    gateway = subprocess.Popen(
        [sys.executable, "-m", "roomvitals.cli", "gateway", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        message = wait_until(lambda: collector.on("reading"), timeout=30)[0]
    finally:
        for process in (gateway, sim):
            process.send_signal(signal.SIGTERM)
        outputs = [p.communicate(timeout=20) for p in (gateway, sim)]
        collector.close()
    reading = decode_reading(message.payload)
    assert reading.device.protocol == "acme-as200" and reading.device.kind == "scale"
    weight = reading.observation("weight")
    assert (str(weight.value), weight.unit) == ("72.4", "kg"), outputs
    assert "ID=00000000" in bytes.fromhex(reading.raw).decode() or "ID=" not in reading.raw
    assert "00012345" not in bytes.fromhex(reading.raw).decode()
