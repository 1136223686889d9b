"""The gateway's real serial link (pyserial on a pty) publishing to a real Mosquitto."""

import json
from decimal import Decimal

from tests.helpers import Collector, wait_until
from vitals.message import decode_reading


def readings(collector):
    return [decode_reading(m.payload) for m in collector.on("reading")]


def test_a_weighing_is_published_once_with_the_contract(mosquitto, scale, make_gateway):
    collector = Collector(mosquitto.port)
    try:
        gateway = make_gateway(mosquitto.port, scale.port.path)
        scale.set(weight=Decimal("84.7"), height=Decimal("172.50"), patient_id="0123456789")
        [message] = wait_until(lambda: collector.on("reading"))
        site = gateway.config.site
        assert message.topic == f"roomvitals/v1/{site}/reading/exam-1/scale-1"
        assert message.qos == 1 and not message.retain
        reading = decode_reading(message.payload)
        assert (reading.site, reading.room, reading.device.id) == (site, "exam-1", "scale-1")
        assert reading.device.kind == "scale" and reading.device.serial == "HM123"
        weight = reading.observation("weight")
        assert (weight.value, weight.unit, weight.mdc, weight.loinc) == (
            Decimal("84.7"), "kg", 188736, "29463-7")
        height = reading.observation("height")
        assert (height.value, height.unit) == (Decimal("172.50"), "cm")
        assert reading.measured_at_source == "gateway"
        # no patient identifier anywhere in what crossed the broker
        assert b"0123456789" not in message.payload
        assert "0123456789" not in bytes.fromhex(reading.raw).decode("latin-1")

        # The scale keeps answering polls with the same weight: still one reading.
        polls = scale.requests
        wait_until(lambda: scale.requests >= polls + 5)
        assert len(readings(collector)) == 1
        # The patient steps off and the next one steps on: a second reading.
        scale.set(weight=Decimal("0.0"), patient_id=None)
        wait_until(lambda: scale.requests >= polls + 8)
        scale.set(weight=Decimal("61.2"))
        wait_until(lambda: len(readings(collector)) == 2)
        assert readings(collector)[1].observation("weight").value == Decimal("61.2")
        assert readings(collector)[0].id != readings(collector)[1].id
        wait_until(lambda: gateway.outbox.depth() == 0)
    finally:
        collector.close()


def test_status_topics_are_retained(mosquitto, scale, make_gateway):
    gateway = make_gateway(mosquitto.port, scale.port.path)
    wait_until(lambda: gateway.publisher.connected and gateway.status()["devices"]["scale-1"]
               == "connected")
    statuses = f"roomvitals/v1/{gateway.config.site}/#"
    # Once a subscriber has seen both status messages the broker holds them retained; one
    # subscribing before that could get the gateway's first publish live (nothing retained
    # yet to give it), which says nothing about retention.
    early = Collector(mosquitto.port, statuses)
    try:
        wait_until(lambda: early.on("device-status") and early.on("gateway-status"))
    finally:
        early.close()
    # A subscriber that comes later (a dashboard restarting) learns the state at once: the
    # first message on each status topic is the retained one. (Which state it holds depends
    # on whether the gateway's latest publish reached the broker first; the state then
    # settles on connected.)
    collector = Collector(mosquitto.port, statuses)
    try:
        assert wait_until(lambda: collector.on("device-status"))[0].retain
        assert wait_until(lambda: collector.on("gateway-status"))[0].retain

        def latest(kind):
            return json.loads(collector.on(kind)[-1].payload)

        wait_until(lambda: latest("device-status")["state"] == "connected")
        wait_until(lambda: latest("gateway-status")["devices"] == {"scale-1": "connected"})
        status = latest("gateway-status")
        assert status["state"] == "online"
        assert status["outbox_depth"] == 0
    finally:
        collector.close()


def site_collector(port: int, tmp_path) -> Collector:
    """A subscriber to this test's site only: the session broker keeps other tests' retained
    status messages, which must not be mistaken for this gateway's."""
    return Collector(port, f"roomvitals/v1/{'site-' + tmp_path.name[-40:]}/#")


def test_overload_is_a_device_status_not_a_reading(mosquitto, scale, make_gateway, tmp_path):
    collector = site_collector(mosquitto.port, tmp_path)
    try:
        gateway = make_gateway(mosquitto.port, scale.port.path)
        assert gateway.config.site in collector.topic_filter
        scale.set(weight=Decimal("50.0"), overload=True)

        def last_error():
            found = collector.on("device-status")
            return found and json.loads(found[-1].payload)["last_error"]

        assert "overload" in wait_until(last_error)
        assert collector.on("reading") == []
    finally:
        collector.close()


def test_unplugged_scale_is_reported_and_read_again_after_replug(
        mosquitto, scale, make_gateway, tmp_path):
    collector = site_collector(mosquitto.port, tmp_path)
    try:
        gateway = make_gateway(mosquitto.port, scale.port.path)
        assert gateway.config.site in collector.topic_filter

        def state():
            found = collector.on("device-status")
            return found and json.loads(found[-1].payload)["state"]

        wait_until(lambda: state() == "connected")
        scale.port.unplug()
        # the unplug, not the "disconnected" the gateway says before it first opens the port
        wait_until(lambda: state() == "disconnected"
                   and json.loads(collector.on("device-status")[-1].payload)["last_error"])
        error = json.loads(collector.on("device-status")[-1].payload)["last_error"]
        assert str(scale.port.path) in error
        scale.port.plug()
        wait_until(lambda: state() == "connected", timeout=20)
        scale.set(weight=Decimal("77.0"))
        wait_until(lambda: readings(collector))
        assert readings(collector)[0].observation("weight").value == Decimal("77.0")
    finally:
        collector.close()


def test_readings_wait_in_the_outbox_while_the_broker_is_down(own_mosquitto, scale, make_gateway):
    gateway = make_gateway(own_mosquitto.port, scale.port.path)
    wait_until(lambda: gateway.publisher.connected)
    own_mosquitto.stop()
    wait_until(lambda: not gateway.publisher.connected)
    weights = [Decimal("70.1"), Decimal("70.2"), Decimal("70.3")]
    for weight in weights:
        polls = scale.requests
        scale.set(weight=weight)
        wait_until(lambda p=polls: scale.requests >= p + 2)
        scale.set(weight=Decimal("0.0"))
        wait_until(lambda p=polls: scale.requests >= p + 4)
    assert gateway.outbox.depth() == 3
    own_mosquitto.start()  # same port, and the broker kept no state of these readings
    collector = Collector(own_mosquitto.port)
    try:
        # The collector subscribed after the restart, so it may miss the first re-sends;
        # what counts is that the outbox drains only on PUBACK, oldest first.
        wait_until(lambda: gateway.outbox.depth() == 0, timeout=30)
        assert gateway.publisher.acked >= 3
    finally:
        collector.close()
