"""What every benchmark shares: the tuned broker, ratios, percentiles, databases, results.

Every benchmark measures its own baseline in the same run (these machines are shared and
noisy) and returns ``Result``s: the value, the baseline, their ratio and the issue's goal.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from roomvitals.broker import Mosquitto  # noqa: E402

BENCH_CONF = Path(__file__).with_name("mosquitto-bench.conf")
PG_ADMIN = os.environ.get("ROOMVITALS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@dataclass
class Result:
    name: str
    value: float
    baseline: float
    unit: str
    goal: str
    """The issue's goal, in words (e.g. "ratio >= 0.5")."""
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else math.inf

    def as_json(self) -> dict:
        data = asdict(self)
        data.pop("name")
        data["ratio"] = round(self.ratio, 3)
        data["value"] = round(self.value, 3)
        data["baseline"] = round(self.baseline, 3)
        return data

    def line(self) -> str:
        verdict = {True: "goal met", False: "GOAL MISSED", None: "no goal"}[self.met]
        return (f"{self.name}: {self.value:.3f} {self.unit} vs baseline {self.baseline:.3f} "
                f"-> ratio {self.ratio:.3f} ({self.goal}: {verdict}) {self.note}")


def say(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def report(results: list[Result]) -> None:
    for result in results:
        print(result.line(), flush=True)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of the values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def bench_broker() -> Mosquitto:
    """Mosquitto from bench/mosquitto-bench.conf on a free loopback port (started)."""
    broker = Mosquitto(config_file=BENCH_CONF)
    broker.substitute = {"PORT": str(broker.port), "STATE": str(broker.directory)}
    return broker.start()


@contextlib.contextmanager
def running_broker() -> Iterator[Mosquitto]:
    broker = bench_broker()
    try:
        yield broker
    finally:
        broker.cleanup()


def wait_for(predicate: Callable[[], object], timeout: float, what: str,
             interval: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"gave up waiting for {what} after {timeout:.0f} s")


def postgres_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            pass
        import psycopg

        with psycopg.connect(_psycopg_dsn(PG_ADMIN), connect_timeout=3):
            return True
    except Exception:  # any failure means: use SQLite
        return False


def _psycopg_dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def postgres_database(name: str, *, fresh: bool) -> str:
    """SQLAlchemy URL of database ``name`` on the local server; dropped first if ``fresh``."""
    import psycopg

    with psycopg.connect(_psycopg_dsn(PG_ADMIN), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and fresh:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0]
    return f"{base}/{name}"


def write_results(results: list[Result], path: Path) -> None:
    path.write_text(json.dumps({r.name: r.as_json() for r in results}, indent=2) + "\n")


def markdown_table(results: list[Result]) -> str:
    lines = ["| benchmark | value | baseline (same run) | ratio | goal | met |",
             "|---|---|---|---|---|---|"]
    for r in results:
        met = {True: "yes", False: "**no**", None: "-"}[r.met]
        lines.append(f"| {r.name} | {r.value:.3g} {r.unit} | {r.baseline:.3g} {r.unit} | "
                     f"{r.ratio:.3g} | {r.goal} | {met} |")
    return "\n".join(lines)


def paho_client(port: int, client_id: str, **kwargs):
    """A paho MQTT 5 client with TCP_NODELAY, connected and looping (for baselines)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from vitals.mqtt import set_nodelay

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5, **kwargs)
    client.max_inflight_messages_set(100)
    connected = []
    client.on_connect = lambda c, *_: (set_nodelay(c), connected.append(True))
    client.connect("127.0.0.1", port)
    client.loop_start()
    wait_for(lambda: connected, 10, f"{client_id} to connect")
    return client


class Counter:
    """A subscriber that counts (and time-stamps) the messages on a filter."""

    def __init__(self, port: int, topic_filter: str, client_id: str = "bench-counter") -> None:
        self.count = 0
        self.times: dict[bytes, float] = {}
        self.keep_times = False
        self.client = paho_client(port, client_id)
        self.client.on_message = self._on_message
        done = []
        self.client.on_subscribe = lambda *_: done.append(True)
        self.client.subscribe(topic_filter, qos=1)
        wait_for(lambda: done, 10, "the subscription")

    def _on_message(self, client, userdata, message) -> None:
        self.count += 1
        if self.keep_times:
            self.times[message.payload[:64]] = time.monotonic()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _count_in_child(port: int, topic_filter: str, client_id: str, count, ready, stop,
                    capture: str | None) -> None:
    """The body of ``CounterProcess`` (a spawned process: module level, picklable args)."""
    import pickle

    captured: list[tuple[str, bytes]] = []

    def on_message(client, userdata, message) -> None:
        if capture:
            captured.append((message.topic, message.payload))
        count.value += 1  # only this process writes it

    counter = Counter(port, topic_filter, client_id)
    counter.client.on_message = on_message
    ready.set()
    stop.wait()
    counter.close()
    if capture:
        Path(capture).write_bytes(pickle.dumps(captured))


class CounterProcess:
    """``Counter`` in a process of its own, so that the subscriber's own work (paho reading
    and acknowledging every message) does not compete for the measured process's GIL.
    ``capture`` keeps every (topic, payload) received, for ``captured()``."""

    def __init__(self, port: int, topic_filter: str, client_id: str = "bench-counter",
                 capture: bool = False) -> None:
        import multiprocessing
        import tempfile

        context = multiprocessing.get_context("spawn")
        self._count = context.Value("q", 0, lock=False)
        self._base = 0
        self._stop = context.Event()
        ready = context.Event()
        self._capture = (str(Path(tempfile.mkdtemp()) / "captured.pickle") if capture
                         else None)
        self._process = context.Process(
            target=_count_in_child, daemon=True,
            args=(port, topic_filter, client_id, self._count, ready, self._stop,
                  self._capture))
        self._process.start()
        deadline = time.monotonic() + 30
        while not ready.wait(0.1):
            if not self._process.is_alive() or time.monotonic() > deadline:
                self._process.kill()
                raise RuntimeError("the counting subscriber process did not subscribe "
                                   f"(exit code {self._process.exitcode})")

    @property
    def count(self) -> int:
        return self._count.value - self._base

    def reset(self) -> None:
        self._base = self._count.value

    def close(self) -> list[tuple[str, bytes]]:
        """Stop it; the captured messages (empty unless ``capture``)."""
        import pickle

        self._stop.set()
        self._process.join(30)
        if self._capture is None or not Path(self._capture).exists():
            return []
        return pickle.loads(Path(self._capture).read_bytes())


def _remaining_length(length: int) -> bytes:
    """MQTT's variable-length integer (MQTT 3.1.1, section 2.2.3)."""
    out = bytearray()
    while True:
        length, digit = divmod(length, 128)
        out.append(digit | (0x80 if length else 0))
        if not length:
            return bytes(out)


class PacketPublisher:
    """A load generator for the ingest benchmark: QoS 1 PUBLISH packets (MQTT 3.1.1, built
    ahead and written in bulk) on one socket, PUBACKs counted by a reader thread.

    It stands for the gateways, which run on other machines: paho costs ~50 µs of CPU per
    message, a sixth of what a worker spends filing it, and on two shared cores that CPU
    would be taken from the workers being measured. Packet layouts: MQTT 3.1.1 (OASIS
    standard, 2014) sections 3.1 CONNECT, 3.2 CONNACK, 3.3 PUBLISH, 3.4 PUBACK."""

    WINDOW = 10_000
    """Unacknowledged messages at most (packet ids must not be reused while in flight)."""

    def __init__(self, port: int, client_id: str) -> None:
        import threading

        self._sock = socket.create_connection(("127.0.0.1", port))
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ident = client_id.encode()
        body = (b"\x00\x04MQTT\x04\x02\x00\x3c" + len(ident).to_bytes(2, "big") + ident)
        self._sock.sendall(b"\x10" + _remaining_length(len(body)) + body)
        connack = self._read_exactly(4)
        if connack[0] != 0x20 or connack[3] != 0:
            raise ConnectionError(f"broker refused the publisher: CONNACK {connack.hex()}")
        self.sent = 0
        self.acked = 0
        self._prepared = 0
        self._acks = threading.Condition()
        self._reader = threading.Thread(target=self._read_acks, name="bench-pubacks",
                                        daemon=True)
        self._reader.start()

    def _read_exactly(self, count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = self._sock.recv(count - len(data))
            if not chunk:
                raise ConnectionError("the broker closed the publisher's connection")
            data += chunk
        return data

    def _read_acks(self) -> None:
        # Nothing but PUBACKs (4 bytes each) comes back: no subscriptions, no pings.
        pending = b""
        while True:
            try:
                data = self._sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            pending += data
            whole = len(pending) // 4
            pending = pending[whole * 4:]
            with self._acks:
                self.acked += whole
                self._acks.notify_all()

    def prepare(self, messages: list[tuple[str, bytes]]) -> list[bytes]:
        """The PUBLISH packets (QoS 1) of the messages, for ``publish`` in this order."""
        out = []
        for topic, payload in messages:
            name = topic.encode()
            packet_id = self._prepared % 65535 + 1
            self._prepared += 1
            body = (len(name).to_bytes(2, "big") + name + packet_id.to_bytes(2, "big")
                    + payload)
            out.append(b"\x32" + _remaining_length(len(body)) + body)
        return out

    def publish(self, packets: list[bytes], chunk: int = 200) -> None:
        """Write packets from ``prepare`` (all, in order), at most WINDOW unacknowledged."""
        for start in range(0, len(packets), chunk):
            part = packets[start:start + chunk]
            room = self.WINDOW - len(part)
            with self._acks:
                self._acks.wait_for(lambda room=room: self.sent - self.acked <= room, timeout=60)
            self._sock.sendall(b"".join(part))
            self.sent += len(part)

    def wait_acked(self, timeout: float = 60) -> None:
        with self._acks:
            if not self._acks.wait_for(lambda: self.acked >= self.sent, timeout=timeout):
                raise TimeoutError(f"{self.sent - self.acked} messages not acknowledged")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.sendall(b"\xe0\x00")  # DISCONNECT
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._reader.join(timeout=5)
