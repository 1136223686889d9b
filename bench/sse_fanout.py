"""Benchmark 6, tablets: ``python bench/sse_fanout.py [--clients 200]``.

``roomvitals web`` under gunicorn (2 gthread workers, enough threads for every stream: each
open EventSource holds one) with N browser-side SSE clients on one briefing's event stream;
a reading is filed (the ingest's own code, committed) and the time until ALL N clients have
received its ``revision`` event is measured, p50/p99 over the readings. Baseline, same run:
the same with one client. Goal: p99 <= 100 ms with 200 clients.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Result, percentile, report, say, wait_for
from bench.stack import SseClients, Web, bench_database, bp_payload, seed_clinic


def fan_out(web: Web, cookie: str, encounter_id: int, clients: int, readings: int,
            filer, start_revision: int) -> tuple[list[float], int]:
    """Seconds from each reading's commit until every client saw it; the last revision."""
    path = f"/briefing/{encounter_id}/events?revision={start_revision}"
    sse = SseClients(web.port, cookie, [path] * clients)
    try:
        wait_for(lambda: len(sse.ready) == clients, 60, f"{clients} streams to open")
        latencies = []
        revision = start_revision
        for n in range(readings):
            topic, payload = bp_payload("room-0", "bp-1", 110 + n % 40)
            assert filer.file_message(topic, payload).status == "filed"
            committed = time.monotonic()
            revision += 1
            wait_for(lambda r=revision: all((c, r) in sse.seen for c in range(clients)), 30,
                     f"revision {revision} at every client", interval=0.002)
            latencies.append(max(sse.seen[(c, revision)] for c in range(clients)) - committed)
            time.sleep(0.1)  # readings arrive one by one, not in a burst
        return latencies, revision
    finally:
        sse.close()


def run(quick: bool = False, clients: int | None = None) -> list[Result]:
    from dashboard.db import make_engine
    from dashboard.filing import Filer

    clients = clients or 200
    readings = 20 if quick else 60
    url = bench_database("roomvitals_bench_sse")
    encounters = seed_clinic(url, rooms=1)
    # gunicorn does not spread connections evenly over its workers: either one may end up
    # holding every stream, so each has a thread for every client (and some to spare).
    web = Web(url, workers=2, threads=clients + 16).start()
    engine = make_engine(url)
    try:
        cookie = web.login()
        filer = Filer(engine)
        say(f"sse fan-out: 1 client, {readings} readings")
        single, revision = fan_out(web, cookie, encounters["room-0"], 1, readings, filer, 0)
        say(f"sse fan-out: {clients} clients, {readings} readings")
        many, _ = fan_out(web, cookie, encounters["room-0"], clients, readings, filer, revision)
    finally:
        web.stop()
        engine.dispose()
    p99, base99 = percentile(many, 99) * 1000, percentile(single, 99) * 1000
    p50, base50 = percentile(many, 50) * 1000, percentile(single, 50) * 1000
    return [
        Result("sse_fanout_p50", p50, base50, "ms", "-", None,
               f"{clients} clients vs 1 client"),
        Result("sse_fanout_p99", p99, base99, "ms", "p99 <= 100 ms", p99 <= 100,
               f"{clients} clients vs 1 client"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--clients", type=int, default=None)
    args = parser.parse_args()
    report(run(args.quick, args.clients))
    return 0


if __name__ == "__main__":
    sys.exit(main())
