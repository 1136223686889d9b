"""Masimo serial text lines: "ASCII 1" real-time output (Radical-5/7, Rad-8, Rad-87) and the
trend-data lines of the Rad-8/Rad-57/Pronto family. Reference: serial-protocols.md section 5.

A line is ``MM/DD/YY HH:MM:SS`` followed by space-separated ``NAME=value`` tokens, ended by
CR LF (OpenICE ``poxrad_discrete.h``, github:mdpnp/mdpnp). The field set differs by model
and firmware, so tokens are read by name, never by column:

* ASCII 1: ``SN= SPO2=nnn% BPM=nnn PI=nn.nn% ... ALARM=hhhh EXC=hhhhhh`` (Radical-7; newer
  firmware adds SPHB/SPOC/RESVD/EXC1, Radical-5 sends only SPO2 BPM PI ALARM EXC). The
  ``%`` after a value is optional.
* Trend lines (Rad-8 operator's manual p. 4-24 "Sample trend output"):
  ``SpO2=097 PR=069 PI=04.69 EXC=800:SET`` - pulse rate is ``PR``, EXC is followed by
  ``:`` and names.

Missing values: a field filled with dashes (``---``, ``--.-``, ``+--``; OpenICE checks the
second character) is ``None``; so are SpO2 and pulse rate 0, which the trend samples send
with EXC "OffPat"/"Search" and which lie outside the documented display ranges 001-100 and
001-240 (Rad-57 operator's manual, "Trend data format"). PI 00.00 on such a zero line is
``None`` too (PI's own range starts at 00.00, so it stays a number otherwise).

Numbers: SpO2 and pulse rate are integers (``int``); PI keeps the device's digits
(``Decimal``). The line's own date and time become ``timestamp`` (two-digit year as 20YY);
a line without a valid date/time is not a Masimo line and is dropped.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

from drivers.measurements import PulseOximetry
from drivers.serial.lines import LineSplitter

# EXC bits -> flags. Bits and names: Rad-8 operator's manual p. 4-24 (0x001-0x800, also in
# github:remkolems/masimo-datacapture) and OpenICE poxrad_discrete.h exceptionmessage()
# (0x1000-0x400000, Radical-7). Bits without a flag: 0x200 reserved, 0x800 "Masimo SET"
# (normal full-SET operation), 0x200000/0x400000 SpCO/SpMet low confidence (not SpO2).
EXC_FLAGS: dict[int, str] = {
    0x000001: "probe_error",  # No Sensor
    0x000002: "probe_error",  # Defective Sensor
    0x000004: "low_perfusion",  # Low Perfusion
    0x000008: "searching",  # Pulse Search
    0x000010: "artifact",  # Interference
    0x000020: "sensor_off",  # Sensor Off (trend text "OffPat")
    0x000040: "artifact",  # Ambient Light
    0x000080: "probe_error",  # Unrecognized Sensor
    0x000100: "probe_error",  # Incompatible Sensor
    0x000400: "low_signal",  # Low Signal IQ
    0x001000: "probe_error",  # No Cable Connected
    0x002000: "probe_error",  # Cable Life Expired
    0x004000: "probe_error",  # Incompatible Cable
    0x008000: "probe_error",  # Unrecognized Cable
    0x010000: "probe_error",  # Defective Cable
    0x020000: "searching",  # Sensor Calibrating (no value yet)
    0x040000: "probe_error",  # Sensor Life Expired
    0x080000: "probe_error",  # Emitter Temp Out of Range
    0x100000: "probe_error",  # Sensor Current Limit Exceeded
}
# ALARM bits: Masimo calls the decode proprietary; OpenICE poxrad_discrete.h alarmmessage()
# lists 0x0040 "Low Battery", the only one that is a device state rather than a limit alarm.
ALARM_FLAGS: dict[int, str] = {0x0040: "low_battery"}

_HEAD = re.compile(r"(\d\d)/(\d\d)/(\d\d) (\d\d):(\d\d):(\d\d)(?: +(.*))?")
_INT = re.compile(r"[0-9]+")
_DEC = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_MISSING = re.compile(r"[+-]?-[-.]*")
_HEX = re.compile(r"[0-9A-Fa-f]+")

_SPO2 = ("SPO2",)
_PULSE = ("BPM", "PR")


class _Bad(ValueError):
    """A line that breaks the layout."""


class MasimoParser:
    """Incremental parser for Masimo ASCII 1 and trend lines."""

    def __init__(self) -> None:
        self._lines = LineSplitter(b"\r\n", max_length=512)
        self._errors = 0

    @property
    def errors(self) -> int:
        return self._errors + self._lines.dropped

    def feed(self, data: bytes) -> list[PulseOximetry]:
        out: list[PulseOximetry] = []
        for line in self._lines.feed(data):
            try:
                out.append(_decode(line))
            except _Bad:
                self._errors += 1
        return out


def _decode(line: bytes) -> PulseOximetry:
    try:
        text = line.decode("ascii")
    except UnicodeDecodeError:
        raise _Bad("not ASCII") from None
    head = _HEAD.fullmatch(text.strip(" \t"))
    if head is None:
        raise _Bad("no MM/DD/YY HH:MM:SS")
    month, day, year, hour, minute, second = (int(g) for g in head.groups()[:6])
    try:
        timestamp = datetime(2000 + year, month, day, hour, minute, second)
    except ValueError:
        raise _Bad("impossible date") from None
    fields: dict[str, str] = {}
    for token in (head.group(7) or "").split():
        name, sep, value = token.partition("=")
        if sep:
            fields[name.upper()] = value.removesuffix("%")
    spo2_text = _first(fields, _SPO2)
    pulse_text = _first(fields, _PULSE)
    if spo2_text is None and pulse_text is None:
        raise _Bad("no SpO2 or pulse field")
    spo2 = _integer(spo2_text)
    pulse = _integer(pulse_text)
    pi = _decimal(fields.get("PI"))
    if spo2 == 0:
        spo2 = None
    if pulse == 0:
        pulse = None
    if pi is not None and pi == 0 and spo2 is None and pulse is None:
        pi = None
    flags: set[str] = set()
    exc = _hex(fields.get("EXC", "").partition(":")[0])
    flags.update(name for bit, name in EXC_FLAGS.items() if exc & bit)
    alarm = _hex(fields.get("ALARM", ""))
    flags.update(name for bit, name in ALARM_FLAGS.items() if alarm & bit)
    return PulseOximetry(
        spo2=spo2,
        pulse_rate=pulse,
        timestamp=timestamp,
        pulse_amplitude_index=pi,
        flags=frozenset(flags),
        raw=line,
    )


def _first(fields: dict[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        if name in fields:
            return fields[name]
    return None


def _integer(text: str | None) -> int | None:
    if text is None or _MISSING.fullmatch(text):
        return None
    if not _INT.fullmatch(text):
        raise _Bad(f"bad integer {text!r}")
    return int(text)


def _decimal(text: str | None) -> Decimal | None:
    if text is None or _MISSING.fullmatch(text):
        return None
    if not _DEC.fullmatch(text):
        raise _Bad(f"bad number {text!r}")
    return Decimal(text)


def _hex(text: str) -> int:
    """A hex bit field; absent or dashed means no bits."""
    if not text or _MISSING.fullmatch(text):
        return 0
    if not _HEX.fullmatch(text):
        raise _Bad(f"bad hex field {text!r}")
    return int(text, 16)


PROTOCOLS: dict[str, type] = {"masimo-ascii": MasimoParser}
# Verification level (drivers/plugins.py LEVELS): published example lines.
VERIFICATION = {"masimo-ascii": "published examples"}
