"""SMA SCP-0499 scale protocol, levels 1 and 2 (Scale Manufacturers Association, 1999,
mod. 2005), as reprinted in indicator manuals (BTEK T419S service manual section 7.1,
Sartorius PR 5220 manual p. EN-130, Fairbanks FB2550 appendix III, Direct Supply
Attendant 6880DS medical scale manual p. 24). Reference: serial-protocols.md section 4.

Standard response (section "Standard Scale Response Message"), no checksum::

    <LF> s r n m f <weight: 10 chars> <unit: 3 chars> <CR>

``s`` status: ``Z`` centre of zero, ``O`` over capacity, ``U`` under capacity, ``E`` zero
error, ``I`` initial-zero error, ``T`` tare error, space none; for E/I/T the weight field is
dashes. ``r`` range digit. ``n`` mode: ``G`` gross, ``N`` net, ``T`` tare (reply to ``M``),
``g``/``n`` high-resolution gross/net. ``m`` ``M`` in motion, space stable. ``f`` reserved.

The parser reports every weight reply with its flags (motion, centre of zero...); choosing
the patient reading is the gateway's job. Over/under capacity and error replies carry the
flag and ``weight=None`` (the device marks the value out of range or missing). Tare replies
(mode ``T``) are not body weights and are skipped without counting an error, as are the
non-weight replies ``?`` (unknown command), ``!`` (communication error) and the
``XXX:...`` about/information lines.
"""

from __future__ import annotations

import re
from decimal import Decimal

from drivers.measurements import Weight
from drivers.serial.lines import DelimitedFramer

LF = 0x0A
CR = 0x0D

# uuu field, 3 chars left-justified (Sartorius PR 5220 "lb_", "kg_"); UCUM codes.
UNITS: dict[str, str] = {"lb": "[lb_av]", "kg": "kg", "g": "g"}

STATUS_FLAGS: dict[str, str] = {
    "Z": "center_of_zero",
    "O": "overload",
    "U": "underload",
    "E": "zero_error",
    "I": "zero_error",  # initial-zero error (Fairbanks FB2550 appendix III)
    "T": "tare_error",
}
_OUT_OF_RANGE = frozenset("OU")
_ERRORS = frozenset("EIT")
_MODES = frozenset("GNgn")  # weights; "T" (tare) is skipped

_BODY_LENGTH = 18  # s r n m f (5) + weight (10) + unit (3)
_NUMBER = re.compile(r"([+-]?) *(\d+(?:\.\d*)?|\.\d+)")
_DASHES = re.compile(r"[-+ ]*-[- ]*")
_INFO = re.compile(r"[A-Z ]{3}:.*")


def command(code: str) -> bytes:
    """A host command: ``<LF> code <CR>`` (SCP-0499 "Host Commands")."""
    return b"\n" + code.encode("ascii") + b"\r"


REQUEST_WEIGHT = command("W")
REQUEST_HIGH_RESOLUTION = command("H")
REPEAT_WEIGHT = command("R")  # continuous replies until another command
ZERO = command("Z")
TARE = command("T")
REQUEST_TARE = command("M")
DIAGNOSTICS = command("D")
ABOUT_FIRST = command("A")
ABOUT_NEXT = command("B")
INFO_FIRST = command("I")
INFO_NEXT = command("N")
ABORT = b"\x1b"  # ESC, the one command sent without LF/CR


class SmaParser:
    """Incremental parser for SMA SCP-0499 replies."""

    def __init__(self) -> None:
        self._framer = DelimitedFramer(LF, CR, max_length=64, ignore=b"\r")
        self._errors = 0

    @property
    def errors(self) -> int:
        return self._errors + self._framer.dropped

    def feed(self, data: bytes) -> list[Weight]:
        out: list[Weight] = []
        for frame in self._framer.feed(data):
            result = _decode(frame)
            if result is None:
                self._errors += 1
            elif isinstance(result, Weight):
                out.append(result)
        return out


def _decode(frame: bytes) -> Weight | bool | None:
    """A Weight, True for a valid reply that is not a body weight, None for a broken one."""
    try:
        body = frame[1:-1].decode("ascii")
    except UnicodeDecodeError:
        return None
    if body in ("?", "!") or _INFO.fullmatch(body):
        return True
    if len(body) != _BODY_LENGTH:
        return None
    status, range_, mode, motion, _reserved = body[:5]
    weight_text, unit_text = body[5:15], body[15:18]
    if status not in STATUS_FLAGS and status != " ":
        return None
    if not range_.isdigit() or motion not in (" ", "M"):
        return None
    if mode not in _MODES:
        return True if mode == "T" else None
    unit = UNITS.get(unit_text.rstrip(" "))
    if unit is None:
        return None
    flags = set()
    if status in STATUS_FLAGS:
        flags.add(STATUS_FLAGS[status])
    if motion == "M":
        flags.add("motion")
    weight: Decimal | None
    number = _NUMBER.fullmatch(weight_text.strip(" "))
    if number is not None:
        weight = Decimal(number.group(1) + number.group(2))
    elif _DASHES.fullmatch(weight_text):
        weight = None
        if status not in _ERRORS:
            flags.add("device_error")
    else:
        return None
    if status in _OUT_OF_RANGE or status in _ERRORS:
        weight = None  # out of range or errored: never a number
    return Weight(weight=weight, unit=unit, flags=frozenset(flags), raw=frame)


PROTOCOLS: dict[str, type] = {"sma": SmaParser}
# Verification level (drivers/plugins.py LEVELS): examples derived from the standard.
VERIFICATION = {"sma": "simulator only"}
