"""A virtual Health o meter Professional / Rice Lake scale speaking the ESC protocol.

Encoded from the manuals on its own (Health o meter Pro Plus 1100KL "PC Communication
Protocol", manualslib 1717895 pp. 33-35; Rice Lake 350-10, manualshive 1454094 p. 14;
../shared/reference/serial-protocols.md section 3), never by calling ``drivers``, so a
misreading of the protocol cannot cancel out between the two.

It answers the host's ``ESC R ESC E`` request with the weight on the platform and can push
a reading as the scale's print key does.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field, replace
from decimal import Decimal

from simulators.serial.pty_port import PtyPort

ESC = b"\x1b"


@dataclass(frozen=True)
class ScaleState:
    weight: Decimal = Decimal("72.4")
    height: Decimal | None = None
    bmi: Decimal | None = None
    units: str = "m"  # "m" metric (kg, cm), "c" US (lb, in)
    patient_id: str | None = None
    overload: bool = False


def encode_reading(state: ScaleState) -> bytes:
    """One reading packet as the scale sends it."""
    parts = [ESC + b"R"]
    if state.patient_id is not None:
        parts.append(ESC + b"I" + state.patient_id.encode("ascii")[:10].ljust(10))
    weight = "999.9" if state.overload else f"{state.weight:06.1f}"
    parts.append(ESC + b"W" + weight.encode("ascii"))
    if state.height is not None:
        parts.append(ESC + b"H" + f"{state.height:.2f}".encode("ascii"))
    if state.bmi is not None:
        parts.append(ESC + b"B" + f"{state.bmi:.1f}".encode("ascii"))
    parts.append(ESC + b"N" + state.units.encode("ascii"))
    parts.append(ESC + b"E")
    return b"".join(parts)


@dataclass
class HealthOMeterScale:
    """The scale on a ``PtyPort``; ``start()`` runs it in a thread until ``stop()``."""

    port: PtyPort
    state: ScaleState = field(default_factory=ScaleState)
    garbage_every: int = 0
    """Insert a burst of line noise before every Nth packet (0 = never)."""
    rng: random.Random = field(default_factory=lambda: random.Random(1100))
    requests: int = 0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sent = 0
        self._lock = threading.Lock()

    def start(self) -> HealthOMeterScale:
        self.port.plug()
        self._thread = threading.Thread(target=self._serve, name="sim-healthometer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self.port.close()

    def set(self, **changes: object) -> None:
        with self._lock:
            self.state = replace(self.state, **changes)

    def push(self) -> bool:
        """Send the current reading unasked, as the scale's print key does."""
        return self._send()

    def _send(self) -> bool:
        with self._lock:
            packet = encode_reading(self.state)
            self._sent += 1
            if self.garbage_every and self._sent % self.garbage_every == 0:
                noise = bytes(self.rng.randrange(256) for _ in range(self.rng.randrange(1, 24)))
                packet = noise.replace(ESC, b"") + packet
        return self.port.write(packet)

    def _serve(self) -> None:
        pending = b""
        while not self._stop.is_set():
            data = self.port.read(0.1)
            if not data:
                continue
            pending = (pending + data)[-64:]
            while (index := pending.find(ESC + b"R" + ESC + b"E")) >= 0:
                pending = pending[index + 4 :]
                self.requests += 1
                self._send()
