"""``roomvitals record`` and ``roomvitals replay``: a device's traffic to a capture file and
back (format: simulators/capture.py).

Recording talks to the device as the gateway would (the protocol's line settings, start
command, polling and keep-alive from ``device_gateway.serial_profiles``), writes every chunk
read and sent with its time, and strips the patient-ID fields the protocol's parser module
marks (``strip_patient_ids`` next to the parser): the capture never holds a patient ID.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from roomvitals.testing import describe
from simulators.capture import CaptureHeader, CaptureWriter, Record, SerialReplay, read_capture


class SerialRecorder:
    """Record ``protocol`` traffic on ``port`` into ``out`` until ``stop`` is set."""

    def __init__(self, port: str, protocol: str, out: str | Path, *, source: str = "",
                 poll_interval: float = 1.0, baudrate: int | None = None) -> None:
        from device_gateway.serial_profiles import profile
        from drivers import plugins
        from drivers.serial import parser, parser_class

        cls = parser_class(protocol)  # ValueError for an unknown protocol
        self.profile = profile(protocol)
        self.port = port
        self.protocol = protocol
        self.poll_interval = poll_interval
        self.baudrate = baudrate or self.profile.baudrate
        self._strip = plugins.patient_id_stripper(cls)
        self._record_end: bytes = getattr(sys.modules[cls.__module__], "RECORD_END", b"")
        self._held = b""
        self._held_t = 0.0
        self._parser = parser(protocol)
        self.readings: list[str] = []
        """What the live parser made of the device's bytes (before any stripping)."""
        fields = plugins.patient_id_fields(cls)
        self.patient_ids = (f"stripped: {fields}" if self._strip is not None
                            else "none: this protocol carries no patient identifier")
        line = self.profile.line
        self.header = CaptureHeader(
            "serial", protocol, source or f"device on {port}", self.patient_ids,
            {"baudrate": self.baudrate, "bytesize": line.bytesize, "parity": line.parity,
             "stopbits": line.stopbits},
            datetime.now().replace(microsecond=0).isoformat(),
        )
        self.out = Path(out)

    def run(self, stop: threading.Event, seconds: float | None = None) -> int:
        import serial

        line = self.header.line
        link = serial.Serial(self.port, baudrate=line["baudrate"], bytesize=line["bytesize"],
                             parity=line["parity"], stopbits=line["stopbits"], timeout=0.05,
                             exclusive=True)
        writer = CaptureWriter(self.out, self.header)
        begun = time.monotonic()
        p = self.profile
        next_poll = next_start = next_keep_alive = begun
        try:
            while not stop.is_set():
                now = time.monotonic()
                if seconds is not None and now - begun >= seconds:
                    break
                out = b""
                if p.start is not None and now >= next_start and (
                        next_start == begun or now - begun < p.start_window_s):
                    out += p.start
                    next_start = now + 1.0
                if p.poll is not None and now >= next_poll:
                    out += p.poll
                    next_poll = now + self.poll_interval
                if p.keep_alive is not None and now >= next_keep_alive:
                    if next_keep_alive != begun:
                        out += p.keep_alive
                    next_keep_alive = now + p.keep_alive_s
                if out:
                    link.write(out)
                    writer.write(Record(now - begun, out, "tx"))
                data = link.read(max(1, link.in_waiting))
                if data:
                    self.readings += [describe(m) for m in self._parser.feed(data)]
                    self._rx(writer, time.monotonic() - begun, data)
        finally:
            if self._held:
                writer.write(Record(self._held_t, self._strip(self._held), "rx"))
            writer.close(replace(self.header, readings=self.readings))
            link.close()
        return writer.records

    def _rx(self, writer: CaptureWriter, t: float, data: bytes) -> None:
        if self._strip is None:
            writer.write(Record(t, data, "rx"))
            return
        # Strip whole records only: a patient ID cut in two by a read must not escape.
        if not self._held:
            self._held_t = t
        self._held += data
        cut = self._held.rfind(self._record_end) if self._record_end else len(self._held)
        if cut < 0:
            return
        cut += len(self._record_end)
        ready, self._held = self._held[:cut], self._held[cut:]
        writer.write(Record(self._held_t, self._strip(ready), "rx"))
        self._held_t = t


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def add_record_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", help="serial port, e.g. /dev/ttyUSB0 (required for serial)")
    parser.add_argument("--protocol", help="wire protocol (roomvitals devices; serial)")
    # --- BLE (simulators/ble/capture.py) ---
    ble = parser.add_argument_group("Bluetooth LE (--ble)")
    ble.add_argument("--ble", action="store_true", help="record a BLE health device instead")
    ble.add_argument("--profile", choices=("blood-pressure", "health-thermometer",
                                           "weight-scale", "pulse-oximeter"))
    ble.add_argument("--address", help="device address (default: by --name or the profile)")
    ble.add_argument("--name", help="advertised name of the device")
    ble.add_argument("--backend", choices=("platform", "bumble"), default="platform",
                     help="bleak backend: the OS stack (default) or bumble (simulators)")
    ble.add_argument("--bumble-transport", help="with --backend bumble: tcp-client:HOST:PORT")
    parser.add_argument("--out", default=None,
                        help="capture file (default captures/<protocol>-<time>.jsonl)")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    parser.add_argument("--poll-interval", type=float, default=1.0,
                        help="seconds between polls for a polled device (1.0)")
    parser.add_argument("--baudrate", type=int, default=None, help="override the profile's")


def cmd_record(args: argparse.Namespace) -> int:
    if args.ble:
        from simulators.ble.capture import record_main

        return record_main(args)
    if not (args.port and args.protocol):
        print("roomvitals record: --port and --protocol are required (or --ble)",
              file=sys.stderr)
        return 2
    out = args.out or f"captures/{args.protocol}-{datetime.now():%Y%m%d-%H%M%S}.jsonl"
    try:
        recorder = SerialRecorder(args.port, args.protocol, out,
                                  poll_interval=args.poll_interval, baudrate=args.baudrate)
    except (ValueError, KeyError) as exc:
        print(f"roomvitals record: {exc}", file=sys.stderr)
        return 2
    print(f"recording {args.protocol} on {args.port} to {out}; Ctrl-C stops", flush=True)
    print(f"patient IDs: {recorder.patient_ids}", flush=True)
    try:
        count = recorder.run(_stop_on_signals(), args.seconds)
    except OSError as exc:
        print(f"roomvitals record: cannot record from {args.port}: {exc}", file=sys.stderr)
        return 1
    print(f"{count} chunks written to {out}; {len(recorder.readings)} readings decoded",
          flush=True)
    return 0


def add_replay_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("capture", help="capture file (JSON lines)")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="playback speed: 1 as recorded, 10 ten times faster")
    parser.add_argument("--port", default=None,
                        help="stable path of the virtual port (default var/replay/<protocol>)")
    parser.add_argument("--loop", action="store_true", help="play it again and again")
    # --- BLE captures (simulators/ble/replay.py) ---
    parser.add_argument("--hci", default="tcp-server:127.0.0.1:9100",
                        help="BLE: bumble transport serving the gateway's virtual controller "
                        "(as roomvitals simulate --ble)")
    parser.add_argument("--address", default=None,
                        help="BLE: address to advertise at (default the recorded one)")
    parser.add_argument("--devices-out", default=None,
                        help="BLE: write the gateway [[devices]] entry (JSON)")


def cmd_replay(args: argparse.Namespace) -> int:
    try:
        header, records = read_capture(args.capture)
    except (OSError, ValueError) as exc:
        print(f"roomvitals replay: {exc}", file=sys.stderr)
        return 2
    if header.transport == "ble":
        from simulators.ble.replay import run as replay_ble

        return replay_ble(args)
    if header.transport != "serial":
        print(f"roomvitals replay: {header.transport} captures are not replayed",
              file=sys.stderr)
        return 2
    path = Path(args.port or f"var/replay/{header.protocol}").absolute()
    stop = _stop_on_signals()
    while not stop.is_set():
        replay = SerialReplay(path, records, speed=args.speed).start()
        print(f"{header.protocol} replay on {path} -> {replay.tty_name} "
              f"({len(replay.records)} chunks, speed {args.speed:g}); waiting for a host",
              flush=True)
        while not stop.wait(0.2) and not replay.done.is_set():
            pass
        with contextlib.suppress(Exception):
            replay.stop()
        if not args.loop:
            break
    if not stop.is_set():
        print("replay finished", flush=True)
    return 0
