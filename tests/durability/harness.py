"""The parts of the fault-injection runs, shared by tests/durability and bench/chaos.py.

A broker from the shipped production configuration, a test CA and users made by the shipped
scripts, gateways and ingest workers as real processes (``roomvitals gateway`` / ``roomvitals
ingest``) or in-process, a known sequence of weights, and the check that the database holds
each of them exactly once, in order of measurement.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.request
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dashboard.models import Reading, ReadingObservation
from device_gateway.config import DeviceConfig
from device_gateway.gateway import Gateway
from drivers.measurements import Weight
from roomvitals.broker import Mosquitto, free_port
from vitals.mqtt import BrokerConfig

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SITE = "clinic"
GATEWAY_ID = "gw-test"
GATEWAY_USER = f"gw-{SITE}-{GATEWAY_ID}"
OTHER_USER = "gw-other-gw-x"
READER = "roomvitals-dashboard"
PASSWORDS = {GATEWAY_USER: "gateway-secret", READER: "dashboard-secret",
             OTHER_USER: "other-secret"}


# --- the secured broker ---------------------------------------------------------------
def make_pki(conf: Path) -> Path:
    """CA, server certificate, passwd and acl in ``conf``, made by the deploy/ scripts."""
    for tool in ("openssl", "mosquitto", "mosquitto_passwd"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not installed (apt-get install openssl mosquitto)")
    subprocess.run([DEPLOY / "make-test-ca.sh", SITE, conf], check=True, capture_output=True)
    add = DEPLOY / "mosquitto" / "add-client.sh"
    for user, args in ((GATEWAY_USER, ("gateway", SITE, GATEWAY_ID)), (READER, ("reader", READER)),
                       (OTHER_USER, ("gateway", "other", "gw-x"))):
        env = {**os.environ, "MQTT_PASSWORD": PASSWORDS[user]}
        subprocess.run([add, conf, *args], check=True, capture_output=True, env=env)
    if os.geteuid() == 0:
        # Mosquitto started as root drops to the "mosquitto" user: let it read its files.
        for name in ("passwd", "server.key"):
            (conf / name).chmod(0o644)
    return conf


def production_broker(conf: Path) -> Mosquitto:
    """Mosquitto from deploy/mosquitto/mosquitto.conf, paths and port replaced (not started)."""
    port = free_port()
    broker = Mosquitto(
        port=port,
        config_file=DEPLOY / "mosquitto" / "mosquitto.conf",
        substitute={
            "/etc/mosquitto/roomvitals": str(conf),
            "listener 8883": f"listener {port} 127.0.0.1",
        },
    )
    broker.substitute["/var/lib/mosquitto/"] = f"{broker.directory}/"
    return broker


def broker_config(broker: Mosquitto, conf: Path, user: str, password: str | None = None,
                  **extra) -> BrokerConfig:
    return BrokerConfig(
        host="127.0.0.1", port=broker.port, tls=True, ca_file=str(conf / "ca.crt"),
        username=user, password=PASSWORDS.get(user) if password is None else password, **extra,
    )


def broker_url(broker: Mosquitto, conf: Path) -> str:
    return f"mqtts://127.0.0.1:{broker.port}?ca_file={conf / 'ca.crt'}"


# --- gateways -------------------------------------------------------------------------
def gateway_settings(state: Path, broker: Mosquitto, conf: Path, *, port: str = "",
                     password: str | None = None, **top) -> dict:
    """A gateway configuration (as parse_config takes it) for site SITE, over TLS."""
    state.mkdir(parents=True, exist_ok=True)
    password_file = state.parent / f"{state.name}-mqtt-password"
    password_file.write_text(PASSWORDS[GATEWAY_USER] if password is None else password)
    return {
        "site": SITE,
        "gateway_id": GATEWAY_ID,
        "state_dir": str(state),
        "broker": {
            "url": f"mqtts://127.0.0.1:{broker.port}",
            "ca_file": str(conf / "ca.crt"),
            "username": GATEWAY_USER,
            "password_file": str(password_file),
        },
        "devices": [
            {
                "id": "scale-1",
                "room": "exam-1",
                "protocol": "healthometer-esc",
                "port": port or str(state / "no-port"),
                "model": "Health o meter 2101KL",
                "serial": "HM123",
                "poll_interval": 0.05,
            }
        ],
        **top,
    }


def write_toml(settings: dict, path: Path) -> Path:
    """The few TOML shapes a gateway config uses: scalars, one table, an array of tables."""

    def value(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return str(v)
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines: list[str] = []
    tables: list[str] = []
    for key, v in settings.items():
        if isinstance(v, dict):
            tables += [f"[{key}]", *(f"{k} = {value(x)}" for k, x in v.items()), ""]
        elif isinstance(v, list):
            for item in v:
                tables += [f"[[{key}]]", *(f"{k} = {value(x)}" for k, x in item.items()), ""]
        else:
            lines.append(f"{key} = {value(v)}")
    path.write_text("\n".join([*lines, "", *tables]))
    return path


def weight(index: int) -> Decimal:
    """The index-th weight of a known sequence: all different, so each is its own reading."""
    return Decimal("40.0") + Decimal(index) / 10


def feed(gateway: Gateway, device: DeviceConfig, indices: range) -> None:
    """Measurements straight into the gateway, as a link would hand them over; returns
    once they are in the outbox (committed, or held in memory when it cannot be written)."""
    for index in indices:
        w = weight(index)
        gateway.handle(device, Weight(weight=w, raw=f"W{w}".encode()))
    gateway.flush()


@dataclass
class Process:
    """A ``roomvitals`` subprocess that a test can ``kill -9`` and start again."""

    args: list[str]
    env: dict[str, str] = field(default_factory=dict)
    log: Path = field(default_factory=lambda: Path(tempfile.mkstemp(suffix=".log")[1]))
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "roomvitals.cli", *self.args],
            env={**os.environ, **self.env},
            stdout=subprocess.DEVNULL,
            stderr=open(self.log, "ab"),  # noqa: SIM115 (the child owns it)
            cwd=ROOT,
        )
        return self

    def kill(self) -> None:
        """``kill -9``: no clean-up of any kind."""
        if self.popen is not None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait()
            self.popen = None

    def stop(self) -> None:
        if self.popen is not None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
            self.popen = None

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def ingest_process(database_url: str, broker: Mosquitto, conf: Path, worker_id: str,
                   *, shared: bool = True) -> Process:
    args = ["ingest", "--broker", broker_url(broker, conf), "--database", database_url,
            "--no-upgrade"]
    return Process(
        args + (["--shared"] if shared else []),
        env={
            "ROOMVITALS_MQTT_USERNAME": READER,
            "ROOMVITALS_MQTT_PASSWORD": PASSWORDS[READER],
            "ROOMVITALS_INGEST_ID": worker_id,
        },
    )


def scrape(port: int) -> dict[str, float]:
    """The gateway's /metrics as {name: value} (unlabelled samples only)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, number = line.rsplit(" ", 1)
            values[name] = float(number)
    return values


# --- the database side ------------------------------------------------------------------
def filed_weights(engine: Engine) -> list[Decimal]:
    """Weights in the database in order of measurement (one per reading row)."""
    with Session(engine) as session:
        rows = session.execute(
            select(ReadingObservation.value)
            .join(Reading, Reading.id == ReadingObservation.reading_id)
            .where(ReadingObservation.kind == "weight")
            .order_by(Reading.measured_at, Reading.received_at)
        ).all()
    return [Decimal(v) for (v,) in rows]


@dataclass(frozen=True)
class Tally:
    emitted: int
    filed: int
    duplicates: int
    lost: int
    in_order: bool

    def line(self) -> str:
        return (f"emitted={self.emitted} filed={self.filed} duplicates={self.duplicates} "
                f"lost={self.lost}")


def tally(engine: Engine, emitted: list[Decimal]) -> Tally:
    filed = filed_weights(engine)
    distinct = set(filed)
    expected = set(emitted)
    return Tally(
        emitted=len(emitted),
        filed=len(distinct & expected),
        duplicates=len(filed) - len(distinct),
        lost=len(expected - distinct),
        in_order=filed == emitted,
    )
