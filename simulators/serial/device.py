"""What every simulated serial device shares: a thread on a ``PtyPort``, a state the
scenario changes over time, and the faults of a real wire.

A device subclass says what it sends each tick (``emit``: streaming devices), how it answers
the host (``receive``: request/response devices), and what line noise looks like on its wire
(``noise``: bytes the protocol can tell from its frames, so a fault scenario tests resync
rather than inventing a reading no parser could reject, e.g. in the checksum-less Nonin DF8).

Encoders live in the subclasses and are written from the reference
(../shared/reference/serial-protocols.md) on their own, never by calling ``drivers``, so a
misreading of a protocol cannot cancel out between simulator and parser.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from simulators.serial.pty_port import PtyPort


@dataclass
class WireFaults:
    garbage_every: int = 0
    """A burst of line noise before every Nth frame (0 = never)."""
    split: bool = False
    """Write every frame in two writes with a pause between (a frame split across reads)."""
    bytes_per_second: float | None = None
    """Pace the bytes as a slow line would (e.g. 240 for 2400 baud 8N1); None = at once."""


@dataclass(frozen=True)
class Oximetry:
    """What a pulse oximeter sees of the patient now."""

    spo2: int = 98
    pulse: int = 72
    finger: bool = True
    """False: finger out of the probe / sensor off."""
    artifact: bool = False
    """Motion artifact on the current pulses (values still shown)."""
    out_of_track: bool = False
    """Sustained artifact: the device shows no values."""
    perfusion: str = "good"
    """``good``, ``marginal`` or ``low`` (Nonin green / yellow / red)."""
    searching: bool = False
    low_battery: bool = False


@dataclass(frozen=True)
class Weighing:
    """What a scale platform holds now."""

    weight: Decimal = Decimal("0.0")
    unit: str = "kg"
    """``kg`` or ``lb``."""
    motion: bool = False
    overload: bool = False
    height: Decimal | None = None
    bmi: Decimal | None = None


class SimulatedDevice:
    """A virtual device on ``port``; ``start()`` runs it in a thread until ``stop()``."""

    name = "device"
    period: float | None = None
    """Seconds between ``emit`` calls for a streaming device; None: it only answers."""

    def __init__(
        self,
        port: PtyPort,
        state: Any,
        *,
        faults: WireFaults | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.port = port
        self.state = state
        self.faults = faults or WireFaults()
        self.rng = rng or random.Random(hash(self.name) & 0xFFFF)
        self.frames_sent = 0
        self.ticks = 0
        """``emit`` calls so far (a streaming device's clock, for tests and scenarios)."""
        self.commands: list[bytes] = []
        """Host commands recognised, in order (tests look at them)."""
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # lifecycle --------------------------------------------------------------------------
    def start(self) -> SimulatedDevice:
        self.port.plug()
        self._thread = threading.Thread(target=self._serve, name=f"sim-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3)
        self.port.close()

    def set(self, **changes: Any) -> None:
        with self._lock:
            self.state = replace(self.state, **changes)

    def connected(self) -> None:
        """Called when the port is (re)plugged, as a device powers up its serial side."""

    def offline(self) -> None:
        """Called now and then while unplugged: the device goes on working without a host."""

    # what a subclass says ---------------------------------------------------------------
    def emit(self) -> list[bytes]:
        """Frames to send this tick (streaming devices)."""
        return []

    def receive(self, data: bytes) -> None:
        """Bytes from the host; answer with ``send``."""

    def noise(self) -> bytes:
        return bytes(self.rng.randrange(256) for _ in range(self.rng.randrange(3, 24)))

    # the wire ----------------------------------------------------------------------------
    def send(self, frame: bytes) -> bool:
        """Write one frame with the configured faults; False when unplugged."""
        with self._lock:
            self.frames_sent += 1
            count = self.frames_sent
        every = self.faults.garbage_every
        if every and count % every == 0:
            frame = self.noise() + frame
        if self.faults.split and len(frame) > 1:
            cut = self.rng.randrange(1, len(frame))
            ok = self._write(frame[:cut])
            time.sleep(0.02)  # long enough for the host to read the first part on its own
            return self._write(frame[cut:]) and ok
        return self._write(frame)

    def _write(self, data: bytes) -> bool:
        rate = self.faults.bytes_per_second
        if not rate:
            return self.port.write(data)
        ok = True
        for byte in data:
            ok = self.port.write(bytes([byte])) and ok
            time.sleep(1 / rate)
        return ok

    def _serve(self) -> None:
        next_tick = time.monotonic()
        was_plugged = False
        while not self._stop.is_set():
            if not self.port.plugged:  # the cable is out: nothing to read or send
                was_plugged = False
                with self._lock:
                    self.offline()
                self._stop.wait(0.05)
                continue
            if not was_plugged:
                with self._lock:
                    self.connected()
                was_plugged = True
            timeout = 0.1 if self.period is None else max(0.0, next_tick - time.monotonic())
            data = self.port.read(min(timeout, 0.1))
            if data:
                with self._lock:
                    self.receive(data)
            if self.period is not None and time.monotonic() >= next_tick:
                next_tick += self.period
                if next_tick < time.monotonic():  # fell behind (slow line): do not burst
                    next_tick = time.monotonic() + self.period
                with self._lock:
                    frames = self.emit()
                    self.ticks += 1
                for frame in frames:
                    self.send(frame)
