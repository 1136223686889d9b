"""``roomvitals devices``: every protocol and simulator installed, built-in and plug-in.

Everything shown is read from the code that runs: the serial parsers' registry
(``drivers.serial``) with the verification level each parser module declares, their line
profiles, the BLE profiles, the simulators (``simulators.plugins``) and plug-ins that were
left out, with the reason.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ProtocolRow:
    protocol: str
    transport: str
    verification: str
    source: str
    simulator: str
    """The simulator's source (``built-in`` or its package), or ``none``."""
    profile: bool
    """A serial line profile exists (the gateway can be configured with it)."""
    patient_ids: str


def inventory() -> tuple[list[ProtocolRow], list[str]]:
    """(protocol rows, problems) of this installation."""
    import drivers.serial as serial
    from device_gateway.ble_config import PROFILES as BLE_PROFILES
    from device_gateway.serial_profiles import PROFILES
    from drivers import plugins
    from simulators.plugins import ble_simulators, serial_simulators

    sims = serial_simulators()
    rows = []
    for name in serial.PROTOCOLS:
        cls = serial.parser_class(name)
        stripper = plugins.patient_id_stripper(cls)
        rows.append(ProtocolRow(
            name, "serial", plugins.verification(cls, name), serial.SOURCES[name],
            sims[name].source if name in sims else "none", name in PROFILES,
            plugins.patient_id_fields(cls) if stripper else "",
        ))
    ble_sims = ble_simulators()
    for name in BLE_PROFILES:
        # Bluetooth SIG profiles, decoded by drivers.ble against the spec's byte examples.
        rows.append(ProtocolRow(name, "ble", "published examples", plugins.BUILT_IN,
                                ble_sims[name].source if name in ble_sims else "none", True, ""))
    for name, entry in sims.items():  # a plug-in simulator whose protocol is not installed
        if name not in serial.PROTOCOLS:
            rows.append(ProtocolRow(name, "serial", "unverified", "not installed",
                                    entry.source, False, ""))
    return rows, [str(p) for p in plugins.problems()]


def _source(source: str) -> str:
    return source if source in ("built-in", "none", "not installed") else f"{source} (plug-in)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    rows, problems = inventory()
    if args.json:
        print(json.dumps({"protocols": [asdict(r) for r in rows], "problems": problems},
                         indent=1))
        return 1 if problems else 0
    head = ("protocol", "transport", "verification", "from", "simulator", "notes")
    table = [head]
    for r in rows:
        notes = []
        if not r.profile:
            notes.append("no line profile: the gateway cannot use it")
        if r.patient_ids:
            notes.append(f"patient ID: {r.patient_ids}")
        table.append((r.protocol, r.transport, r.verification, _source(r.source),
                      _source(r.simulator),
                      "; ".join(notes)))
    widths = [max(len(row[i]) for row in table) for i in range(len(head) - 1)]
    for row in table:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1])
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0
