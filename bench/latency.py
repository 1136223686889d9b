"""Benchmark 2, end-to-end latency: ``python bench/latency.py``.

From the last byte of a scale's frame written to its pseudo-terminal, through the real
``roomvitals gateway`` (pyserial, decode, outbox, QoS 1), Mosquitto, ``roomvitals ingest``
(filing into the database) and ``roomvitals web`` (gunicorn), to the ``revision`` event that
the briefing page's EventSource receives; 10 rooms, one open encounter and one SSE client
each, at 10 and 100 readings/s in total; p50/p99/p99.9. Baseline, same run and broker: raw
paho publish -> on_message at the same rates. Goal: p99 <= 50 ms (above the frame's serial
wire time at 9600 baud, which a pty does not add) at 100 readings/s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    ROOT,
    Counter,
    Result,
    paho_client,
    percentile,
    report,
    running_broker,
    say,
    wait_for,
)
from bench.stack import SseClients, Web, bench_database, seed_clinic
from simulators.serial.healthometer_esc import ScaleState, encode_reading
from simulators.serial.pty_port import PtyPort
from tests.durability.harness import write_toml

ROOMS = 10
BAUD = 9600


def raw_latencies(port: int, rate: float, seconds: float) -> list[float]:
    counter = Counter(port, "bench/latency/#", f"bench-latency-sub-{rate}")
    counter.keep_times = True
    client = paho_client(port, f"bench-latency-pub-{rate}")
    sent: dict[bytes, float] = {}
    try:
        total = int(rate * seconds)
        start = time.monotonic()
        for n in range(total):
            time.sleep(max(0.0, start + n / rate - time.monotonic()))
            key = f"{n:08d}".encode()
            sent[key] = time.monotonic()
            client.publish("bench/latency/x", key + b" " * 400, qos=1)
        wait_for(lambda: counter.count >= total, 30, "the raw messages")
    finally:
        client.disconnect()
        client.loop_stop()
        counter.close()
    return [counter.times[(k + b" " * 400)[:64]] - t for k, t in sent.items()]


def stack_latencies(ptys: list[PtyPort], sse: SseClients, rate: float, seconds: float,
                    revisions: list[int]) -> list[float]:
    total = int(rate * seconds)
    written: list[tuple[int, int, float]] = []  # room, revision it makes, when
    start = time.monotonic()
    for n in range(total):
        room = n % ROOMS
        revisions[room] += 1
        weight = Decimal(50) + Decimal(revisions[room] % 900) / 10
        frame = encode_reading(ScaleState(weight=weight))
        time.sleep(max(0.0, start + n / rate - time.monotonic()))
        ptys[room].write(frame)
        written.append((room, revisions[room], time.monotonic()))
    wait_for(lambda: all(any(c == room and r >= revisions[room] for c, r in sse.seen)
                         for room in range(ROOMS)), 60, "the last events", interval=0.05)
    latencies = []
    for room, revision, at in written:
        # An event may carry several readings (revision jumped): the first event at or past
        # this reading's revision is when the page learned of it.
        seen = min((t for (c, r), t in sse.seen.items() if c == room and r >= revision))
        latencies.append(seen - at)
    return latencies


def run(quick: bool = False) -> list[Result]:
    seconds = 5 if quick else 20
    work = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    url = bench_database("roomvitals_bench_latency")
    encounters = seed_clinic(url, rooms=ROOMS)
    ptys = [PtyPort(work / "dev" / f"scale-{n}") for n in range(ROOMS)]
    for pty in ptys:
        pty.plug()
    results: list[Result] = []
    frame_bytes = len(encode_reading(ScaleState(weight=Decimal("72.4"))))
    wire_ms = frame_bytes * 10 / BAUD * 1000
    with running_broker() as broker:
        config = write_toml({
            "site": "bench", "gateway_id": "gw-latency", "state_dir": str(work / "state"),
            "broker": {"url": f"mqtt://127.0.0.1:{broker.port}"},
            "devices": [{"id": f"scale-{n}", "room": f"room-{n}", "protocol": "healthometer-esc",
                         "port": str(ptys[n].path), "poll_interval": 3600}
                        for n in range(ROOMS)]}, work / "gateway.toml")
        procs = [
            subprocess.Popen([sys.executable, "-m", "roomvitals.cli", "ingest", "--broker",
                              broker.url, "--database", url, "--no-upgrade"],
                             env={**os.environ, "ROOMVITALS_INGEST_ID": "bench-latency"},
                             cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=(work / "ingest.log").open("ab")),
            subprocess.Popen([sys.executable, "-m", "roomvitals.cli", "gateway", "--config",
                              str(config)], cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=(work / "gateway.log").open("ab")),
        ]
        web = Web(url, workers=2, threads=32).start()
        sse = None
        try:
            cookie = web.login()
            paths = [f"/briefing/{encounters[f'room-{n}']}/events?revision=0"
                     for n in range(ROOMS)]
            sse = SseClients(web.port, cookie, paths)
            wait_for(lambda: len(sse.ready) == ROOMS, 60, "the streams to open")
            revisions = [0] * ROOMS
            # Warm-up: the first reading of each room waits for the gateway to open its port.
            stack_latencies(ptys, sse, 5, 4, revisions)
            for rate in (10, 100):
                say(f"latency: {rate} readings/s for {seconds} s, stack and raw")
                stack = stack_latencies(ptys, sse, rate, seconds, revisions)
                raw = raw_latencies(broker.port, rate, seconds)
                for q, label in ((50, "p50"), (99, "p99"), (99.9, "p99.9")):
                    value = percentile(stack, q) * 1000
                    base = percentile(raw, q) * 1000
                    goal = "p99 <= 50 ms" if (rate, label) == (100, "p99") else "-"
                    met = value <= 50 if goal != "-" else None
                    results.append(Result(
                        f"latency_{rate}_per_s_{label}", value, base, "ms", goal, met,
                        f"pty last byte -> SSE event vs raw publish -> on_message; "
                        f"{len(stack)} readings; wire time {wire_ms:.1f} ms not included"))
        finally:
            if sse is not None:
                sse.close()
            web.stop()
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=30)
            for pty in ptys:
                pty.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    report(run(args.quick))
    return 0


if __name__ == "__main__":
    sys.exit(main())
