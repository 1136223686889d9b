"""Health o meter Professional / Rice Lake medical scales, the "ESC protocol".

Source: Health o meter Pro Plus 1100KL/2650KL/2700KL user manual, "PC Communication
Protocol" (manualslib 1717895 pp. 33-35); Rice Lake 140-10-7 / 160-10-7 / 350-10 manuals
(manualshive 1454080 p. 15, 1454094 p. 14); summarised in
../shared/reference/serial-protocols.md section 3.

Framing: every field is ESC (0x1B), one letter and its value; a packet ends with ``ESC E``.
A reading starts with ``ESC R``. No checksum. 9600 8N1. Fields of a reading: ``W`` weight,
``H`` height, ``T`` tare, ``B`` BMI, ``N`` units (``m`` metric: kg and cm; ``c`` US
"constitutional": lb and in), ``I`` a 10-character patient ID, ``D`` date-time. Overload and
underload are sent as weight 999.9 / 999.99.

The patient-ID field is dropped here and never leaves the parser, not even in ``raw``: the
gateway must not publish patient identifiers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from drivers.measurements import Weight

ESC = 0x1B
REQUEST_READING = b"\x1bR\x1bE"
"""Host -> scale: ask for the current reading (manual p. 33)."""

ESC_BYTE = b"\x1b"
_MAX_PACKET = 256
# Diagnostics response codes (Rice Lake 350-10 manual p. 14): E06 ADC high, E07 ADC low,
# E10 overload.
_DIAGNOSTIC_FLAGS = {b"6": "device_error", b"7": "device_error", b"10": "overload"}
_OVERLOAD_VALUES = (Decimal("999.9"), Decimal("999.99"))
_NUMBER = re.compile(rb"^\s*[0-9]+(\.[0-9]+)?$")
_UNITS = {b"m": ("kg", "cm"), b"c": ("[lb_av]", "[in_i]")}


@dataclass
class EscParser:
    """Incremental parser; ``feed`` returns finished readings, ``errors`` counts dropped ones."""

    errors: int = 0

    def __post_init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Weight]:
        self._buffer += data
        results: list[Weight] = []
        while True:
            start = self._buffer.find(ESC_BYTE)
            if start < 0:
                self._skip(len(self._buffer))
                return results
            self._skip(start)
            end = self._buffer.find(b"\x1bE")
            if end == 0:
                del self._buffer[:2]  # a lone end marker: nothing to read
                continue
            restart = self._buffer.find(b"\x1bR", 1)
            if restart >= 0 and (end < 0 or restart < end):
                # a new reading began before this packet ended: this one was cut off
                self.errors += 1
                del self._buffer[:restart]
                continue
            if end < 0:
                if len(self._buffer) > _MAX_PACKET:
                    self.errors += 1
                    del self._buffer[:1]
                    continue
                return results
            packet = bytes(self._buffer[: end + 2])
            del self._buffer[: end + 2]
            event = self._packet(packet)
            if event is not None:
                results.append(event)

    def _skip(self, count: int) -> None:
        # Line ends after a packet are normal; anything else before a packet is noise.
        if self._buffer[:count].strip(b"\r\n \x00"):
            self.errors += 1
        del self._buffer[:count]

    def _packet(self, packet: bytes) -> Weight | None:
        kind = packet[1:2]
        if kind == b"R":
            reading = self._parse(packet)
            if reading is None:
                self.errors += 1
            return reading
        if kind == b"Z":
            return self._diagnostics(packet)
        # Replies to settings queries (ESC P...), power status and the like: not readings.
        return None

    def _diagnostics(self, packet: bytes) -> Weight | None:
        code = packet[2:-2].strip()
        if code == b"000":
            return None
        flag = _DIAGNOSTIC_FLAGS.get(code.lstrip(b"E").lstrip(b"0"))
        if flag is None:
            self.errors += 1
            return None
        return Weight(weight=None, flags=frozenset({flag}), raw=packet)

    def _parse(self, packet: bytes) -> Weight | None:
        fields: dict[bytes, bytes] = {}
        for part in packet.split(b"\x1b")[1:]:
            if not part:
                return None
            letter, value = part[:1], part[1:]
            if letter in fields:
                return None
            fields[letter] = value
        if fields.get(b"R") != b"" or fields.get(b"E") != b"":
            return None
        units = _UNITS.get(fields.get(b"N", b"").strip())
        if units is None:
            return None
        weight = _number(fields.get(b"W"))
        if weight is None:
            return None
        height = _number(fields.get(b"H"))
        bmi = _number(fields.get(b"B"))
        if (b"H" in fields and height is None) or (b"B" in fields and bmi is None):
            return None
        raw = _without_patient_id(packet)
        weight_unit, height_unit = units
        if weight in _OVERLOAD_VALUES:
            return Weight(weight=None, unit=weight_unit, flags=frozenset({"overload"}), raw=raw)
        return Weight(
            weight=weight,
            unit=weight_unit,
            height=height or None,
            height_unit=height_unit if height else None,
            bmi=bmi or None,
            raw=raw,
        )


def _number(value: bytes | None) -> Decimal | None:
    if value is None or not _NUMBER.match(value):
        return None
    try:
        return Decimal(value.decode("ascii").strip())
    except InvalidOperation:
        return None


def _without_patient_id(packet: bytes) -> bytes:
    return b"\x1b".join(p for p in packet.split(b"\x1b") if not p.startswith(b"I"))


PROTOCOLS = {"healthometer-esc": EscParser}
# Verification level (drivers/plugins.py LEVELS): the manuals' example packets.
VERIFICATION = {"healthometer-esc": "published examples"}

# --- captures (simulators/capture.py): the patient-ID field never leaves the gateway ---------
PATIENT_ID_FIELDS = "ESC I (10-character patient ID) removed"
RECORD_END = b"\x1bE"
"""Give ``strip_patient_ids`` whole packets: a capture holds bytes back up to this."""
_ID_FIELD = re.compile(rb"\x1bI[^\x1b]*")


def strip_patient_ids(data: bytes) -> bytes:
    """``data`` (whole packets) without any ``ESC I`` patient-ID field; readings unchanged."""
    return _ID_FIELD.sub(b"", data)
