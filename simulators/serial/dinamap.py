"""A virtual GE DINAMAP monitor answering the host protocol for blood pressure (NIBP).

UNVERIFIED ON HARDWARE, like the parser: built from the reference
(../shared/reference/serial-protocols.md section 6: github:tnez/TK-BP, which drove a
DINAMAP Pro 200, and a checksum rule reconstructed from its four command constants), not
from the GE manual. Messages are ASCII ``<unit id><command><data><2 checksum chars><CR>``
with unit id space; checksum: s = sum of (c - 0x20 + 1) over the message, less 0xFFF while
above 0xFFF; chars chr(0x20 + (s >> 6)), chr(0x20 + (s & 0x3F)).

Commands served: ``NC0`` start a determination (it finishes after ``determination_s``),
``ND`` cancel, ``NA`` read the NIBP result, ``RC`` read the pulse rate. The ``NA`` reply
puts the status at offset 3 (``0`` no result, ``2`` in progress, ``1`` valid, ``5`` error),
a 4-digit counter at 6-9 (seconds since the result, so it drops when a new one is made),
systolic 10-12, diastolic 13-15, MAP 16-18; ``RC``: pulse rate at 4-6.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from simulators.serial.device import SimulatedDevice

CR = b"\r"


@dataclass(frozen=True)
class BloodPressureState:
    systolic: int = 118
    diastolic: int = 76
    mean: int = 90
    pulse: int = 70
    fails: bool = False
    """The next determinations end in an error (cuff leak, motion...)."""


def checksum(message: str) -> str:
    total = 0
    for char in message:
        total += ord(char) - 0x20 + 1
    while total > 0xFFF:
        total -= 0xFFF
    return chr(0x20 + (total >> 6)) + chr(0x20 + (total & 0x3F))


def frame(message: str) -> bytes:
    return (message + checksum(message) + "\r").encode("ascii")


class DinamapMonitor(SimulatedDevice):
    name = "dinamap"
    period = 0.1

    def __init__(
        self,
        port,
        state: BloodPressureState | None = None,
        *,
        determination_s: float = 1.0,
        **kwargs,
    ) -> None:
        super().__init__(port, state or BloodPressureState(), **kwargs)
        self.determination_s = determination_s
        self.result: tuple[str, int, int, int, int] | None = None
        """(status, sys, dia, MAP, pulse) of the last determination."""
        self.result_at = 0.0
        self.determinations = 0
        self._running_since: float | None = None
        self._input = bytearray()

    def measure(self) -> None:
        """Start a determination, as the monitor's own button or interval timer does."""
        with self._lock:
            self._running_since = time.monotonic()

    def emit(self) -> list[bytes]:
        started = self._running_since
        if started is not None and time.monotonic() - started >= self.determination_s:
            s = self.state
            status = "5" if s.fails else "1"
            self.result = (status, s.systolic, s.diastolic, s.mean, s.pulse)
            self.result_at = time.monotonic()
            self.determinations += 1
            self._running_since = None
        return []

    def receive(self, data: bytes) -> None:
        self._input += data
        while (end := self._input.find(CR)) >= 0:
            line = bytes(self._input[:end]).decode("ascii", "replace")
            del self._input[: end + 1]
            if len(line) < 5 or checksum(line[:-2]) != line[-2:]:
                continue  # a garbled command: the monitor does not answer it
            self._command(line[:-2])

    def _command(self, message: str) -> None:
        self.commands.append(message.encode("ascii"))
        code = message[1:3]
        if code == "NC":
            self._running_since = time.monotonic()
            self.send(frame(" NC0"))
        elif code == "ND":
            self._running_since = None
            self.send(frame(" ND"))
        elif code == "NA":
            self.send(frame(self._nibp_reply()))
        elif code == "RC":
            pulse = self.result[4] if self.result and self.result[0] == "1" else 0
            self.send(frame(f" RC0{pulse:03d}"))

    def _nibp_reply(self) -> str:
        # The counter is the age of the last result; it keeps counting while a new
        # determination runs, so only a new result makes it drop.
        age = min(int(time.monotonic() - self.result_at), 9999) if self.result else 0
        if self._running_since is not None:
            return f" NA200{age:04d}000000000"
        if self.result is None:
            return " NA0000000000000000"
        status, systolic, diastolic, mean, _pulse = self.result
        if status != "1":
            systolic = diastolic = mean = 0
        return f" NA{status}00{age:04d}{systolic:03d}{diastolic:03d}{mean:03d}"

    def noise(self) -> bytes:
        return bytes(0x21 + self.rng.randrange(90) for _ in range(self.rng.randrange(3, 12))) + CR
