"""``roomvitals``: the one command of the project (DESIGN.md, "Public entry points")."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence

from roomvitals.heap import settle_after_startup


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(1):
        pass


def cmd_gateway(args: argparse.Namespace) -> int:
    from device_gateway.config import ConfigError, load_config
    from device_gateway.gateway import Gateway
    from device_gateway.outbox import OutboxError

    try:
        config = load_config(args.config)
        gateway = Gateway(config)
    except (ConfigError, OutboxError) as exc:
        print(f"roomvitals gateway: {exc}", file=sys.stderr)
        return 2
    gateway.start()
    settle_after_startup()
    logging.getLogger("roomvitals").info(
        "gateway %s of site %s: %d device(s), broker %s",
        config.gateway_id,
        config.site,
        len(config.devices),
        config.broker.url,
    )
    _wait_for_signal()
    gateway.stop()
    return 0


def _broker_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--broker",
        default=os.environ.get("ROOMVITALS_BROKER", "mqtt://127.0.0.1:1883"),
        help="broker URL, mqtt://host:port or mqtts://host:port (env ROOMVITALS_BROKER); "
        "credentials from ROOMVITALS_MQTT_USERNAME / ROOMVITALS_MQTT_PASSWORD",
    )


def _database_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database",
        default=None,
        help="SQLAlchemy URL (env DATABASE_URL; default sqlite:///var/roomvitals.sqlite3)",
    )


def _broker_config(url: str):
    from vitals.mqtt import BrokerConfig, BrokerConfigError

    try:
        broker = BrokerConfig.from_url(url)
    except BrokerConfigError as exc:
        raise SystemExit(f"roomvitals: {exc}") from None
    user = os.environ.get("ROOMVITALS_MQTT_USERNAME")
    password = os.environ.get("ROOMVITALS_MQTT_PASSWORD")
    if user:
        broker = BrokerConfig(**{**broker.__dict__, "username": user, "password": password})
    return broker


def cmd_ingest(args: argparse.Namespace) -> int:
    from dashboard.db import database_url, make_engine, upgrade
    from dashboard.ingest import IngestWorker

    url = database_url(args.database)
    if not args.no_upgrade:
        upgrade(url)
    worker = IngestWorker(make_engine(url), _broker_config(args.broker), shared=args.shared)
    worker.start()
    settle_after_startup()
    logging.getLogger("roomvitals").info("ingest filing into %s", url.split("@")[-1])
    _wait_for_signal()
    worker.stop()
    return 0


def cmd_web(args: argparse.Namespace) -> int:
    from dashboard import InsecureConfigError, create_app
    from dashboard.db import database_url, upgrade

    url = database_url(args.database)
    if not args.no_upgrade:
        upgrade(url)
    try:
        app = create_app({"DATABASE_URL": url})
    except InsecureConfigError as exc:
        print(f"roomvitals web: {exc}", file=sys.stderr)
        return 2
    scheme = "https" if args.certfile else "http"
    print(f"RoomVitals web on {scheme}://{args.host}:{args.port}/", flush=True)
    if args.dev:
        app.run(host=args.host, port=args.port, threaded=True, use_reloader=False)
        return 0
    from dashboard.serve import serve

    serve(
        app,
        args.host,
        args.port,
        workers=args.workers,
        threads=args.threads,
        certfile=args.certfile,
        keyfile=args.keyfile,
    )
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from dashboard.db import database_url, upgrade

    url = database_url(args.database)
    upgrade(url, args.revision)
    print(f"database at revision {args.revision}: {url.split('@')[-1]}")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from simulators.cli import run

    return run(args)


def cmd_user(args: argparse.Namespace) -> int:
    from dashboard.users import run

    return run(args)


def cmd_export(args: argparse.Namespace) -> int:
    from dashboard.interop.cli import run

    return run(args)


def cmd_devices(args: argparse.Namespace) -> int:
    from roomvitals.devices_cmd import run

    return run(args)


def cmd_record(args: argparse.Namespace) -> int:
    from roomvitals.capture_cmd import cmd_record as run

    return run(args)


def cmd_replay(args: argparse.Namespace) -> int:
    from roomvitals.capture_cmd import cmd_replay as run

    return run(args)


def cmd_demo(args: argparse.Namespace) -> int:
    from roomvitals.demo import run

    return run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="roomvitals",
        description="RoomVitals: exam-room vitals from devices to the physician's briefing.",
    )
    parser.add_argument(
        "--log-level",
        default=os.environ.get("ROOMVITALS_LOG_LEVEL", "info"),
        help="debug, info, warning or error (default info)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="run everything on this machine with simulated devices",
        description="Start a private broker, a seeded demo clinic, simulated devices, "
        "the gateway, the ingest and the web app on SQLite; Ctrl-C stops all.",
    )
    demo.add_argument("--port", type=int, default=8000, help="web port (default 8000)")
    demo.add_argument(
        "--rooms",
        type=int,
        default=2,
        help="number of exam rooms with simulated devices (default 2)",
    )
    demo.add_argument(
        "--state-dir",
        default="var/demo",
        help="where the demo keeps its database and ports (default var/demo)",
    )
    demo.set_defaults(func=cmd_demo)

    gateway = sub.add_parser(
        "gateway",
        help="read devices and publish their readings",
        description="Open the configured device ports, decode readings, "
        "keep them in the durable outbox and publish them over MQTT.",
    )
    gateway.add_argument("--config", required=True, help="gateway TOML file")
    gateway.set_defaults(func=cmd_gateway)

    ingest = sub.add_parser(
        "ingest",
        help="file readings from the broker into the database",
        description="Subscribe to readings and device status and file each reading exactly once.",
    )
    _broker_arg(ingest)
    _database_arg(ingest)
    ingest.add_argument(
        "--shared",
        action="store_true",
        help="use the MQTT 5 shared subscription $share/ingest/... so several "
        "workers split the load",
    )
    ingest.add_argument(
        "--no-upgrade", action="store_true", help="do not run database migrations at start"
    )
    ingest.set_defaults(func=cmd_ingest)

    web = sub.add_parser(
        "web",
        help="serve the dashboard",
        description="Serve the dashboard with gunicorn (threaded workers); "
        "--dev uses Flask's development server instead.",
    )
    web.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    web.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    _database_arg(web)
    web.add_argument(
        "--no-upgrade", action="store_true", help="do not run database migrations at start"
    )
    web.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (2)")
    web.add_argument(
        "--threads",
        type=int,
        default=32,
        help="threads per worker; each open briefing stream holds one, and one worker may get "
        "every stream: more than the room tablets (32)",
    )
    web.add_argument("--certfile", default=None, help="TLS certificate (PEM) to serve HTTPS")
    web.add_argument("--keyfile", default=None, help="TLS private key (PEM)")
    web.add_argument("--dev", action="store_true", help="use Flask's development server")
    web.set_defaults(func=cmd_web)

    simulate = sub.add_parser(
        "simulate",
        help="run a simulated device",
        description="Run a virtual serial device on a pseudo-terminal and "
        "print the port path to open.",
    )
    from simulators.cli import add_arguments

    add_arguments(simulate)
    simulate.set_defaults(func=cmd_simulate)

    user = sub.add_parser(
        "user",
        help="manage accounts (add, disable, reset-password, list)",
        description="Manage dashboard accounts.",
    )
    from dashboard.users import add_arguments as add_user_arguments

    add_user_arguments(user)
    user.set_defaults(func=cmd_user)

    export = sub.add_parser(
        "export",
        help="an encounter as FHIR R4 or HL7 v2",
        description="Export charted vitals to an EHR.",
    )
    from dashboard.interop.cli import add_arguments as add_export_arguments

    add_export_arguments(export)
    export.set_defaults(func=cmd_export)

    # --- device integrators' kit (docs/writing-a-driver.md) ---
    from roomvitals import capture_cmd, devices_cmd

    devices = sub.add_parser(
        "devices",
        help="list installed protocols and simulators",
        description="Every protocol and simulator installed, built-in "
        "and plug-in, with transport and verification level.",
    )
    devices_cmd.add_arguments(devices)
    devices.set_defaults(func=cmd_devices)
    record = sub.add_parser(
        "record",
        help="record a device's traffic (serial, or BLE with --ble) to a capture file",
        description="Talk to the device as the gateway would and write "
        "its traffic with timestamps, patient IDs stripped (BLE: GATT notifications and "
        "indications with their characteristic).",
    )
    capture_cmd.add_record_arguments(record)
    record.set_defaults(func=cmd_record)
    replay = sub.add_parser(
        "replay",
        help="play a capture file back on a virtual port or as a BLE peripheral",
        description="Play a capture's device bytes on a pseudo-terminal and print its path; "
        "a BLE capture as a simulated peripheral behind a virtual controller (--hci).",
    )
    capture_cmd.add_replay_arguments(replay)
    replay.set_defaults(func=cmd_replay)

    db = sub.add_parser("db", help="database schema commands")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = db_sub.add_parser(
        "upgrade",
        help="apply migrations (Alembic) up to a revision",
        description="Apply the database migrations.",
    )
    _database_arg(up)
    up.add_argument("revision", nargs="?", default="head", help="target revision (head)")
    up.set_defaults(func=cmd_db)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.log_level)
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)


if __name__ == "__main__":
    raise SystemExit(main())
