"""``roomvitals simulate``: run one virtual device until Ctrl-C and print its port path."""

from __future__ import annotations

import argparse
import signal
import threading
from decimal import Decimal
from pathlib import Path

ESC = "healthometer-esc"


def _devices() -> tuple[str, ...]:
    from simulators.plugins import serial_simulators  # built-in and roomvitals.simulators

    return tuple(serial_simulators())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from simulators.serial.scale_scenarios import SCENARIOS as ESC_SCENARIOS
    from simulators.serial.scenarios import SCENARIOS

    every = sorted(set(ESC_SCENARIOS).union(*SCENARIOS.values()))
    parser.add_argument(
        "--device",
        choices=_devices(),
        default=ESC,
        help="wire protocol of the simulated device (default healthometer-esc)",
    )
    parser.add_argument(
        "--port",
        default=None,
        help="stable path of the virtual port, a symlink to the pty (default var/sim/<device>)",
    )
    parser.add_argument(
        "--scenario",
        default=None,
        help="a scenario file (FILE.toml, docs/scenario-files.md: its devices, values over "
        "time and faults) or a named behaviour: " + ", ".join(every) + "; oximeters: "
        + ", ".join(SCENARIOS["pulse_oximeter"])
        + "; scales: "
        + ", ".join(SCENARIOS["scale"])
        + "; ESC scale: "
        + ", ".join(ESC_SCENARIOS)
        + "; DINAMAP: "
        + ", ".join(SCENARIOS["bp_monitor"]),
    )
    parser.add_argument(
        "--weight",
        type=Decimal,
        default=Decimal("72.4"),
        help="weight on the platform for the ESC scale's steady scenario",
    )
    parser.add_argument("--height", type=Decimal, default=None, help="height to report (ESC)")
    parser.add_argument(
        "--units", choices=("m", "c"), default="m", help="ESC: m kg and cm; c lb and in"
    )
    parser.add_argument(
        "--push", action="store_true", help="ESC: also push each weighing, as the print key does"
    )
    from simulators.ble.host import add_arguments as add_ble_arguments  # --ble KIND ...

    add_ble_arguments(parser)


def _start(args: argparse.Namespace, path: Path):
    """The device and its scenario, started; raises ValueError for a scenario it lacks."""
    from simulators.serial.pty_port import PtyPort

    if args.device == ESC:
        from simulators.serial.healthometer_esc import HealthOMeterScale, ScaleState
        from simulators.serial.scale_scenarios import SCENARIOS as ESC_SCENARIOS
        from simulators.serial.scale_scenarios import ScaleScenario

        name = args.scenario or "weigh-cycle"
        if name not in ESC_SCENARIOS:
            raise ValueError(f"{ESC} has no scenario {name!r}; known: {', '.join(ESC_SCENARIOS)}")
        scale = HealthOMeterScale(
            PtyPort(path), ScaleState(weight=args.weight, height=args.height, units=args.units)
        ).start()
        return scale, ScaleScenario(scale, name, push=args.push).start(), name

    from simulators.plugins import make_serial, serial_simulators
    from simulators.serial.scenarios import DEFAULT_SCENARIO, Scenario

    kind = serial_simulators()[args.device].kind
    name = args.scenario or DEFAULT_SCENARIO[kind]
    device = make_serial(args.device, PtyPort(path))  # built-in or plug-in
    scenario = Scenario(device, kind, name)  # checks the name before anything starts
    device.start()
    return device, scenario.start(), name


def run(args: argparse.Namespace) -> int:
    if getattr(args, "ble", None):
        from simulators.ble.host import run as run_ble

        return run_ble(args)
    if args.scenario and args.scenario.endswith(".toml"):
        from simulators.scenario_file import run_file

        return run_file(args.scenario, args.port)
    path = Path(args.port or f"var/sim/{args.device}").absolute()
    try:
        device, scenario, name = _start(args, path)
    except ValueError as exc:
        print(f"roomvitals simulate: {exc}", flush=True)
        return 2
    print(f"{args.device} on {path} -> {device.port.tty_name} (scenario {name})", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(1):
        pass
    scenario.stop()
    device.stop()
    return 0
