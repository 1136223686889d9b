"""Fault injection: every emitted reading reaches the database exactly once, in order of
measurement, whatever fails in between. Real Mosquitto (the production configuration, TLS
and passwords), real gateway and ingest processes killed with SIGKILL, real ptys, SQLite and
PostgreSQL. A "reading" here is one weight of a known sequence (tests.durability.harness)."""

from __future__ import annotations

import sqlite3
import threading
import time
from decimal import Decimal

from roomvitals.broker import free_port
from simulators.serial.healthometer_esc import HealthOMeterScale, ScaleState
from simulators.serial.pty_port import PtyPort
from tests.durability.harness import (
    Process,
    feed,
    filed_weights,
    gateway_settings,
    ingest_process,
    scrape,
    tally,
    weight,
    write_toml,
)
from tests.helpers import wait_until

OUTAGE_S = 10  # the shortest broker outage the issue asks for


def assert_exactly_once_in_order(engine, emitted: list[Decimal], timeout: float = 60) -> None:
    try:
        wait_until(lambda: len(filed_weights(engine)) >= len(emitted), timeout=timeout)
    except AssertionError:
        missing = sorted(set(emitted) - set(filed_weights(engine)))
        raise AssertionError(
            f"not all filed: {tally(engine, emitted).line()}; missing {missing[:20]}"
        ) from None
    result = tally(engine, emitted)
    assert (result.filed, result.duplicates, result.lost) == (len(emitted), 0, 0), result.line()
    assert result.in_order, "filed out of order of measurement"


def test_broker_stopped_mid_stream_for_ten_seconds(secure_broker, pki, gateways, ingests,
                                                   engine):
    ingests(secure_broker, pki, "ingest-outage")
    gateway = gateways(secure_broker, pki)
    device = gateway.config.devices[0]
    wait_until(lambda: gateway.publisher.connected)
    emitted = 0
    stop = threading.Event()

    def stream() -> None:  # a steady flow of readings, before, during and after the outage
        nonlocal emitted
        while not stop.is_set():
            feed(gateway, device, range(emitted, emitted + 1))
            emitted += 1
            time.sleep(0.02)

    feeder = threading.Thread(target=stream)
    feeder.start()
    try:
        wait_until(lambda: emitted >= 50)
        secure_broker.stop()
        wait_until(lambda: not gateway.publisher.connected)
        time.sleep(OUTAGE_S)
        assert gateway.outbox.depth() > 0  # readings waited in the outbox
        secure_broker.start()
        wait_until(lambda: gateway.publisher.connected, timeout=40)
        held = emitted
        wait_until(lambda: emitted >= held + 50)
    finally:
        stop.set()
        feeder.join()
    assert_exactly_once_in_order(engine, [weight(i) for i in range(emitted)])
    wait_until(lambda: gateway.outbox.depth() == 0)
    assert gateway.status()["counters"]["reconnects"] >= 1


def test_gateway_killed_and_restarted(secure_broker, pki, ingests, engine, tmp_path):
    """``kill -9`` of a ``roomvitals gateway`` process, with the broker up, and again with
    readings waiting in its outbox while the broker is down."""
    ingests(secure_broker, pki, "ingest-gateway-kill")
    scale = HealthOMeterScale(PtyPort(tmp_path / "dev" / "scale"), ScaleState(weight=Decimal(0)))
    scale.start()
    metrics_port = free_port()
    settings = gateway_settings(tmp_path / "gw", secure_broker, pki, port=str(scale.port.path),
                                metrics_port=metrics_port)
    gateway = Process(["gateway", "--config", str(write_toml(settings, tmp_path / "gw.toml"))])

    def metrics() -> dict[str, float]:
        try:
            return scrape(metrics_port)
        except OSError:
            return {}

    def weigh(indices: range) -> None:
        """Each weight stays on the platform until this gateway process has queued it."""
        for index in indices:
            queued = metrics().get("roomvitals_gateway_readings_queued_total", 0)
            scale.set(weight=weight(index))
            wait_until(lambda q=queued: metrics().get(
                "roomvitals_gateway_readings_queued_total", 0) > q)

    def step_off_and_kill() -> None:
        # The platform empties first, so that the next process starts between weighings
        # (tests/gateway/test_weighing.py restarts one with the patient still standing).
        seen = metrics()["roomvitals_gateway_not_readings_total"]
        scale.set(weight=Decimal(0))
        wait_until(lambda: metrics().get("roomvitals_gateway_not_readings_total", 0) > seen)
        gateway.kill()

    try:
        gateway.start()
        wait_until(lambda: metrics().get("roomvitals_gateway_broker_connected") == 1,
                   timeout=30)
        weigh(range(0, 10))
        step_off_and_kill()
        gateway.start()
        wait_until(lambda: metrics().get("roomvitals_gateway_broker_connected") == 1,
                   timeout=30)
        secure_broker.stop()
        weigh(range(10, 20))
        step_off_and_kill()
        with sqlite3.connect(tmp_path / "gw" / "outbox.sqlite3") as outbox:
            waiting = outbox.execute("SELECT count(*) FROM outbox").fetchone()[0]
        assert waiting == 10  # durable across kill -9
        secure_broker.start()
        gateway.start()
        weigh(range(20, 25))
        assert_exactly_once_in_order(engine, [weight(i) for i in range(25)])
        wait_until(lambda: metrics().get("roomvitals_gateway_outbox_depth") == 0)
    finally:
        gateway.stop()
        scale.stop()
    assert "Traceback" not in gateway.output(), gateway.output()[-3000:]


def test_ingest_worker_killed_mid_batch(secure_broker, pki, gateways, engine, database_url):
    """Two ``roomvitals ingest --shared`` processes; one is killed with SIGKILL while the
    readings pour in, and comes back with the same worker id."""
    workers = [ingest_process(database_url, secure_broker, pki, f"worker-{n}").start()
               for n in "ab"]
    try:
        gateway = gateways(secure_broker, pki)
        wait_until(lambda: gateway.publisher.connected)
        time.sleep(1.5)  # both workers subscribed (the broker deals only to members)
        # Enough readings, and a close watch, that the kill lands while they are being filed:
        # two workers file a few thousand a second, so 600 could all be in before a 50 ms poll.
        total = 2000
        feeder = threading.Thread(target=feed, args=(gateway, gateway.config.devices[0],
                                                     range(total)))
        feeder.start()
        wait_until(lambda: len(filed_weights(engine)) >= 100, timeout=60, interval=0.005)
        workers[0].kill()
        filed_at_kill = len(filed_weights(engine))
        assert filed_at_kill < total, "the batch was filed before the kill; kill earlier"
        feeder.join()
        workers[0].start()
        assert_exactly_once_in_order(engine, [weight(i) for i in range(total)], timeout=90)
    finally:
        for worker in workers:
            worker.stop()
    for worker in workers:
        assert "Traceback" not in worker.output(), worker.output()[-3000:]


def test_two_shared_workers_split_the_load(secure_broker, pki, gateways, ingests, engine):
    a = ingests(secure_broker, pki, "split-a")
    b = ingests(secure_broker, pki, "split-b")
    gateway = gateways(secure_broker, pki)
    wait_until(lambda: gateway.publisher.connected)
    feed(gateway, gateway.config.devices[0], range(300))
    assert_exactly_once_in_order(engine, [weight(i) for i in range(300)])
    assert a.counters.filed > 50 and b.counters.filed > 50
    assert a.counters.filed + b.counters.filed == 300
    assert a.counters.duplicates == b.counters.duplicates == 0


def test_mosquitto_keeps_an_away_workers_share_of_a_shared_subscription(
        secure_broker, pki, gateways, ingests, engine):
    """What Mosquitto 2.0 does (documented in dashboard/ingest.py and the README): a member of
    a shared subscription whose persistent session is disconnected keeps getting its share,
    queued until it returns; nothing is lost, but that share waits."""
    a = ingests(secure_broker, pki, "share-a")
    b = ingests(secure_broker, pki, "share-b")
    gateway = gateways(secure_broker, pki)
    wait_until(lambda: gateway.publisher.connected)
    b.stop()
    feed(gateway, gateway.config.devices[0], range(40))
    wait_until(lambda: gateway.outbox.depth() == 0)
    time.sleep(1)
    assert 0 < a.counters.filed < 40  # b's share waits at the broker
    ingests(secure_broker, pki, "share-b")  # the same worker id comes back
    assert_exactly_once_in_order(engine, [weight(i) for i in range(40)])


def test_serial_device_unplugged_mid_transfer_and_replugged(secure_broker, pki, gateways,
                                                            ingests, engine, tmp_path):
    ingests(secure_broker, pki, "ingest-unplug")
    scale = HealthOMeterScale(PtyPort(tmp_path / "dev" / "scale"), ScaleState(weight=Decimal(0)))
    scale.start()
    try:
        gateway = gateways(secure_broker, pki, port=str(scale.port.path))
        wait_until(lambda: gateway.status()["devices"]["scale-1"] == "connected")
        for index in range(12):
            queued = gateway.counters.queued
            scale.set(weight=weight(index))
            if index in (4, 9):
                # Pulled while the weight may be on the wire; it is still on the platform
                # after the replug, so it is read then if it was not before.
                scale.port.unplug()
                wait_until(lambda: gateway.status()["devices"]["scale-1"] == "disconnected")
                scale.port.plug()
            wait_until(lambda q=queued: gateway.counters.queued > q, timeout=30)
        assert_exactly_once_in_order(engine, [weight(i) for i in range(12)])
    finally:
        scale.stop()


def test_thousands_of_readings_wait_in_the_outbox_while_the_broker_is_down(
        secure_broker, pki, gateways, ingests, engine):
    ingests(secure_broker, pki, "ingest-fill-a")
    ingests(secure_broker, pki, "ingest-fill-b")  # two workers drain the backlog sooner
    gateway = gateways(secure_broker, pki, metrics_port=0)
    wait_until(lambda: gateway.publisher.connected)
    secure_broker.stop()
    wait_until(lambda: not gateway.publisher.connected)
    total = 2000
    feed(gateway, gateway.config.devices[0], range(total))
    assert gateway.outbox.depth() == total
    assert scrape(gateway.metrics.port)["roomvitals_gateway_outbox_depth"] == total
    secure_broker.start()
    assert_exactly_once_in_order(engine, [weight(i) for i in range(total)], timeout=120)
    wait_until(lambda: gateway.outbox.depth() == 0)
