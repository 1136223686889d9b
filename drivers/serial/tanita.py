"""Tanita scale and body-composition analyser output (name ``tanita-csv``). Reference:
serial-protocols.md section 7. One CR LF line per measurement, in one of two shapes told
apart by the line itself:

* Key/value CSV of current models (WB-3000, SC-240, SC-330, DC-320, MC-780...; SC-240
  instruction manual p. 24 "Output data items", WB-3000 manual p. 10)::

      {0,16,~0,1,~1,1,~2,1,MO,"SC-240",...,Wk,82.7,...,MI,28.6,...,ZF,369.4,CS,FD

  ``HEADER,value`` pairs; ``{0 ~0 ~1 ~2`` are control data. Read here: ``Wk`` weight kg,
  ``Wp`` weight lb, ``Hm`` height cm, ``MI`` BMI, ``Da``/``TI`` date ``dd/mm/yyyy`` and
  time ``hh:mm`` (SC-330 manual p. 46). ``CS`` is two hex digits, the low byte of the sum of
  every byte from ``{`` through the comma before ``CS`` (rule inferred in the reference; it
  reproduces the SC-240 manual example and the SC-330 and MC-780 captures in the tests).
  A line without a valid ``CS`` is dropped (that is how a truncated line is caught).
  Not read: body composition (fat, water, muscle, impedance...: no measurement type for them
  yet), ``Ws`` stone-pound weight and ``Hf`` feet-inch height (their text layout is not in
  the public material), ``Wg``. A line with no ``Wk``/``Wp`` yields nothing and no error.
  Bytes before ``{0,`` on a line (the WB-3000's "irrelevant signal" ~0.1 s after each line,
  WB-3000 manual p. 10) count as one error and the line is read from ``{0,``.

* Headerless positional line of the TBF-310 family (github:obiba/onyx,
  Tbf310InstrumentRunner and its test)::

      bodytype,gender,height,weight,impedance,fat%,fatmass,FFM,TBW,age,BMI,BMR

  twelve numeric fields, metric units (cm, kg), no checksum.

Numbers are ``Decimal`` with the device's digits. Anything else is dropped and counted.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

from drivers.measurements import Weight
from drivers.serial.lines import LineSplitter

_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_CHECKSUM = re.compile(r"[0-9A-Fa-f]{2}")
_DATE = re.compile(r"([0-9]{2})/([0-9]{2})/([0-9]{4})")
_TIME = re.compile(r"([0-9]{2}):([0-9]{2})")
_KEYED_START = b"{0,"
_CS_MARK = b",CS,"
_WEIGHT_KEYS = (("Wk", "kg"), ("Wp", "[lb_av]"))
_POSITIONAL_FIELDS = 12


class _Bad(ValueError):
    """A line that breaks the layout."""


class TanitaParser:
    """Incremental parser for Tanita key/value CSV and TBF-310 positional lines."""

    def __init__(self) -> None:
        self._lines = LineSplitter(b"\r\n", max_length=4096)  # MC-780 lines are ~1.5 kB
        self._errors = 0

    @property
    def errors(self) -> int:
        return self._errors + self._lines.dropped

    def feed(self, data: bytes) -> list[Weight]:
        out: list[Weight] = []
        for line in self._lines.feed(data):
            start = line.find(_KEYED_START)
            if start > 0:
                self._errors += 1  # junk before the record
                line = line[start:]
            try:
                weight = _keyed(line) if start >= 0 else _positional(line)
            except _Bad:
                self._errors += 1
                continue
            if weight is not None:
                out.append(weight)
        return out


def _keyed(line: bytes) -> Weight | None:
    mark = line.rfind(_CS_MARK)
    if mark < 0:
        raise _Bad("no checksum")
    sent = line[mark + len(_CS_MARK) :]
    if not _CHECKSUM.fullmatch(_ascii(sent)):
        raise _Bad("bad checksum field")
    if sum(line[: mark + 1]) & 0xFF != int(sent, 16):
        raise _Bad("checksum mismatch")
    tokens = _ascii(line[:mark]).split(",")
    if len(tokens) % 2:
        raise _Bad("odd number of fields")
    fields = {key: value.strip('"') for key, value in zip(tokens[::2], tokens[1::2], strict=True)}
    weight: Decimal | None = None
    unit = None
    for key, ucum in _WEIGHT_KEYS:
        if key in fields:
            weight, unit = _number(fields[key]), ucum
            break
    if unit is None:
        return None
    height = _number(fields["Hm"]) if "Hm" in fields else None
    bmi = _number(fields["MI"]) if "MI" in fields else None
    return Weight(
        weight=weight,
        unit=unit,
        timestamp=_timestamp(fields.get("Da"), fields.get("TI")),
        bmi=bmi,
        height=height,
        height_unit="cm" if height is not None else None,
        raw=_without_patient_id(line),
    )


# The ID field holds what the operator typed on the scale: a patient identifier. It is
# blanked in ``raw`` (which the gateway publishes for audit) so it never leaves the parser;
# the kept checksum then no longer matches, which marks the line as edited.
_ID_FIELD = re.compile(rb'(^|,)ID,("?)[^,"]*("?)')


def _without_patient_id(line: bytes) -> bytes:
    return _ID_FIELD.sub(rb"\1ID,\2\3", line)


def _positional(line: bytes) -> Weight:
    fields = _ascii(line).split(",")
    if len(fields) != _POSITIONAL_FIELDS or not all(_NUMBER.fullmatch(f) for f in fields):
        raise _Bad("not a TBF-310 line")
    if fields[0][-1] not in "02" or fields[1] not in ("1", "2"):
        raise _Bad("body type / gender out of range")
    return Weight(
        weight=Decimal(fields[3]),
        unit="kg",
        bmi=Decimal(fields[10]),
        height=Decimal(fields[2]),
        height_unit="cm",
        raw=line,
    )


def _ascii(data: bytes) -> str:
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        raise _Bad("not ASCII") from None


def _number(text: str) -> Decimal | None:
    """The field's number, or None when the device sent no number (e.g. dashes)."""
    return Decimal(text) if _NUMBER.fullmatch(text) else None


def _timestamp(date: str | None, time: str | None) -> datetime | None:
    if date is None or time is None:
        return None
    d, t = _DATE.fullmatch(date), _TIME.fullmatch(time)
    if d is None or t is None:
        return None
    day, month, year = (int(g) for g in d.groups())
    try:
        return datetime(year, month, day, int(t.group(1)), int(t.group(2)))
    except ValueError:
        return None


PROTOCOLS: dict[str, type] = {"tanita-csv": TanitaParser}
# Verification level (drivers/plugins.py LEVELS): SC-240 manual example and captures.
VERIFICATION = {"tanita-csv": "published examples"}

# --- captures (simulators/capture.py): the ID field never leaves the gateway ----------------
PATIENT_ID_FIELDS = "ID field replaced by zeros (checksum adjusted by the same difference)"
RECORD_END = b"\n"
"""Give ``strip_patient_ids`` whole lines: a capture holds bytes back up to this."""
_ID_VALUE = re.compile(rb'((?:^|,)ID,"?)([^,"\r\n]*)', re.MULTILINE)
_CS_FIELD = re.compile(rb",CS,([0-9A-Fa-f]{2})")


def strip_patient_ids(data: bytes) -> bytes:
    """``data`` (whole lines) with every ``ID`` value replaced by as many zeros.

    The ``CS`` byte is moved by exactly the change of the byte sum, so a line that was valid
    stays valid (and reads the same) and a broken one stays broken.
    """
    out = []
    for line in data.split(b"\n"):
        stripped = _ID_VALUE.sub(lambda m: m.group(1) + b"0" * len(m.group(2)), line)
        delta = sum(stripped) - sum(line)
        cs = _CS_FIELD.search(stripped)
        if delta and cs is not None and stripped.find(b"ID,") < cs.start():
            value = (int(cs.group(1), 16) + delta) & 0xFF
            stripped = stripped[: cs.start(1)] + b"%02X" % value + stripped[cs.end(1) :]
        out.append(stripped)
    return b"\n".join(out)
