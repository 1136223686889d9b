"""Parser of the Acme AS-200 scale's line protocol (entry point ``roomvitals.drivers``).

One line per answer to ``?W`` CR::

    $AW,072.4,KG,S,ID=00012345*5B\r\n

weight with one decimal, unit ``KG`` or ``LB``, status ``S`` stable, ``M`` motion, ``O``
overload, the patient ID typed on the scale's keypad, and after ``*`` the XOR of every byte
between ``$`` and ``*`` in two hex digits. Lines that break this are dropped and counted.
"""

from __future__ import annotations

import re
from decimal import Decimal

from drivers.measurements import Weight

POLL = b"?W\r"
_LINE = re.compile(rb"^\$AW,(\d{3}\.\d),(KG|LB),([SMO]),ID=([^*,]*)\*([0-9A-F]{2})$")
_UNITS = {b"KG": "kg", b"LB": "[lb_av]"}
_FLAGS = {b"S": frozenset(), b"M": frozenset({"motion"}), b"O": frozenset({"overload"})}


def xor(data: bytes) -> int:
    value = 0
    for byte in data:
        value ^= byte
    return value


class AcmeParser:
    def __init__(self) -> None:
        self.errors = 0
        self._buffer = b""

    def feed(self, data: bytes) -> list[Weight]:
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        if len(self._buffer) > 200:  # no line end in sight: noise
            self.errors += 1
            self._buffer = b""
        out = []
        for raw in lines:
            line = raw.strip(b"\r")
            if not line:
                continue
            match = _LINE.match(line)
            if match is None or xor(line[1 : line.index(b"*")]) != int(match.group(5), 16):
                self.errors += 1
                continue
            flags = _FLAGS[match.group(3)]
            weight = None if "overload" in flags else Decimal(match.group(1).decode())
            out.append(Weight(weight=weight, unit=_UNITS[match.group(2)], flags=flags,
                              raw=strip_patient_ids(line)))
        return out


PROTOCOLS = {"acme-as200": AcmeParser}
VERIFICATION = {"acme-as200": "simulator only"}  # no real AS-200 was ever on the bench
PROFILES = {
    # The gateway polls it (4800 8N1) and keeps one reading per weighing.
    "acme-as200": {"device_kind": "scale", "baudrate": 4800, "poll": POLL, "repeats": True},
}

PATIENT_ID_FIELDS = "ID= field replaced by zeros (checksum recomputed)"
RECORD_END = b"\n"
_ID = re.compile(rb"ID=([^*,\r\n]*)\*")


def strip_patient_ids(data: bytes) -> bytes:
    """Whole lines with every ID value zeroed and the checksum recomputed."""
    def zero(match: re.Match[bytes]) -> bytes:
        return b"ID=" + b"0" * len(match.group(1)) + b"*"

    out = []
    for line in data.split(b"\n"):
        if b"ID=" in line and line.startswith(b"$") and b"*" in line:
            body = _ID.sub(zero, line)
            star = body.index(b"*")
            line = body[: star + 1] + b"%02X" % xor(body[1:star]) + body[star + 3 :]
        out.append(line)
    return b"\n".join(out)
