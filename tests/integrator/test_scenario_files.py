"""Scenario files: the shipped ones play through the real gateway and give the readings they
promise (``roomvitals.testing.expect_readings``), and a wrong file gets a specific error."""

from __future__ import annotations

import pytest

from roomvitals.testing import expect_readings
from simulators.scenario_file import SCENARIO_DIR, ScenarioError, ScenarioRun, load, parse


def test_hypertensive_adult_cuff_loose_on_the_first_try(mosquitto, tmp_path):
    readings = expect_readings("hypertensive-cuff-loose", broker_port=mosquitto.port,
                               workdir=tmp_path)
    assert len(readings) == 1  # the failed first try made no reading


def test_spot_checks_with_a_clock_two_hours_off_and_a_burst_after_an_outage(
        mosquitto, tmp_path):
    readings = expect_readings("spot-checks-after-outage", broker_port=mosquitto.port,
                               workdir=tmp_path)
    assert all(r.measured_at_source == "device" for r in readings)
    assert len({r.id for r in readings}) == 4
    first = readings[0]
    lag = (first.received_at - first.measured_at).total_seconds()
    assert 7000 < lag < 7400, lag


def test_a_demo_room_gives_its_first_readings(mosquitto, tmp_path):
    expect_readings(SCENARIO_DIR / "demo-room-a.toml", broker_port=mosquitto.port,
                    workdir=tmp_path)


def test_expect_readings_fails_when_the_readings_differ(mosquitto, tmp_path):
    wrong = tmp_path / "wrong.toml"
    text = (SCENARIO_DIR / "hypertensive-cuff-loose.toml").read_text()
    wrong.write_text(text.replace("systolic = 162\ndiastolic", "systolic = 163\ndiastolic"))
    with pytest.raises(AssertionError, match="systolic: expected 163, got 162"):
        expect_readings(wrong, broker_port=mosquitto.port, workdir=tmp_path / "run")


@pytest.mark.parametrize(("change", "message"), [
    ({"steps": [{"at": 1, "device": "nope"}]}, "device 'nope' is not one of"),
    ({"steps": [{"at": 1, "device": "x", "fault": "fire"}]}, "fault 'fire' is not one of"),
    ({"steps": [{"at": -1, "device": "x"}]}, "'at' must be seconds"),
    ({"devices": [{"id": "x", "protocol": "acme-9000"}]}, "no simulator for protocol"),
    ({"colour": "red"}, "unknown key"),
])
def test_a_wrong_scenario_says_what_is_wrong(change, message):
    data = {"devices": [{"id": "x", "protocol": "sma"}]} | change
    with pytest.raises(ScenarioError, match=message):
        parse(data)


def test_a_fault_the_device_cannot_do_is_refused_before_anything_starts(tmp_path):
    scenario = parse({"devices": [{"id": "x", "protocol": "sma"}],
                      "steps": [{"at": 1, "device": "x", "fault": "no-value"}]})
    with pytest.raises(ScenarioError, match="a scale has no no-value marker"):
        ScenarioRun(scenario, tmp_path)
    scenario = parse({"devices": [{"id": "x", "protocol": "sma"}],
                      "steps": [{"at": 1, "device": "x", "set": {"spo2": 90}}]})
    with pytest.raises(ScenarioError, match="has no state field 'spo2'"):
        ScenarioRun(scenario, tmp_path)


def test_every_shipped_scenario_loads_and_its_devices_can_be_built(tmp_path):
    for path in sorted(SCENARIO_DIR.glob("*.toml")):
        run = ScenarioRun(load(path), tmp_path / path.stem)
        assert run.gateway_devices(), path
