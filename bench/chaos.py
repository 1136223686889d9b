"""Faults in a loop: ``python bench/chaos.py --seconds N [--database URL]``.

Runs a real ``roomvitals gateway`` process reading a simulated Health o meter scale on a
pseudo-terminal, two ``roomvitals ingest --shared`` processes, and Mosquitto started from the
shipped production configuration (TLS, passwords, ACLs), and for N seconds weighs a known
sequence of weights while injecting, in turn: a broker outage, ``kill -9`` of the gateway,
``kill -9`` of an ingest worker, and an unplug/replug of the scale. Then it waits for the
database to settle and prints exactly one line::

    emitted=E filed=F duplicates=D lost=L

(E weights weighed, F of them filed, D filed more than once, L never filed). Progress goes
to stderr. The database is a fresh SQLite file unless ``--database`` names one (PostgreSQL:
give an empty database; it is migrated first).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dashboard.db import make_engine, upgrade  # noqa: E402
from roomvitals.broker import free_port  # noqa: E402
from simulators.serial.healthometer_esc import HealthOMeterScale, ScaleState  # noqa: E402
from simulators.serial.pty_port import PtyPort  # noqa: E402
from tests.durability.harness import (  # noqa: E402
    Process,
    filed_weights,
    gateway_settings,
    ingest_process,
    make_pki,
    production_broker,
    scrape,
    tally,
    weight,
    write_toml,
)

QUEUED = "roomvitals_gateway_readings_queued_total"
NOT_READINGS = "roomvitals_gateway_not_readings_total"


def say(text: str) -> None:
    print(f"chaos: {text}", file=sys.stderr, flush=True)


def wait(predicate, timeout: float, what: str) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    say(f"gave up waiting for {what} after {timeout:.0f} s")
    return False


class Rig:
    def __init__(self, workdir: Path, database_url: str, outage: float) -> None:
        self.outage = outage
        conf = workdir / "broker-conf"
        conf.mkdir()
        os.chmod(workdir, 0o755)
        os.chmod(conf, 0o755)
        make_pki(conf)
        self.broker = production_broker(conf).start()
        self.scale = HealthOMeterScale(PtyPort(workdir / "dev" / "scale"),
                                       ScaleState(weight=Decimal(0))).start()
        self.metrics_port = free_port()
        settings = gateway_settings(workdir / "gateway", self.broker, conf,
                                    port=str(self.scale.port.path),
                                    metrics_port=self.metrics_port)
        self.gateway = Process(["gateway", "--config",
                                str(write_toml(settings, workdir / "gateway.toml"))])
        self.workers = [ingest_process(database_url, self.broker, conf, f"chaos-{n}")
                        for n in "ab"]
        self.emitted: list[Decimal] = []

    def start(self) -> None:
        for worker in self.workers:
            worker.start()
        self.gateway.start()
        wait(lambda: self.metric("roomvitals_gateway_broker_connected") == 1, 60, "gateway")

    def metric(self, name: str) -> float | None:
        try:
            return scrape(self.metrics_port).get(name)
        except OSError:
            return None

    def weigh(self, count: int) -> None:
        """Each weight stays on the platform until the gateway has queued it."""
        for _ in range(count):
            w = weight(len(self.emitted))
            queued = self.metric(QUEUED) or 0
            self.scale.set(weight=w)
            if wait(lambda q=queued: (self.metric(QUEUED) or 0) > q, 60, f"weight {w}"):
                self.emitted.append(w)
            else:
                self.emitted.append(w)  # counted: if it never arrives, it is "lost"

    def step_off(self) -> None:
        # A restarted gateway would take a patient still standing there for a new weighing.
        seen = self.metric(NOT_READINGS) or 0
        self.scale.set(weight=Decimal(0))
        wait(lambda: (self.metric(NOT_READINGS) or 0) > seen, 30, "the empty platform")

    # the faults ------------------------------------------------------------------------
    def broker_outage(self) -> None:
        say(f"broker down for {self.outage:.0f} s")
        self.broker.stop()
        deadline = time.monotonic() + self.outage
        while time.monotonic() < deadline:
            self.weigh(1)
        self.broker.start()

    def kill_gateway(self) -> None:
        say("kill -9 gateway")
        self.step_off()
        self.gateway.kill()
        self.gateway.start()
        wait(lambda: self.metric(QUEUED) is not None, 60, "the gateway to come back")

    def kill_ingest(self, rng: random.Random) -> None:
        worker = rng.choice(self.workers)
        say(f"kill -9 ingest worker {worker.env['ROOMVITALS_INGEST_ID']}")
        worker.kill()
        self.weigh(5)
        worker.start()

    def unplug(self) -> None:
        say("unplug and replug the scale")
        w = weight(len(self.emitted))
        queued = self.metric(QUEUED) or 0
        self.scale.set(weight=w)
        self.scale.port.unplug()  # maybe mid-transfer
        time.sleep(0.5)
        self.scale.port.plug()
        wait(lambda: (self.metric(QUEUED) or 0) > queued, 60, f"weight {w} after replug")
        self.emitted.append(w)

    def stop(self) -> None:
        self.gateway.stop()
        for worker in self.workers:
            worker.stop()
        self.scale.stop()
        self.broker.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, required=True, help="how long to inject faults")
    parser.add_argument("--database", help="SQLAlchemy URL (default: a fresh SQLite file)")
    parser.add_argument("--outage", type=float, default=10.0,
                        help="seconds the broker stays down each time (default 10)")
    parser.add_argument("--seed", type=int, default=4, help="random seed for the fault order")
    args = parser.parse_args(argv)
    if shutil.which("mosquitto") is None:
        print("chaos: mosquitto is not installed", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="roomvitals-chaos-"))
    url = args.database or f"sqlite:///{workdir / 'chaos.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    rng = random.Random(args.seed)
    rig = Rig(workdir, url, args.outage)
    try:
        rig.start()
        deadline = time.monotonic() + args.seconds
        faults = [rig.broker_outage, rig.kill_gateway, lambda: rig.kill_ingest(rng), rig.unplug]
        while time.monotonic() < deadline:
            rig.weigh(rng.randint(3, 10))
            rng.choice(faults)()
        rig.weigh(3)
        say(f"{len(rig.emitted)} weighed; waiting for the database to settle")
        last, stable_since = -1, time.monotonic()
        while time.monotonic() - stable_since < 10:
            count = len(filed_weights(engine))
            if count != last:
                last, stable_since = count, time.monotonic()
            if count >= len(rig.emitted) and (rig.metric("roomvitals_gateway_outbox_depth")
                                              == 0):
                time.sleep(1)  # let late duplicates show
                break
            time.sleep(0.2)
        result = tally(engine, rig.emitted)
    finally:
        rig.stop()
        engine.dispose()
    if not result.in_order and result.lost == result.duplicates == 0:
        say("all filed once, but not in order of measurement")
    print(result.line(), flush=True)
    shutil.rmtree(workdir, ignore_errors=True)
    return 0 if (result.lost, result.duplicates) == (0, 0) and result.in_order else 1


if __name__ == "__main__":
    raise SystemExit(main())
