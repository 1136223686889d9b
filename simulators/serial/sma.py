"""A virtual scale indicator speaking SMA SCP-0499 (levels 1 and 2).

Encoded from ../shared/reference/serial-protocols.md section 4 (*SMA Standard Scale Serial
Communication Protocol SCP-0499*, 1999, mod. 2005, as reprinted in the BTEK T419S and
Fairbanks FB2550 manuals). Host commands are ``<LF> c <CR>``; the scale answers a weight
request with

    <LF> s r n m f <weight, 10 chars with sign and point> <unit, 3 chars> <CR>

``s`` status (``Z`` centre of zero, ``O`` over capacity, space none), ``r`` range ``1``,
``n`` mode (``G`` gross, ``g`` high-resolution gross), ``m`` ``M`` in motion or space,
``f`` reserved space. Commands served: W (weight), H (high resolution), R (repeat weight
continuously until another command), Z (zero), A/B (about), anything else ``<LF>?<CR>``.
"""

from __future__ import annotations

from decimal import Decimal

from simulators.serial.device import SimulatedDevice, Weighing

LF, CR = b"\n", b"\r"
REPEAT_PERIOD = 0.2


def encode_weight(state: Weighing, *, high_resolution: bool = False) -> bytes:
    weight = state.weight
    if state.overload:
        status = "O"
    elif weight == 0:
        status = "Z"
    else:
        status = " "
    mode = "g" if high_resolution else "G"
    motion = "M" if state.motion else " "
    places = 3 if high_resolution else 2
    number = f"{weight:.{places}f}"
    unit = {"kg": "kg ", "lb": "lb "}[state.unit]
    body = f"{status}1{mode}{motion} {number:>10}{unit}"
    return LF + body.encode("ascii") + CR


ABOUT = (b"SMA:2/1.0", b"MFG:ROOMVITALS", b"MOD:SIM-SMA", b"REV:1.0", b"END:")


class SmaScale(SimulatedDevice):
    name = "sma"

    def __init__(self, port, state: Weighing | None = None, **kwargs) -> None:
        super().__init__(port, state or Weighing(weight=Decimal("0.00")), **kwargs)
        self.requests = 0
        self._input = bytearray()
        self._about = 0

    def connected(self) -> None:
        self.period = None  # a power cycle ends a repeat (R) command
        self._input.clear()

    def receive(self, data: bytes) -> None:
        self._input += data
        while (end := self._input.find(CR)) >= 0:
            line = bytes(self._input[:end])
            del self._input[: end + 1]
            start = line.rfind(LF)
            if start < 0:
                continue
            self._command(line[start + 1 :])

    def _command(self, code: bytes) -> None:
        self.commands.append(code)
        self.period = None  # any command ends a repeat
        if code == b"W":
            self.requests += 1
            self.send(encode_weight(self.state))
        elif code == b"H":
            self.requests += 1
            self.send(encode_weight(self.state, high_resolution=True))
        elif code == b"R":
            self.period = REPEAT_PERIOD
        elif code == b"Z":
            if not self.state.motion and not self.state.overload:
                self.state = Weighing(weight=Decimal("0.00"), unit=self.state.unit)
            self.send(encode_weight(self.state))
        elif code in (b"A", b"B"):
            self._about = 0 if code == b"A" else min(self._about + 1, len(ABOUT) - 1)
            self.send(LF + ABOUT[self._about] + CR)
        else:
            self.send(LF + b"?" + CR)

    def emit(self) -> list[bytes]:
        return [encode_weight(self.state)]

    def noise(self) -> bytes:
        return super().noise().replace(LF, b"")
