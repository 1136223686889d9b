"""Benchmark 3, ingest: ``python bench/ingest.py [--quick] [--readings N] [--no-sqlite]``.

Readings published at QoS 1 are filed by ``roomvitals ingest`` processes (validation, routing,
exactly-once insert, observations, events, batched transactions, manual acks after commit)
with one worker and with two on the shared subscription, 40,000 readings per measurement
(2,000 in ``--quick``), in turn over two rounds (one in ``--quick``), each from empty
tables. Two ways, each with one and two workers:

- backlog (the goals): the workers are connected and subscribed, then paused (SIGSTOP) while
  the readings are put on the broker, and resumed together; the time is from their resume
  to the last reading filed. This is the ingest tier alone (Mosquitto's delivery, the
  workers, the database) catching up, as after an outage.
- while publishing (no goal, for comparison): the load generator publishes the readings
  during the measurement. On a 2-core machine the load generator and Mosquitto's intake of
  its messages then take CPU the two workers share, but not from one worker (it leaves a core
  idle), so this ratio sits lower, and lower still the faster a worker gets.

The publisher stands for gateways on other machines: it writes pre-built packets
(``PacketPublisher``) so as to take little of the two cores. Baseline, same run:
SQLAlchemy Core ``executemany`` of the same rows (readings, observations, events), 100
readings per commit. Into PostgreSQL when the local server answers, and SQLite. Goals: one
worker >= 0.3x the raw insert; two workers >= 1.6x one worker.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    ROOT,
    PacketPublisher,
    Result,
    postgres_available,
    report,
    running_broker,
    say,
    wait_for,
)
from bench.stack import bench_database, bp_payload, seed_clinic

ROOMS = 10


def payloads(count: int, prefix: str = "bp") -> list[tuple[str, bytes]]:
    return [bp_payload(f"room-{n % ROOMS}", f"{prefix}-{n % 50}", 100 + n % 60)
            for n in range(count)]


def filed(engine) -> int:
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from dashboard.models import Reading

    with Session(engine) as db:
        return db.scalar(select(func.count()).select_from(Reading))


def clear(engine) -> None:
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from dashboard.models import Device, Reading, ReadingEvent, ReadingObservation

    models = (ReadingEvent, ReadingObservation, Reading, Device)
    with Session(engine) as db, db.begin():
        if engine.dialect.name == "postgresql":
            # TRUNCATE leaves no dead rows behind: DELETE's would bring autovacuum, which
            # then ran during the next measurement (the SQLite ones come right after).
            names = ", ".join(m.__tablename__ for m in models)
            db.execute(text(f"TRUNCATE {names} CASCADE"))
        else:
            for model in models:
                db.query(model).delete()


def workers_rate(url: str, messages: list[tuple[str, bytes]], workers: int, engine,
                 backlog: bool) -> float:
    # A broker of its own each time: Mosquitto 2.0 deals a shared subscription's messages
    # over every member session, connected or not, so a session left over from a run with
    # more workers would take a share and never file it.
    with running_broker() as broker:
        return _workers_rate(url, broker.port, messages, workers, engine, backlog)


def _workers_rate(url: str, port: int, messages: list[tuple[str, bytes]], workers: int,
                  engine, backlog: bool) -> float:
    procs = []
    for n in range(workers):
        env = {**os.environ, "ROOMVITALS_INGEST_ID": f"bench-ingest-{n}"}
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "roomvitals.cli", "ingest", "--broker",
             f"mqtt://127.0.0.1:{port}", "--database", url, "--no-upgrade", "--shared"],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    publisher = PacketPublisher(port, f"bench-ingest-publisher-{workers}")
    try:
        # Warm up until the workers are subscribed (a message published before that has no
        # subscriber and is dropped), then give the slower one a moment more.
        warm = publisher.prepare(payloads(1000, prefix="warm"))
        deadline = time.monotonic() + 60
        before = filed(engine)
        while filed(engine) < before + 10 * workers and time.monotonic() < deadline:
            publisher.publish([warm.pop(0)])
            time.sleep(0.05)
        time.sleep(1.0)
        packets = publisher.prepare(messages)
        base = filed(engine)
        if backlog:
            for proc in procs:
                proc.send_signal(signal.SIGSTOP)
            publisher.publish(packets)
            publisher.wait_acked()  # the broker holds every reading
            started = time.monotonic()
            for proc in procs:
                proc.send_signal(signal.SIGCONT)
        else:
            started = time.monotonic()
            publisher.publish(packets)
        wait_for(lambda: filed(engine) >= base + len(messages), 180,
                 "the readings to be filed", interval=0.05)
        return len(messages) / (time.monotonic() - started)
    finally:
        publisher.close()
        for proc in procs:
            proc.send_signal(signal.SIGCONT)  # a stopped process would not act on SIGTERM
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


def raw_rate(engine, messages: list[tuple[str, bytes]]) -> float:
    """Core executemany of the rows the filer writes, 100 readings per commit."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from dashboard.filing import Filer
    from dashboard.models import Device, Reading, ReadingEvent, ReadingObservation, Room
    from vitals.message import decode_reading

    readings = [decode_reading(p) for _, p in messages]
    with Session(engine) as db, db.begin():
        rooms = dict(db.execute(select(Room.name, Room.id)).all())
        device = Device(site="bench", device_id="raw", kind="bp_monitor", model="", serial="",
                        transport="serial", protocol="", room_id=rooms["room-0"])
        db.add(device)
        db.flush()
        device_pk = device.id
    now = datetime.now(UTC)
    started = time.monotonic()
    with engine.connect() as conn:
        for start in range(0, len(readings), 100):
            chunk = readings[start: start + 100]
            conn.execute(Reading.__table__.insert(), [
                {"id": str(r.id), "device_pk": device_pk, "room_id": rooms[r.room],
                 "measured_at": r.measured_at, "measured_at_source": r.measured_at_source,
                 "received_at": r.received_at, "filed_at": now, "flags": [], "raw": r.raw,
                 "clock_offset_s": None, "encounter_id": None, "state": "unassigned",
                 "source": "device", "state_changed_at": now} for r in chunk])
            conn.execute(ReadingObservation.__table__.insert(), [
                Filer._observation_row(r, i) for r in chunk for i in range(len(r.observations))])
            conn.execute(ReadingEvent.__table__.insert(), [
                {"reading_id": str(r.id), "at": now, "action": "filed", "to_state": "unassigned",
                 "encounter_id": None, "reason": ""} for r in chunk])
            conn.commit()
    return len(readings) / (time.monotonic() - started)


def run_database(label: str, url: str, count: int, rounds: int) -> list[Result]:
    from dashboard.db import make_engine

    seed_clinic(url, rooms=ROOMS)
    engine = make_engine(url)
    rates: dict[tuple[bool, int], list[float]] = {
        (backlog, workers): [] for backlog in (True, False) for workers in (1, 2)}
    say(f"ingest ({label}): raw executemany of {count} readings")
    raw = raw_rate(engine, payloads(count))
    # Every kind of measurement once per round, so that a slow spell of this shared machine
    # does not fall on one side of a ratio only; each from the same empty tables (a bigger
    # readings index costs more per insert, and the later measurement would otherwise always
    # meet it). The order reverses every other round, so that none always meets a warmer
    # machine.
    kinds = list(rates)
    for n in range(rounds):
        for backlog, workers in kinds if n % 2 == 0 else kinds[::-1]:
            way = "from a backlog" if backlog else "while publishing"
            say(f"ingest ({label}): {workers} worker(s) on the shared subscription, {way} "
                f"(round {n + 1} of {rounds})")
            clear(engine)
            rates[backlog, workers].append(
                workers_rate(url, payloads(count), workers, engine, backlog))
    engine.dispose()

    def two_against_one(backlog: bool) -> tuple[float, float, str]:
        one, two = rates[backlog, 1], rates[backlog, 2]
        ratios = ", ".join(f"{b / a:.2f}" for a, b in zip(one, two, strict=True))
        spread = f"; {rounds} rounds, ratios {ratios}" if rounds > 1 else ""
        return statistics.mean(two), statistics.mean(one), spread

    two_rate, one_rate, spread = two_against_one(True)
    live_two, live_one, live_spread = two_against_one(False)
    return [
        Result(f"ingest_one_worker_{label}", one_rate, raw, "readings/s", "ratio >= 0.3",
               one_rate / raw >= 0.3, "from a backlog, vs Core executemany, 100 per commit"),
        Result(f"ingest_two_workers_{label}", two_rate, one_rate, "readings/s", "ratio >= 1.6",
               two_rate / one_rate >= 1.6, f"from a backlog, vs one worker{spread}"),
        Result(f"ingest_two_workers_while_publishing_{label}", live_two, live_one,
               "readings/s", "-", None,
               f"load generator on the same cores, vs one worker the same way{live_spread}"),
    ]


def run(quick: bool = False, readings: int | None = None, sqlite: bool = True) -> list[Result]:
    count = readings or (2_000 if quick else 40_000)
    rounds = 1 if quick else 2
    results: list[Result] = []
    if postgres_available():
        url = bench_database("roomvitals_bench_ingest")
        results += run_database("postgresql", url, count, rounds)
    if sqlite or not postgres_available():
        from dashboard.db import upgrade

        path = Path(tempfile.mkdtemp()) / "ingest.sqlite3"
        upgrade(f"sqlite:///{path}")
        results += run_database("sqlite", f"sqlite:///{path}", count, rounds)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--readings", type=int, default=None)
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    args = parser.parse_args()
    report(run(args.quick, args.readings, sqlite=not args.no_sqlite))
    return 0


if __name__ == "__main__":
    sys.exit(main())
