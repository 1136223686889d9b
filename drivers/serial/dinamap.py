"""GE DINAMAP host communications, non-invasive blood pressure only.

UNVERIFIED ON HARDWARE. The GE *DINAMAP Host Communications Reference Manual* 2010566 is
not available to us beyond its table of contents; everything here is reconstructed from
github:tnez/TK-BP (a Cocoa app that drove a DINAMAP Pro 200) as described in
serial-protocols.md section 6. Check it against the manual and a monitor before relying
on it.

Messages are ASCII ``<unit id><command><data><2 checksum chars><CR>`` (unit id a space).
Checksum [inferred]: s = sum over the message characters of (c - 0x20 + 1), less 0xFFF
while above 0xFFF; the two characters are chr(0x20 + (s >> 6)) and chr(0x20 + (s & 0x3F)).
It reproduces all four command constants of TK-BP (``TKDinamapBPController.h``:
`` NC0!E`` start NIBP, `` NA!2`` read NIBP result, `` ND!5`` cancel, `` RC!8`` read pulse
rate); that replies carry the same checksum is an assumption.

Replies read (offsets into the reply, from TK-BP's ranges):

* ``NA``: status at 3 (``1`` = valid result; above ``2`` = error, per the reference), a
  4-digit time counter at 6-9, systolic 10-12, diastolic 13-15, MAP 16-18 (mmHg).
  The monitor repeats its last result on every poll; TK-BP knows a new one by the time
  counter going down. This parser reports the first result it sees and then each one whose
  counter is lower than the previous reply's, so a poll loop does not repeat a reading.
  An error status is reported as a reading with no values and ``measurement_unsuccessful``.
* ``RC``: pulse rate at 4-6. A new NA result is held until the next reply: an ``RC`` reply
  fills its ``pulse_rate``; any other reply releases it without one. Hosts poll NA then RC
  (as TK-BP does), so the reading comes out with the RC reply.

Other replies with a valid checksum are ignored; lines with a bad checksum or layout are
dropped and counted. Pressures are ``int`` mmHg; a field that is not three digits, or 0,
is ``None``.
"""

from __future__ import annotations

from dataclasses import replace

from drivers.measurements import BloodPressure
from drivers.serial.lines import LineSplitter

_NA_LENGTH = 19
_RC_LENGTH = 7


def checksum(message: str) -> str:
    """The two checksum characters of ``message`` (unit id, command and data)."""
    total = sum(ord(c) - 0x20 + 1 for c in message)
    while total > 0xFFF:
        total -= 0xFFF
    return chr(0x20 + (total >> 6)) + chr(0x20 + (total & 0x3F))


def command(message: str) -> bytes:
    """``message`` with its checksum and CR, ready to send."""
    return (message + checksum(message) + "\r").encode("ascii")


START_NIBP = command(" NC0")
READ_NIBP = command(" NA")
CANCEL_NIBP = command(" ND")
READ_PULSE = command(" RC")


class DinamapParser:
    """Incremental parser for DINAMAP host-protocol replies (NIBP)."""

    def __init__(self) -> None:
        self._lines = LineSplitter(b"\r\n", max_length=256)
        self._errors = 0
        self._last_counter: int | None = None
        self._seen_result = False
        self._pending: BloodPressure | None = None

    @property
    def errors(self) -> int:
        return self._errors + self._lines.dropped

    def feed(self, data: bytes) -> list[BloodPressure]:
        out: list[BloodPressure] = []
        for line in self._lines.feed(data):
            self._line(line, out)
        return out

    def _line(self, line: bytes, out: list[BloodPressure]) -> None:
        try:
            text = line.decode("ascii")
        except UnicodeDecodeError:
            self._errors += 1
            return
        if len(text) < 5 or checksum(text[:-2]) != text[-2:]:
            self._errors += 1
            return
        body, command_code = text[:-2], text[1:3]
        if command_code == "RC":
            if len(body) < _RC_LENGTH:
                self._errors += 1
                return
            if self._pending is not None:
                raw = self._pending.raw + b"\r" + line  # both replies, as received
                out.append(replace(self._pending, pulse_rate=_pressure(body[4:7]), raw=raw))
                self._pending = None
            return
        if self._pending is not None:
            out.append(self._pending)
            self._pending = None
        if command_code == "NA":
            if len(body) < _NA_LENGTH:
                self._errors += 1
                return
            self._nibp(body, line)

    def _nibp(self, body: str, line: bytes) -> None:
        status = body[3]
        counter_text = body[6:10]
        counter = int(counter_text) if counter_text.isascii() and counter_text.isdigit() else None
        new = not self._seen_result or (
            counter is not None and self._last_counter is not None and counter < self._last_counter
        )
        self._last_counter = counter
        if status == "1":
            reading = BloodPressure(
                systolic=_pressure(body[10:13]),
                diastolic=_pressure(body[13:16]),
                mean_arterial_pressure=_pressure(body[16:19]),
                raw=line,
            )
        elif status.isdigit() and status > "2":
            unsuccessful = frozenset({"measurement_unsuccessful"})
            reading = BloodPressure(None, None, None, flags=unsuccessful, raw=line)
        else:
            return  # no result to report (e.g. a determination in progress)
        if new:
            self._seen_result = True
            self._pending = reading


def _pressure(text: str) -> int | None:
    if len(text) != 3 or not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value or None


PROTOCOLS: dict[str, type] = {"dinamap": DinamapParser}
# Verification level (drivers/plugins.py LEVELS): reconstructed, never run on a monitor.
VERIFICATION = {"dinamap": "unverified"}
