"""``roomvitals simulate``: run one virtual device until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import threading
from decimal import Decimal
from pathlib import Path

DEVICES = ("healthometer-esc",)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from simulators.serial.scale_scenarios import SCENARIOS

    parser.add_argument(
        "--device",
        choices=DEVICES,
        default="healthometer-esc",
        help="wire protocol of the simulated device",
    )
    parser.add_argument(
        "--port",
        default=None,
        help="stable path of the virtual port, a symlink to the pty (default var/sim/<device>)",
    )
    parser.add_argument(
        "--scenario",
        choices=SCENARIOS,
        default="weigh-cycle",
        help="behaviour over time (default weigh-cycle)",
    )
    parser.add_argument(
        "--weight",
        type=Decimal,
        default=Decimal("72.4"),
        help="weight on the platform for the steady scenario",
    )
    parser.add_argument("--height", type=Decimal, default=None, help="height to report")
    parser.add_argument(
        "--units", choices=("m", "c"), default="m", help="m: kg and cm; c: lb and in (default m)"
    )
    parser.add_argument(
        "--push", action="store_true", help="also push each weighing unasked, as the print key does"
    )


def run(args: argparse.Namespace) -> int:
    from simulators.serial.healthometer_esc import HealthOMeterScale, ScaleState
    from simulators.serial.pty_port import PtyPort
    from simulators.serial.scale_scenarios import ScaleScenario

    path = Path(args.port or f"var/sim/{args.device}").absolute()
    scale = HealthOMeterScale(
        PtyPort(path), ScaleState(weight=args.weight, height=args.height, units=args.units)
    ).start()
    scenario = ScaleScenario(scale, args.scenario, push=args.push).start()
    print(
        f"{args.device} on {path} -> {scale.port.tty_name} (scenario {args.scenario})", flush=True
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(1):
        pass
    scenario.stop()
    scale.stop()
    return 0
