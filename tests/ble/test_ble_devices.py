"""Each simulated device, read by the gateway's real BLE link through bleak, onto Mosquitto."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from decimal import Decimal

from simulators.ble.scenarios import scenario
from tests.ble.conftest import readings
from tests.helpers import wait_until


def near_now(moment: datetime, slack: timedelta = timedelta(minutes=5)) -> bool:
    return abs(moment - datetime.now().astimezone()) < slack


def test_blood_pressure_cuff_upload_then_disconnect(mosquitto, radio, ble_gateway, collector):
    cuff = radio.call(radio.add("bp-cuff", serial="BP0001"))
    radio.call(cuff.measure(cuff.record(Decimal(128), Decimal(82), Decimal(97), Decimal(66))))
    gateway = ble_gateway(mosquitto.port, {"id": "cuff-1", "protocol": "blood-pressure",
                                           "address": cuff.address, "serial": "BP0001"})
    [reading] = wait_until(lambda: readings(collector))
    assert reading.device.kind == "bp_monitor" and reading.device.transport == "ble"
    assert reading.device.protocol == "blood-pressure"
    values = {o.kind: (o.value, o.unit, o.mdc, o.loinc) for o in reading.observations}
    assert values == {
        "systolic": (Decimal(128), "mm[Hg]", 150021, "8480-6"),
        "diastolic": (Decimal(82), "mm[Hg]", 150022, "8462-4"),
        "mean_arterial_pressure": (Decimal(97), "mm[Hg]", 150023, "8478-0"),
        "pulse_rate": (Decimal(66), "/min", 149546, "8867-4"),
    }
    assert reading.measured_at_source == "device" and near_now(reading.measured_at)
    assert reading.device.clock_offset_s is not None and abs(reading.device.clock_offset_s) < 5
    assert reading.flags == frozenset()
    # The cuff hangs up after the upload: normal, and the status topic says each change.
    wait_until(lambda: cuff.counters.connections >= 2)
    states = [json.loads(m.payload)["state"] for m in collector.on("device-status")]
    assert "connected" in states and "disconnected" in states
    assert all(json.loads(m.payload)["last_error"] == "" for m in collector.on("device-status"))
    # A new measurement in a later session: one more reading, the first one not again.
    radio.call(cuff.measure(cuff.record(Decimal(119), Decimal(77), Decimal(91), Decimal(70))))
    wait_until(lambda: len(readings(collector)) == 2)
    assert readings(collector)[1].observation("systolic").value == Decimal(119)
    assert gateway.counters.queued == 2


def test_cuff_pressure_goes_live_and_the_result_to_reading(
        mosquitto, radio, ble_gateway, collector):
    cuff = radio.call(radio.add("bp-cuff", scenario("stay-connected")))
    ble_gateway(mosquitto.port, {"id": "cuff-1", "protocol": "blood-pressure",
                                 "name": cuff.name})
    wait_until(lambda: 0x2A36 in next(iter(cuff._subscribed.values()), set()))
    radio.call(cuff.take(random.Random(3)))
    [reading] = wait_until(lambda: readings(collector))
    live = [json.loads(m.payload) for m in collector.on("live")]
    pressures = [v["value"] for m in live for v in m["values"] if v["kind"] == "systolic"]
    assert pressures == [40, 75, 110, 145, 180]
    assert reading.observation("systolic").value is not None


def test_thermometer_sets_its_date_time(mosquitto, radio, ble_gateway, collector):
    thermometer = radio.call(radio.add("thermometer", scenario("clock-unset")))
    radio.call(thermometer.measure(thermometer.record(Decimal("37.85"))))
    ble_gateway(mosquitto.port, {"id": "thermo-1", "protocol": "health-thermometer"})
    [reading] = wait_until(lambda: readings(collector))
    temperature = reading.observation("temperature")
    assert (temperature.value, temperature.unit, temperature.mdc, temperature.loinc) == (
        Decimal("37.85"), "Cel", 150364, "8310-5")
    # Taken while the clock was unset: no device time, the gateway's time is used.
    assert reading.measured_at_source == "gateway"
    assert reading.device.clock_offset_s is None
    # The gateway set the clock (Date Time 0x2A08): the next record carries the right time.
    wait_until(lambda: thermometer.clock_set)
    assert abs(thermometer.clock_offset.total_seconds()) < 5
    radio.call(thermometer.measure(thermometer.record(Decimal("36.60"))))
    wait_until(lambda: len(readings(collector)) == 2)
    second = readings(collector)[1]
    assert second.measured_at_source == "device" and near_now(second.measured_at)


def test_weight_scale(mosquitto, radio, ble_gateway, collector):
    scale = radio.call(radio.add("scale"))
    radio.call(scale.measure(scale.record(Decimal("81.35"), Decimal("1.774"), Decimal("25.8"))))
    ble_gateway(mosquitto.port, {"id": "scale-1", "protocol": "weight-scale",
                                 "address": scale.address})
    [reading] = wait_until(lambda: readings(collector))
    assert reading.device.kind == "scale"
    values = {o.kind: (o.value, o.unit, o.loinc) for o in reading.observations}
    assert values["weight"] == (Decimal("81.35"), "kg", "29463-7")
    assert values["height"][:2] == (Decimal("1.774"), "m")
    assert values["bmi"][:2] == (Decimal("25.8"), "kg/m2")


def test_pulse_oximeter_racp_records_and_live_values(mosquitto, radio, ble_gateway, collector):
    oximeter = radio.call(radio.add("oximeter", scenario("stay-connected")))
    for spo2, pulse in ((97, 71), (95, 64)):
        oximeter.store(oximeter.record(Decimal(spo2), Decimal(pulse)))
    ble_gateway(mosquitto.port, {"id": "ox-1", "protocol": "pulse-oximeter",
                                 "address": oximeter.address})
    wait_until(lambda: len(readings(collector)) == 2)
    assert oximeter.counters.racp_requests == [b"\x01\x01"]
    got = sorted((r.observation("spo2").value, r.observation("pulse_rate").value)
                 for r in readings(collector))
    assert got == [(Decimal(95), Decimal(64)), (Decimal(97), Decimal(71))]
    reading = readings(collector)[0]
    assert reading.device.kind == "pulse_oximeter"
    spo2 = reading.observation("spo2")
    assert (spo2.unit, spo2.mdc, spo2.loinc) == ("%", 150456, "2708-6")
    # Continuous values while connected go to the live topic only.
    radio.call(oximeter.stream(random.Random(1)))
    wait_until(lambda: collector.on("live"))
    assert len(readings(collector)) == 2


def test_battery_level_reaches_the_device_status(mosquitto, radio, ble_gateway, collector):
    # Battery Service 0x180F, Battery Level 0x2A19 (uint8 percent): read on every session
    # and shown on the clinic board from the device-status topic.
    thermometer = radio.call(radio.add("thermometer"))
    thermometer.battery_level = 14
    gateway = ble_gateway(mosquitto.port, {"id": "thermo-1", "protocol": "health-thermometer",
                                           "address": thermometer.address})
    mine = f"/{gateway.config.site}/device-status/"  # the broker keeps other tests' too

    def battery():
        found = [json.loads(m.payload) for m in collector.on("device-status") if mine in m.topic]
        return next((s["battery"] for s in reversed(found) if "battery" in s), None)

    assert wait_until(battery) == 14
