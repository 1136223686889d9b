"""Nonin handheld real-time ASCII line (2500, 8500, 9847, 8600V, BT4000, Avant 9600, 7500FO).

Sources (operator manuals, "Real-Time Serial Output"): Nonin 9847 p.37 (manualslib page 44),
8500 p.15, 8600V p.22, BT4000 p.29, 2500 PalmSAT p.18, Avant 9600 §5.3. 9600 baud; one line
per second, CR LF terminated:

    SPO2=XXX HR=YYY            (2500, 8500, BT4000, Avant 9600)
    HH:MM:SS SPO2=XXX HR=YYY   (9847, 8600V: time of the device clock, no date)
    ... F                      fast-responding values (BT4000 / Avant DIP switch 8 up)
    ...*                       event mark;  ... B  breath detected in the interval (9847)
    SPO2=--- HR=---            no data

The manuals do not fix the padding of XXX/YYY, so spaces and 1-3 digits are accepted.
The power-up header (format, date, time) has no fixed layout either; its lines, like any
other line that is not a data line, are dropped and counted in ``errors``.
Values are ``Decimal`` because the device sends decimal digits; dashes become ``None``.
"""

from __future__ import annotations

import re
from decimal import Decimal

from drivers.measurements import PulseOximetry

MAX_LINE = 128

_LINE = re.compile(
    rb"(?:\d{1,2}:\d{2}:\d{2}[ \t]+)?"
    rb"SPO2[ \t]*=[ \t]*(?P<spo2>\d{1,3}|-{1,3})%?"
    rb"[ \t]+HR[ \t]*=[ \t]*(?P<hr>\d{1,3}|-{1,3})"
    rb"[ \t]*(?:[FB*][ \t]*)*"
)


def _value(text: bytes) -> Decimal | None:
    return None if text.startswith(b"-") else Decimal(text.decode("ascii"))


class NoninAsciiParser:
    """Incremental parser of Nonin real-time ASCII lines; one ``PulseOximetry`` per line."""

    def __init__(self) -> None:
        self.errors = 0
        self._line = bytearray()
        self._overflow = False

    def feed(self, data: bytes) -> list[PulseOximetry]:
        out: list[PulseOximetry] = []
        for byte in data:
            if byte in (0x0A, 0x0D):
                measurement = self._end_line()
                if measurement is not None:
                    out.append(measurement)
            elif self._overflow:
                continue
            elif len(self._line) >= MAX_LINE:
                # No terminator for far longer than any data line: count it once, skip
                # to the next line end.
                self.errors += 1
                self._overflow = True
                self._line.clear()
            else:
                self._line.append(byte)
        return out

    def _end_line(self) -> PulseOximetry | None:
        line = bytes(self._line)
        self._line.clear()
        if self._overflow:
            self._overflow = False
            return None
        if not line.strip():
            return None  # the LF of CR LF, or an empty line
        match = _LINE.fullmatch(line.strip())
        if match is None:
            self.errors += 1
            return None
        saturation = _value(match["spo2"])
        if saturation is not None and saturation > 100:
            self.errors += 1
            return None
        return PulseOximetry(spo2=saturation, pulse_rate=_value(match["hr"]), raw=line)


PROTOCOLS: dict[str, type] = {"nonin-ascii": NoninAsciiParser}
# Verification level (drivers/plugins.py LEVELS): the handheld manuals' example lines.
VERIFICATION = {"nonin-ascii": "published examples"}
