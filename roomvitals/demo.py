"""``roomvitals demo``: the whole system on one machine, with simulated devices.

It starts a private broker (Mosquitto where installed, else the embedded amqtt), the
simulated devices of every exam room (``simulators.demo_devices``), and then the real
``gateway``, ``ingest`` and ``web`` commands as child processes on SQLite, exactly as a
clinic would run them. Ctrl-C stops everything it started.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from roomvitals.broker import start_private_broker, wait_for_port
from simulators.demo_devices import start_all

SITE = "demo-clinic"


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def gateway_toml(broker_url: str, state_dir: Path, devices: list[dict]) -> str:
    lines = [
        f"site = {_toml_value(SITE)}",
        'gateway_id = "demo-gateway"',
        f"state_dir = {_toml_value(state_dir / 'gateway')}",
        "",
        "[broker]",
        f"url = {_toml_value(broker_url)}",
    ]
    for device in devices:
        lines += ["", "[[devices]]"]
        lines += [f"{key} = {_toml_value(value)}" for key, value in device.items()]
    return "\n".join(lines) + "\n"


DEMO_ACCOUNTS = (
    ("assistant", "assistant", "Alex Assistant (demo)"),
    ("physician", "physician", "Dr. Pat Physician (demo)"),
    ("admin", "admin", "Ada Admin (demo)"),
)


def create_demo_accounts(database: str) -> list[str]:
    """One account per role with a fresh random password: ``login: <user> / <password>``."""
    from sqlalchemy.orm import Session

    from dashboard import audit
    from dashboard.auth import create_user, generate_password
    from dashboard.db import make_engine

    engine = make_engine(database)
    lines = []
    with Session(engine) as db, db.begin():
        for username, role, name in DEMO_ACCOUNTS:
            password = generate_password()
            user = create_user(db, username, role, password, name)
            audit.append(db, audit.Actor(None, "demo", "admin", "local"), "create", "user",
                         user.id, detail={"role": role})
            lines.append(f"login: {username} / {password}")
    engine.dispose()
    return lines


def seed_demo_clinic(database: str) -> None:
    """Rooms, patients and today's appointments of the demo clinic (dashboard/seed.py)."""
    from sqlalchemy.orm import Session

    from dashboard.db import make_engine
    from dashboard.seed import seed_demo

    engine = make_engine(database)
    with Session(engine) as db, db.begin():
        seed_demo(db, SITE)
    engine.dispose()


def run(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir).absolute()
    if state_dir.exists():
        shutil.rmtree(state_dir)
    (state_dir / "dev").mkdir(parents=True)
    database = f"sqlite:///{state_dir / 'roomvitals.sqlite3'}"

    broker = start_private_broker()
    broker_url = broker.url + ("" if type(broker).__name__ == "Mosquitto" else "?version=3.1.1")
    print(f"broker: {broker_url} ({type(broker).__name__})", flush=True)

    rooms = [f"exam-{n}" for n in range(1, args.rooms + 1)]
    simulated = start_all(state_dir, rooms)
    config = state_dir / "gateway.toml"
    config.write_text(gateway_toml(broker_url, state_dir, simulated.devices))

    env = {**os.environ, "DATABASE_URL": database, "ROOMVITALS_BROKER": broker_url,
           "ROOMVITALS_SITE": SITE}
    command = [sys.executable, "-m", "roomvitals.cli"]
    subprocess.run([*command, "db", "upgrade"], env=env, check=True)
    logins = create_demo_accounts(database)
    seed_demo_clinic(database)
    children = [
        subprocess.Popen([*command, "gateway", "--config", str(config)], env=env),
        subprocess.Popen([*command, "ingest", "--no-upgrade"], env=env),
        subprocess.Popen(
            [*command, "web", "--no-upgrade", "--port", str(args.port)],
            env=env,
            stdout=subprocess.DEVNULL,
        ),
    ]
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        wait_for_port(args.port, timeout=30)
        print()
        for line in logins:
            print(line)
        print(
            f"RoomVitals demo: http://127.0.0.1:{args.port}/  (rooms: {', '.join(rooms)})",
            flush=True,
        )
        print(
            "Log in with one of the accounts above. Ctrl-C stops the demo.", flush=True
        )
        while not stop.wait(1):
            for child in children:
                if child.poll() is not None:
                    print(
                        f"demo: {' '.join(child.args[3:4])} exited with {child.returncode}",
                        file=sys.stderr,
                    )
                    stop.set()
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        simulated.stop()
        broker.cleanup()
        print("demo stopped", flush=True)
    return 0
