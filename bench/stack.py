"""Parts of the end-to-end benchmarks: a clinic database, ``roomvitals web`` under gunicorn,
many SSE clients on one thread, and reading messages like a gateway's."""

from __future__ import annotations

import os
import re
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http.cookiejar import CookieJar
from pathlib import Path

from bench.common import ROOT, postgres_available, postgres_database, say
from roomvitals.broker import free_port, wait_for_port

SITE = "bench"
PASSWORD = "bench password 1234"
PHYSICIAN = "dr.bench"


def bench_database(name: str, *, fresh: bool = True) -> str:
    """A migrated database: PostgreSQL ``name`` if the local server answers, else SQLite."""
    from dashboard.db import upgrade

    if postgres_available():
        url = postgres_database(name, fresh=fresh)
    else:
        path = Path(tempfile.gettempdir()) / f"{name}.sqlite3"
        if fresh and path.exists():
            path.unlink()
        url = f"sqlite:///{path}"
    upgrade(url)
    return url


def seed_clinic(url: str, rooms: int) -> dict[str, int]:
    """A physician, and one patient in an open encounter in each room; {room: encounter id}."""
    from sqlalchemy.orm import Session

    from dashboard.auth import create_user
    from dashboard.db import make_engine
    from dashboard.models import Encounter, Patient, Room

    engine = make_engine(url)
    now = datetime.now(UTC) - timedelta(minutes=1)
    encounters: dict[str, int] = {}
    with Session(engine) as db, db.begin():
        create_user(db, PHYSICIAN, "physician", PASSWORD, "Dr Bench")
        for n in range(rooms):
            room = Room(site=SITE, name=f"room-{n}")
            patient = Patient(mrn=f"BENCH-{n}", family_name="Bench", given_name=f"P{n}",
                              date_of_birth=date(1970, 1, 1), sex="F", allergies=[],
                              created_at=now)
            db.add_all([room, patient])
            db.flush()
            encounter = Encounter(site=SITE, patient_id=patient.id, room_id=room.id,
                                  status="rooming", status_changed_at=now,
                                  identity_confirmed_at=now, started_at=now, revision=0)
            db.add(encounter)
            db.flush()
            encounters[room.name] = encounter.id
    engine.dispose()
    return encounters


@dataclass
class Web:
    """``roomvitals web`` (gunicorn, gthread) as a subprocess on a free port."""

    database_url: str
    workers: int = 2
    threads: int = 128
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Web:
        env = {**os.environ, "ROOMVITALS_SITE": SITE, "DATABASE_URL": self.database_url}
        self.log = Path(tempfile.mkstemp(prefix="bench-web-", suffix=".log")[1])
        self.process = subprocess.Popen(
            [sys.executable, "-m", "roomvitals.cli", "web", "--port", str(self.port),
             "--workers", str(self.workers), "--threads", str(self.threads),
             "--database", self.database_url, "--no-upgrade"],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
            stderr=self.log.open("ab"))
        wait_for_port(self.port, timeout=30)
        return self

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def login(self) -> str:
        """Log the physician in; returns the Cookie header value."""
        jar = CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open(self.base + "/login", timeout=15).read().decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode({"csrf_token": token, "username": PHYSICIAN,
                                       "password": PASSWORD}).encode()
        opener.open(urllib.request.Request(self.base + "/login", data=data), timeout=15).read()
        return "; ".join(f"{c.name}={c.value}" for c in jar)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


class SseClients:
    """Many browser-side EventSource clients on one thread (selectors); records when each
    saw each ``revision`` event: ``seen[(client, revision)] = time.monotonic()``."""

    def __init__(self, port: int, cookie: str, paths: list[str]) -> None:
        self.seen: dict[tuple[int, int], float] = {}
        self.ready: set[int] = set()
        """Clients whose stream has begun (the ``retry:`` line arrived)."""
        self._selector = selectors.DefaultSelector()
        self._buffers: dict[int, bytes] = {}
        self._stop = threading.Event()
        for index, path in enumerate(paths):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n"
                         "Accept: text/event-stream\r\n\r\n".encode())
            sock.setblocking(False)
            self._selector.register(sock, selectors.EVENT_READ, index)
            self._buffers[index] = b""
        self._thread = threading.Thread(target=self._run, name="sse-clients", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._selector.select(0.1):
                now = time.monotonic()
                try:
                    data = key.fileobj.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    self._selector.unregister(key.fileobj)
                    continue
                index = key.data
                buffer = self._buffers[index] + data
                if b"retry:" in buffer:
                    self.ready.add(index)
                while b"\n\n" in buffer:
                    event, buffer = buffer.split(b"\n\n", 1)
                    match = re.search(rb"event: revision\r?\ndata: (\d+)", event)
                    if match:
                        self.seen[(index, int(match.group(1)))] = now
                self._buffers[index] = buffer

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for key in list(self._selector.get_map().values()):
            key.fileobj.close()


def bp_payload(room: str, device: str, systolic: int) -> tuple[str, bytes]:
    """A blood-pressure reading message as a gateway sends it."""
    from vitals import topics
    from vitals.message import DeviceInfo, Observation, Reading, encode_reading

    now = datetime.now(UTC)
    reading = Reading(
        id=uuid.uuid4(),
        device=DeviceInfo(device, "bp_monitor", "Bench BP", "B1", "serial", "dinamap"),
        site=SITE, room=room, measured_at=now, received_at=now,
        observations=(
            Observation("systolic", Decimal(systolic), "mm[Hg]", 150021, "8480-6"),
            Observation("diastolic", Decimal(80), "mm[Hg]", 150022, "8462-4"),
            Observation("pulse_rate", Decimal(70), "/min", 149546, "8867-4"),
        ),
        raw="00",
    )
    return topics.reading_topic(SITE, room, device), encode_reading(reading)


def note(text: str) -> None:
    say(text)
