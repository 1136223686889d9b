"""Every serial protocol through the real gateway (pyserial on a pty) to the real Mosquitto:
readings with the right values, units, codes and flags; live values and the steady rule
for streaming oximeters; unplug and replug."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from drivers.serial.cms50 import KEEP_ALIVE, START_REALTIME
from simulators.serial.cms50 import CMS50Oximeter
from simulators.serial.device import Oximetry, Weighing
from simulators.serial.dinamap import BloodPressureState, DinamapMonitor
from simulators.serial.masimo import MasimoOximeter
from simulators.serial.nonin import NoninOximeter
from simulators.serial.pty_port import PtyPort
from simulators.serial.sma import SmaScale
from simulators.serial.tanita import TanitaScale
from simulators.serial.toledo import ToledoScale
from tests.helpers import Collector, wait_until
from vitals.message import decode_reading

STEADY = {"steady_seconds": 1.5, "spo2_band": 2, "pulse_band": 5}


@pytest.fixture
def sim(tmp_path):
    started = []

    def start(cls, *args, **kwargs):
        device = cls(PtyPort(tmp_path / "dev" / f"tty{len(started)}"), *args, **kwargs).start()
        started.append(device)
        return device

    yield start
    for device in started:
        device.stop()


@pytest.fixture
def collector(mosquitto, tmp_path):
    # only this test's site (conftest.gateway_config): retained status of others stays out
    c = Collector(mosquitto.port, f"roomvitals/v1/site-{tmp_path.name[-40:]}/#")
    yield c
    c.close()


def readings(collector):
    return [decode_reading(m.payload) for m in collector.on("reading")]


def values(reading, *kinds):
    return tuple(reading.observation(k).value for k in kinds)


def live_values(collector):
    out = []
    for message in collector.on("live"):
        document = json.loads(message.payload)
        shown = {v["kind"]: v["value"] for v in document["values"]}
        out.append((shown.get("spo2"), shown.get("pulse_rate"), set(document["flags"])))
    return out


def oximeter_gateway(make_gateway, mosquitto, device, protocol, **extra):
    return make_gateway(mosquitto.port, device.port.path, id="ox-1", protocol=protocol,
                        model="oximeter", serial="OX1", **STEADY, **extra)


def assert_oximetry(reading, spo2, pulse, protocol):
    assert reading.device.kind == "pulse_oximeter" and reading.device.protocol == protocol
    sat, rate = reading.observation("spo2"), reading.observation("pulse_rate")
    assert (sat.value, sat.unit, sat.mdc, sat.loinc) == (spo2, "%", 150456, "2708-6")
    assert (rate.value, rate.unit, rate.mdc, rate.loinc) == (pulse, "/min", 149530, "8867-4")


# --- streaming oximeters: live values and one reading when steady -----------------------

OXIMETERS = {
    "nonin-df2": (NoninOximeter, {"data_format": 2}),
    "nonin-df7": (NoninOximeter, {"data_format": 7}),
    "nonin-df8": (NoninOximeter, {"data_format": 8}),
    "nonin-ascii": (NoninOximeter, {"data_format": "ascii"}),
    "cms50": (CMS50Oximeter, {}),
    "cms50-v7": (CMS50Oximeter, {}),
    "cms50-legacy": (CMS50Oximeter, {"generation": "legacy"}),
    "masimo-ascii": (MasimoOximeter, {}),
}


@pytest.mark.parametrize("protocol", OXIMETERS)
def test_streaming_oximeter_live_values_and_one_steady_reading(
    mosquitto, make_gateway, sim, collector, protocol
):
    cls, kwargs = OXIMETERS[protocol]
    device = sim(cls, Oximetry(spo2=96, pulse=67, perfusion="marginal"), **kwargs)
    gateway = oximeter_gateway(make_gateway, mosquitto, device, protocol)
    [reading] = wait_until(lambda: readings(collector))
    assert_oximetry(reading, 96, 67, protocol)
    assert reading.room == "exam-1" and reading.device.serial == "OX1"
    if protocol.startswith("nonin-df"):
        assert "marginal_perfusion" in reading.flags  # a device status bit kept as a flag
    if protocol == "masimo-ascii":
        assert reading.measured_at_source == "device"  # the line's own date and time
    live = wait_until(lambda: live_values(collector))
    assert (Decimal(live[0][0]), Decimal(live[0][1])) == (96, 67)
    assert all(m.qos == 0 and not m.retain for m in collector.on("live"))
    # The probe stays on: live values go on, no second reading.
    count = len(collector.on("live"))
    wait_until(lambda: len(collector.on("live")) >= count + 2)
    assert len(readings(collector)) == 1
    wait_until(lambda: gateway.outbox.depth() == 0)


def test_artifact_finger_removed_and_the_next_placement(mosquitto, make_gateway, sim, collector):
    device = sim(NoninOximeter, Oximetry(spo2=97, pulse=70, artifact=True), data_format=7)
    oximeter_gateway(make_gateway, mosquitto, device, "nonin-df7")
    # Motion artifact on every pulse: live values with the flag, never a reading.
    wait_until(lambda: len([v for v in live_values(collector) if "artifact" in v[2]]) >= 4)
    assert readings(collector) == []
    device.set(artifact=False)
    [first] = wait_until(lambda: readings(collector))
    assert_oximetry(first, 97, 70, "nonin-df7")
    # Finger out (display held with SNSA), then the next patient's finger.
    device.set(finger=False)
    wait_until(lambda: any("sensor_alarm" in v[2] for v in live_values(collector)))
    device.set(finger=True, spo2=91, pulse=104)
    wait_until(lambda: len(readings(collector)) == 2)
    assert_oximetry(readings(collector)[1], 91, 104, "nonin-df7")
    assert first.id != readings(collector)[1].id


def test_wandering_values_are_not_steady(mosquitto, make_gateway, sim, collector):
    device = sim(NoninOximeter, Oximetry(spo2=90, pulse=70), data_format=7)
    oximeter_gateway(make_gateway, mosquitto, device, "nonin-df7")
    for spo2 in (90, 95) * 4:  # a probe slipping: 5 points apart every 2/3 s
        device.set(spo2=spo2)
        sent = device.frames_sent
        wait_until(lambda s=sent: device.frames_sent >= s + 2)
    assert readings(collector) == []
    [reading] = wait_until(lambda: readings(collector))  # then it stays at 95
    assert values(reading, "spo2") == (95,)


def test_set_format_switches_a_nonin_to_the_configured_format(
    mosquitto, make_gateway, sim, collector
):
    device = sim(NoninOximeter, Oximetry(spo2=99, pulse=58), data_format=2)
    oximeter_gateway(make_gateway, mosquitto, device, "nonin-df8")
    wait_until(lambda: device.data_format == 8)
    assert device.acks[0] == 0x06
    [reading] = wait_until(lambda: readings(collector))
    assert_oximetry(reading, 99, 58, "nonin-df8")


def test_a_nak_shows_on_the_device_status(mosquitto, make_gateway, sim, collector):
    # A model without DF7 stays in DF8. (Not the other way round: DF8 has no checksum, and a
    # DF8 reader finds frame-shaped bytes in a DF7 stream.)
    device = sim(NoninOximeter, data_format=8, supported=frozenset({2, 8}))
    oximeter_gateway(make_gateway, mosquitto, device, "nonin-df7")

    def error():
        found = collector.on("device-status")
        return found and json.loads(found[-1].payload)["last_error"]

    assert "NAK" in wait_until(error, timeout=20)
    assert readings(collector) == []


def test_cms50_gets_its_start_command_and_keep_alive(mosquitto, make_gateway, sim, collector):
    device = sim(CMS50Oximeter, Oximetry(spo2=95, pulse=77))
    oximeter_gateway(make_gateway, mosquitto, device, "cms50-v7")
    [reading] = wait_until(lambda: readings(collector))
    assert_oximetry(reading, 95, 77, "cms50-v7")
    assert device.commands[0] == START_REALTIME
    wait_until(lambda: KEEP_ALIVE in device.commands, timeout=10)


def test_unplugged_oximeter_comes_back_and_gives_a_new_reading(
    mosquitto, make_gateway, sim, collector
):
    device = sim(NoninOximeter, Oximetry(spo2=98, pulse=62), data_format=7)
    gateway = oximeter_gateway(make_gateway, mosquitto, device, "nonin-df7")
    wait_until(lambda: readings(collector))

    def states():
        return [json.loads(m.payload)["state"] for m in collector.on("device-status")]

    device.port.unplug()
    wait_until(lambda: states()[-1] == "disconnected")
    assert gateway.status()["devices"]["ox-1"] == "disconnected"
    device.port.plug()
    wait_until(lambda: states()[-1] == "connected")
    # a new connection is a new placement: the steady rule decides again
    wait_until(lambda: len(readings(collector)) == 2)
    assert values(readings(collector)[1], "spo2", "pulse_rate") == (98, 62)


# --- spot checks, blood pressure ----------------------------------------------------------


def test_nonin_df13_spot_check_dated_by_the_device(mosquitto, make_gateway, sim, collector):
    device = sim(NoninOximeter, Oximetry(spo2=94, pulse=81), data_format=7)
    device.spot_check_s = 0.5
    oximeter_gateway(make_gateway, mosquitto, device, "nonin-df13")
    wait_until(lambda: device.data_format == 13)  # the gateway's set-format
    [reading] = wait_until(lambda: readings(collector))
    assert_oximetry(reading, 94, 81, "nonin-df13")
    assert reading.measured_at_source == "device" and "smart_point" in reading.flags
    assert collector.on("live") == []  # spot checks are readings, not a stream


def test_dinamap_blood_pressure(mosquitto, make_gateway, sim, collector):
    device = sim(DinamapMonitor, BloodPressureState(138, 88, 105, 74), determination_s=0.2)
    make_gateway(mosquitto.port, device.port.path, id="bp-1", protocol="dinamap",
                 poll_interval=0.2)
    device.measure()
    [reading] = wait_until(lambda: readings(collector))
    assert reading.device.kind == "bp_monitor"
    assert values(reading, "systolic", "diastolic", "mean_arterial_pressure", "pulse_rate") == (
        138, 88, 105, 74)
    sys_ = reading.observation("systolic")
    assert (sys_.unit, sys_.mdc, sys_.loinc) == ("mm[Hg]", 150021, "8480-6")
    # Polled on and on: one reading per determination.
    polls = len(device.commands)
    wait_until(lambda: len(device.commands) >= polls + 10)
    assert len(readings(collector)) == 1
    device.set(systolic=121, diastolic=79, mean=93)
    device.measure()
    wait_until(lambda: len(readings(collector)) == 2)
    assert values(readings(collector)[1], "systolic") == (121,)


# --- scales: only stable, non-zero weights become readings -------------------------------

def wait_for_activity(device, steps: int = 4) -> None:
    """Until the scale has answered or ticked a few more times (seen the current state)."""
    start = device.ticks + device.frames_sent
    wait_until(lambda: device.ticks + device.frames_sent >= start + steps)


SCALES = {
    "sma": (SmaScale, {}),
    "toledo-continuous": (ToledoScale, {}),
    "tanita-csv": (TanitaScale, {}),
}


@pytest.mark.parametrize("protocol", SCALES)
def test_scale_weighings(mosquitto, make_gateway, sim, collector, protocol):
    cls, kwargs = SCALES[protocol]
    device = sim(cls, Weighing(weight=Decimal("0.00")), **kwargs)
    make_gateway(mosquitto.port, device.port.path, protocol=protocol)
    # stepping on: in motion for a while, then stable
    device.set(weight=Decimal("84.30"), motion=True, height=Decimal("180.0"))
    wait_for_activity(device)
    assert readings(collector) == []
    device.set(motion=False)
    [reading] = wait_until(lambda: readings(collector))
    weight = reading.observation("weight")
    assert (weight.value, weight.unit, weight.mdc, weight.loinc) == (
        Decimal("84.3"), "kg", 188736, "29463-7")
    assert reading.device.kind == "scale" and reading.flags == frozenset()
    # standing still for a while: still one reading
    wait_for_activity(device)
    assert len(readings(collector)) == 1
    # off (zero), and the next patient in pounds
    device.set(weight=Decimal("0.00"))
    wait_for_activity(device)
    device.set(weight=Decimal("190.40"), unit="lb")
    wait_until(lambda: len(readings(collector)) == 2)
    second = readings(collector)[1].observation("weight")
    assert (second.value, second.unit) == (Decimal("190.4"), "[lb_av]")
    assert len(readings(collector)) == 2


def test_scale_overload_is_a_device_status(mosquitto, make_gateway, sim, collector):
    device = sim(SmaScale, Weighing(weight=Decimal("350.00"), overload=True))
    make_gateway(mosquitto.port, device.port.path, protocol="sma")

    def error():
        found = collector.on("device-status")
        return found and json.loads(found[-1].payload)["last_error"]

    assert "overload" in wait_until(error)
    assert readings(collector) == []


def test_demo_rooms_have_a_scale_and_a_streaming_oximeter(mosquitto, tmp_path, collector):
    from device_gateway.config import parse_config
    from device_gateway.gateway import Gateway
    from simulators.serial import demo

    started = demo.start(tmp_path, ["exam-1", "exam-2"])
    gateway = None
    try:
        protocols = {d["id"]: d["protocol"] for d in started.devices}
        assert protocols == {
            "exam-1-scale": "healthometer-esc", "exam-1-oximeter": "nonin-df7",
            "exam-2-scale": "healthometer-esc", "exam-2-oximeter": "cms50",
        }
        gateway = Gateway(parse_config({
            "site": f"site-{tmp_path.name[-40:]}", "gateway_id": "demo",
            "state_dir": str(tmp_path / "state"),
            "broker": {"url": f"mqtt://127.0.0.1:{mosquitto.port}"},
            "devices": started.devices,
        }))
        gateway.start()

        def kinds():
            return {(r.room, r.device.kind) for r in readings(collector)}

        wait_until(lambda: kinds() >= {("exam-1", "pulse_oximeter"), ("exam-2", "pulse_oximeter"),
                                       ("exam-1", "scale")}, timeout=30)
    finally:
        if gateway is not None:
            gateway.stop()
        started.stop()


def test_tanita_patient_id_never_reaches_the_broker(mosquitto, make_gateway, sim, collector):
    device = sim(TanitaScale, Weighing(weight=Decimal("0.0")))
    device.patient_id = "MRN0042424242"
    make_gateway(mosquitto.port, device.port.path, protocol="tanita-csv")
    device.set(weight=Decimal("70.2"))
    [message] = wait_until(lambda: collector.on("reading"))
    assert decode_reading(message.payload).observation("weight").value == Decimal("70.2")
    assert b"MRN0042424242" not in message.payload
    assert b"MRN0042424242".hex().encode() not in message.payload


def test_low_battery_bit_reaches_the_device_status(mosquitto, make_gateway, sim, collector):
    # Nonin STATUS2 bit 0 (9560 spec p.16): shown on the device's status for the board.
    device = sim(NoninOximeter, Oximetry(spo2=97, pulse=70, low_battery=True), data_format=7)
    gateway = oximeter_gateway(make_gateway, mosquitto, device, "nonin-df7")
    mine = f"/{gateway.config.site}/device-status/"  # the broker keeps other tests' too

    def low_battery():
        found = [json.loads(m.payload) for m in collector.on("device-status") if mine in m.topic]
        return any(s.get("low_battery") for s in found)

    assert wait_until(low_battery)
