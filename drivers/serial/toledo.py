"""Toledo continuous output (Mettler Toledo; emulated by Fairbanks, Cardinal/Detecto, Rice
Lake, Kern indicators). Reference: serial-protocols.md section 4.

Frame (Mettler Toledo IND445 user manual 5.2.2; Rockwell 57C428 guide appendix D)::

    STX SWA SWB SWC wwwwww [tttttt] CR [CHK]

The tare field is absent in Cardinal's "short" formats (Cardinal 225 manual p. 118) and the
checksum is optional (Cardinal formats 0-3). CHK = two's complement of the sum of the low
7 bits of every preceding byte, STX and CR included. Leading zeros of the weight may be
blanks (Fairbanks 2800 manual appendix IV). Bit 7 of every byte may carry parity when the
port is read as 8 data bits (Rice Lake 880 manual 10.8.1), so it is ignored.

Status words (Mettler Toledo Wildcat manual tables 6-9..6-11):

* SWA bits 0-2 decimal point / dummy zeros: 000 XXXX00, 001 XXXXX0, 010 XXXXXX,
  011 XXXXX.X, 100 XXXX.XX, 101 XXX.XXX, 110 XX.XXXX, 111 X.XXXXX; bits 3-4 increment;
  bit 5 = 1, bit 6 = 0.
* SWB bit 0 net, 1 negative, 2 out of range, 3 motion, 4 kg (else lb), 5 = 1 (Fairbanks
  sends 0, so not checked), 6 power-up not zeroed.
* SWC bit 0 grams, 3 print request, 4 expanded display; bit 5 = 1, bit 6 = 0.

Whether a checksum follows CR is told from the byte after CR: if it equals the frame's
checksum it is one, if it is STX the stream has none. Because of this a frame is reported
when the byte after its CR arrives (at once in a checksummed stream). In the rare frame
whose checksum is itself STX (0x02) one more byte decides.

Out-of-range weights are reported as ``weight=None`` with ``overload`` (``underload`` when
the sign bit is also set); motion and "power-up not zeroed" (``zero_error``) keep the
weight. The tare field is not reported.
"""

from __future__ import annotations

import re
from decimal import Decimal
from enum import Enum, auto

from drivers.measurements import Weight

STX = 0x02
CR = 0x0D
_BODY_LENGTHS = (9, 15)  # SWA SWB SWC + weight (+ tare)
_DIGITS = re.compile(rb" *[0-9]+")


def checksum(frame: bytes) -> int:
    """Two's complement of the 7-bit sum of ``frame`` (STX through CR)."""
    return -sum(b & 0x7F for b in frame) & 0x7F


class _State(Enum):
    IDLE = auto()
    BODY = auto()
    AFTER_CR = auto()
    AMBIGUOUS = auto()  # frame, then 0x02 that is either its checksum or the next STX


class ToledoParser:
    """Incremental parser for Toledo continuous output."""

    def __init__(self) -> None:
        self.errors = 0
        self._state = _State.IDLE
        self._frame = bytearray()  # raw bytes STX..CR as received
        self._garbage = False  # bytes outside a frame not yet counted
        self._swallow = False  # bytes after a dropped frame: already counted with it
        self._held = STX  # the byte held in the AMBIGUOUS state

    def feed(self, data: bytes) -> list[Weight]:
        out: list[Weight] = []
        for byte in data:
            self._step(byte, out)
        return out

    def _step(self, byte: int, out: list[Weight]) -> None:
        b7 = byte & 0x7F
        state = self._state
        if state is _State.IDLE:
            if b7 == STX:
                self._start(byte)
            elif not self._swallow:
                self._garbage = True
        elif state is _State.BODY:
            if b7 == STX:
                self.errors += 1  # truncated frame
                self._start(byte)
            elif b7 == CR:
                self._frame.append(byte)
                if len(self._frame) - 2 in _BODY_LENGTHS:
                    self._state = _State.AFTER_CR
                else:
                    self._drop()
            else:
                self._frame.append(byte)
                if len(self._frame) - 1 > max(_BODY_LENGTHS):
                    self._drop()
        elif state is _State.AFTER_CR:
            expected = checksum(self._frame)
            if b7 != STX:
                if b7 == expected:
                    self._emit(bytes(self._frame), bytes((byte,)), out)
                    self._state = _State.IDLE
                else:
                    self._drop()  # broken checksum
            elif expected == STX:
                self._held = byte
                self._state = _State.AMBIGUOUS
            else:
                self._emit(bytes(self._frame), b"", out)  # no checksum in this stream
                self._start(byte)
        else:  # AMBIGUOUS: the held 0x02 is a checksum only if a new STX follows it
            if b7 == STX:
                self._emit(bytes(self._frame), bytes((self._held,)), out)
                self._start(byte)
            else:
                self._emit(bytes(self._frame), b"", out)
                self._start(self._held)
                self._step(byte, out)

    def _start(self, byte: int) -> None:
        if self._garbage:
            self.errors += 1
            self._garbage = False
        self._swallow = False
        self._frame = bytearray((byte,))
        self._state = _State.BODY

    def _drop(self) -> None:
        self.errors += 1
        self._state = _State.IDLE
        self._garbage = False  # what follows, up to the next STX, belongs to this error
        self._frame = bytearray()
        self._swallow = True

    def _emit(self, frame: bytes, chk: bytes, out: list[Weight]) -> None:
        weight = _decode(frame, chk)
        if weight is None:
            self.errors += 1
        else:
            out.append(weight)


def _decode(frame: bytes, chk: bytes) -> Weight | None:
    """Decode one frame (STX .. CR, checksum already checked); None if its fields are bad."""
    body = bytes(b & 0x7F for b in frame[1:-1])
    swa, swb, swc = body[0], body[1], body[2]
    if swa & 0x60 != 0x20 or swc & 0x60 != 0x20:
        return None
    field, tare = body[3:9], body[9:]
    if tare and not _DIGITS.fullmatch(tare):
        return None  # the tare is not reported, but a broken one means a broken frame
    flags: set[str] = set()
    negative = bool(swb & 0x02)
    if swb & 0x08:
        flags.add("motion")
    if swb & 0x40:
        flags.add("zero_error")  # power-up not zeroed
    # SWC bit 0 grams overrides SWB bit 4 kg/lb (Wildcat table 6-11)
    unit = "g" if swc & 0x01 else "kg" if swb & 0x10 else "[lb_av]"
    weight: Decimal | None
    if swb & 0x04:
        flags.add("underload" if negative else "overload")
        weight = None
    elif _DIGITS.fullmatch(field):
        weight = Decimal(field.strip(b" ").decode("ascii")).scaleb(2 - (swa & 0x07))
        if negative:
            weight = -weight
    else:
        return None
    return Weight(weight=weight, unit=unit, flags=frozenset(flags), raw=frame + chk)


PROTOCOLS: dict[str, type] = {"toledo-continuous": ToledoParser}
# Verification level (drivers/plugins.py LEVELS): examples derived from the manuals' layouts.
VERIFICATION = {"toledo-continuous": "simulator only"}
# This protocol reaches drivers.serial.PROTOCOLS through the roomvitals.drivers entry point
# declared in pyproject.toml, as a third-party plug-in's would, so that path is always used.
SHIPPED_AS_ENTRY_POINT = True
