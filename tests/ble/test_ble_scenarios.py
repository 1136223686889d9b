"""Real-device behaviours (simulators.ble.scenarios) against the gateway's real BLE link."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal

from simulators.ble import encoding
from simulators.ble.scenarios import scenario
from tests.ble.conftest import readings
from tests.helpers import wait_until


def cuff_records(cuff, count: int) -> list[Decimal]:
    systolics = [Decimal(110 + i) for i in range(count)]
    for i, systolic in enumerate(systolics):
        cuff.store(encoding.blood_pressure(encoding.BloodPressureRecord(
            systolic, Decimal(75), Decimal(88), Decimal(70),
            timestamp=datetime(2026, 3, 1, 9, i), user_id=1, status=0)))
    return systolics


def test_backlog_resent_on_every_connection_is_filed_once(
        mosquitto, radio, ble_gateway, collector):
    cuff = radio.call(radio.add("bp-cuff", scenario("backlog")))
    systolics = cuff_records(cuff, 4)
    gateway = ble_gateway(mosquitto.port, {"id": "cuff-1", "protocol": "blood-pressure",
                                           "address": cuff.address})
    wait_until(lambda: cuff.counters.connections >= 3 and cuff.counters.indications >= 12)
    wait_until(lambda: gateway.outbox.depth() == 0 and len(readings(collector)) >= 4)
    got = readings(collector)
    assert sorted(r.observation("systolic").value for r in got) == systolics
    assert len({r.id for r in got}) == 4
    assert [r.measured_at.replace(tzinfo=None) for r in got] == [
        datetime(2026, 3, 1, 9, i) for i in range(4)]


def test_device_vanishing_mid_transfer_loses_nothing(mosquitto, radio, ble_gateway, collector):
    cuff = radio.call(radio.add("bp-cuff", scenario("vanish")))
    systolics = cuff_records(cuff, 5)
    ble_gateway(mosquitto.port, {"id": "cuff-1", "protocol": "blood-pressure",
                                 "address": cuff.address})
    wait_until(lambda: len(readings(collector)) >= 5)
    wait_until(lambda: cuff.counters.connections >= 3)  # and later sessions add nothing
    got = readings(collector)
    assert sorted(r.observation("systolic").value for r in got) == systolics
    assert len({r.id for r in got}) == 5 and len(got) == 5
    assert cuff._vanished


def test_racp_resync_on_every_connection_is_filed_once(mosquitto, radio, ble_gateway, collector):
    oximeter = radio.call(radio.add("oximeter"))  # answers RACP, then hangs up
    for spo2 in (96, 98, 94):
        oximeter.store(oximeter.record(Decimal(spo2), Decimal(70)))
    ble_gateway(mosquitto.port, {"id": "ox-1", "protocol": "pulse-oximeter",
                                 "address": oximeter.address})
    wait_until(lambda: len(oximeter.counters.racp_requests) >= 3)
    wait_until(lambda: len(readings(collector)) >= 3)
    got = readings(collector)
    assert sorted(r.observation("spo2").value for r in got) == [94, 96, 98]
    assert len(got) == 3


def test_wrong_device_clock_is_recorded_and_corrected(mosquitto, radio, ble_gateway, collector):
    cuff = radio.call(radio.add("bp-cuff", scenario("clock-wrong")))
    cuff.store(cuff.record(Decimal(131), Decimal(85), Decimal(100), Decimal(77)))
    ble_gateway(mosquitto.port, {"id": "cuff-1", "protocol": "blood-pressure",
                                 "address": cuff.address})
    [reading] = wait_until(lambda: readings(collector))
    wrong = timedelta(days=412, hours=3).total_seconds()
    assert abs(reading.device.clock_offset_s + wrong) < 10
    # measured_at is what the device said; the offset tells how far off that clock was.
    assert reading.measured_at_source == "device"
    assert abs((reading.received_at - reading.measured_at).total_seconds() - wrong) < 10
    wait_until(lambda: cuff.counters.clock_writes == 1)
    assert abs(cuff.clock_offset.total_seconds()) < 5


def test_att_errors_do_not_stop_the_readings(mosquitto, radio, ble_gateway, collector):
    off = timedelta(hours=-2)
    cuff = radio.call(radio.add("bp-cuff", scenario("att-errors", clock_offset=off)))
    cuff.store(cuff.record(Decimal(125), Decimal(80), Decimal(95), Decimal(68)))
    ble_gateway(mosquitto.port, {"id": "cuff-1", "protocol": "blood-pressure",
                                 "address": cuff.address})
    [reading] = wait_until(lambda: readings(collector))
    assert cuff.counters.clock_writes >= 1  # tried, answered 0x80 "data field ignored"
    assert cuff.clock_offset == off
    assert abs(reading.device.clock_offset_s - off.total_seconds()) < 10


def test_bonding_required_pairs_and_reads(mosquitto, radio, ble_gateway, collector):
    scale = radio.call(radio.add("scale", scenario("bonding")))
    scale.store(scale.record(Decimal("64.20")))
    thermo = radio.call(radio.add("thermometer", scenario("bonding")))
    thermo.store(thermo.record(Decimal("38.40")))
    ble_gateway(
        mosquitto.port,
        # the scale's entry does not say so: the Insufficient Encryption answer makes it pair
        {"id": "scale-1", "protocol": "weight-scale", "address": scale.address},
        {"id": "thermo-1", "protocol": "health-thermometer", "address": thermo.address,
         "bonding": True},
    )
    wait_until(lambda: len(readings(collector)) == 2)
    assert readings(collector, "scale-1")[0].observation("weight").value == Decimal("64.20")
    assert readings(collector, "thermo-1")[0].observation("temperature").value == Decimal(
        "38.40")


def test_nan_results_and_error_status_bits(mosquitto, radio, ble_gateway, collector):
    cuff = radio.call(radio.add("bp-cuff"))
    cuff.store(cuff.record(None, None, None, Decimal(72)))  # pressures NaN, pulse measured
    cuff.store(cuff.record(Decimal(150), Decimal(95), Decimal(113), Decimal(88),
                           status=encoding.BP_CUFF_LOOSE | encoding.BP_BODY_MOVEMENT))
    cuff.store(cuff.record(Decimal(138), Decimal(86), Decimal(103), Decimal(93),
                           status=encoding.BP_IRREGULAR_PULSE))
    cuff.store(cuff.record(None, None, None, None))  # an E-code: nothing measured
    scale = radio.call(radio.add("scale"))
    scale.store(scale.record(None))  # 0xFFFF: measurement unsuccessful
    ble_gateway(mosquitto.port,
                {"id": "cuff-1", "protocol": "blood-pressure", "address": cuff.address},
                {"id": "scale-1", "protocol": "weight-scale", "address": scale.address})
    wait_until(lambda: len(readings(collector)) == 3 and scale.counters.indications == 1)
    nan, loose, irregular = readings(collector)
    systolic = nan.observation("systolic")
    assert systolic.value is None and systolic.absent_reason == "not-a-number"
    assert nan.observation("pulse_rate").value == Decimal(72)
    assert loose.flags == {"cuff_loose", "body_movement"}
    assert irregular.flags == {"irregular_pulse"}

    def scale_error():
        found = [json.loads(m.payload) for m in collector.on("device-status")
                 if m.topic.endswith("/scale-1")]
        return any("measurement_unsuccessful" in s["last_error"] for s in found)

    wait_until(scale_error)
    assert readings(collector, "scale-1") == []


def test_slow_device(mosquitto, radio, ble_gateway, collector):
    oximeter = radio.call(radio.add("oximeter", scenario("slow")))
    oximeter.store(oximeter.record(Decimal(93), Decimal(101)))
    ble_gateway(mosquitto.port, {"id": "ox-1", "protocol": "pulse-oximeter",
                                 "address": oximeter.address})
    [reading] = wait_until(lambda: readings(collector))
    assert reading.observation("pulse_rate").value == Decimal(101)
