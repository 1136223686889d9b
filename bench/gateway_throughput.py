"""Benchmark 1, gateway throughput: ``python bench/gateway_throughput.py [--quick] [--readings N]``.

Simulated scales hand their wire frames to the gateway's own parsers (one thread per device,
as the serial links do), and the gateway decodes, checks, encodes, writes the durable outbox
(SQLite WAL, synchronous=FULL, group commit) and publishes at QoS 1; a subscriber counts the
readings at the broker from a process of its own (it must not share the measured process's
GIL). Baseline, same run, same broker, a subscriber alike: raw paho publishing the very same
payloads at QoS 1 (window 100); the two in turn over two rounds (one in ``--quick``), in a
process with the garbage-collector settings of ``roomvitals gateway``. Goal: ratio >= 0.5.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import CounterProcess, Result, paho_client, report, running_broker, say, wait_for
from device_gateway.config import DeviceConfig, GatewayConfig
from device_gateway.gateway import Gateway
from drivers.serial import parser as make_parser
from roomvitals.heap import settle_after_startup
from simulators.serial.healthometer_esc import ScaleState, encode_reading
from vitals import topics
from vitals.mqtt import BrokerConfig

DEVICES = 16


def frames(device: int, count: int) -> list[bytes]:
    """ESC frames of different weights, so each one is a new weighing (a new reading)."""
    return [encode_reading(ScaleState(weight=Decimal(60 + device) + Decimal(i % 400) / 10))
            for i in range(count)]


def run_gateway(port: int, readings: int, state_dir: Path, counter: CounterProcess) -> float:
    devices = tuple(
        DeviceConfig(id=f"scale-{n}", room=f"room-{n % 8}", protocol="healthometer-esc",
                     port=str(state_dir / f"no-port-{n}"), poll_interval=3600)
        for n in range(DEVICES)
    )
    config = GatewayConfig(site="bench", gateway_id="gw-bench",
                           broker=BrokerConfig(port=port), state_dir=state_dir, devices=devices)
    gateway = Gateway(config)
    gateway.publisher.start()  # no serial links: the frames are fed below, as a link would
    wait_for(lambda: gateway.publisher.connected, 10, "the gateway to connect")
    per_device = readings // DEVICES
    work = [frames(n, per_device) for n in range(DEVICES)]
    counter.reset()
    barrier = threading.Barrier(DEVICES + 1)

    def feed(device: DeviceConfig, device_frames: list[bytes]) -> None:
        parser = make_parser(device.protocol)
        barrier.wait()
        for frame in device_frames:
            for measurement in parser.feed(frame):
                gateway.handle(device, measurement)

    threads = [threading.Thread(target=feed, args=(d, w)) for d, w in zip(devices, work,
                                                                         strict=True)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.monotonic()
    total = per_device * DEVICES
    wait_for(lambda: counter.count >= total, 300, "the gateway's readings")
    elapsed = time.monotonic() - started
    for thread in threads:
        thread.join()
    gateway.publisher.stop()
    gateway.outbox.close()
    return total / elapsed


def run_raw(port: int, payloads: list[tuple[str, bytes]], counter: CounterProcess) -> float:
    client = paho_client(port, "bench-raw-publisher")
    counter.reset()
    started = time.monotonic()
    for topic, payload in payloads:
        client.publish(topic, payload, qos=1)
    wait_for(lambda: counter.count >= len(payloads), 300, "the raw readings")
    elapsed = time.monotonic() - started
    client.disconnect()
    client.loop_stop()
    return len(payloads) / elapsed


def run(quick: bool = False, readings: int | None = None) -> list[Result]:
    readings = readings or (2_000 if quick else 16_000)
    rounds = 1 if quick else 2
    logging.getLogger("device_gateway").setLevel(logging.ERROR)
    # The process settings `roomvitals gateway` runs with (the raw baseline shares them).
    settle_after_startup()
    gateway_rates: list[float] = []
    raw_rates: list[float] = []
    # Gateway and raw paho in turn, so that a slow spell of this shared machine does not fall
    # on one side of the ratio only.
    for n in range(rounds):
        with running_broker() as broker, tempfile.TemporaryDirectory() as tmp:
            counter = CounterProcess(broker.port, topics.READING_FILTER, capture=True)
            say(f"gateway throughput: {readings} readings through the gateway "
                f"(round {n + 1} of {rounds})")
            gateway_rates.append(run_gateway(broker.port, readings, Path(tmp), counter))
            captured = counter.close()
            counter = CounterProcess(broker.port, topics.READING_FILTER, "bench-counter-raw")
            say(f"gateway throughput: the same {len(captured)} payloads by raw paho")
            raw_rates.append(run_raw(broker.port, captured, counter))
            counter.close()
    gateway_rate, raw_rate = statistics.mean(gateway_rates), statistics.mean(raw_rates)
    ratio = gateway_rate / raw_rate
    spread = ", ".join(f"{g / r:.2f}" for g, r in zip(gateway_rates, raw_rates, strict=True))
    note = "decode + outbox (fsync) + QoS 1 vs raw paho QoS 1"
    if rounds > 1:
        note += f"; {rounds} rounds, ratios {spread}"
    return [Result("gateway_throughput", gateway_rate, raw_rate, "readings/s",
                   "ratio >= 0.5", ratio >= 0.5, note)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--readings", type=int, default=None)
    args = parser.parse_args()
    report(run(args.quick, args.readings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
