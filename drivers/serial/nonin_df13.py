"""Nonin data format #13: SmartPoint spot-check records (incremental, sans-IO).

Source: Nonin Onyx II 9560 OEM Specification (6470-000-01 rev A, 2008; PDF in
github:mattjlewis/NoninPulseOx), "Data Format 13" pp.5-7. One record per spot check:

    00 02 00 0D LL LL | 20 YY MM DD hh mm ss 00 STAT-MSB STAT-LSB HR-MSB HR-LSB RES SpO2 ...
    | CHK 03

- header: NULL, STX, packet type 0x000D, data length (>= 0x000E; the data part may grow);
- date and time in BCD (century byte "20" by default, then year ... second, fraction 00);
- STATUS MSB bit 1 SPA (high-quality SmartPoint), bit 0 NOMS (no measurement);
  STATUS LSB bit 4 MEM (sent from memory), bit 0 LOW BAT;
- HR MSB bit 0 = HR8, HR LSB = HR7..HR0; SpO2 bits 0-6; missing data HR 511, SpO2 127;
- CHK = low byte of the sum of the spot-check data bytes; ETX 0x03.

Stored records (MEM) are forwarded oldest first when the link returns, so ``timestamp``
(the device clock) is what dates a reading, not the time of arrival.
"""

from __future__ import annotations

from datetime import datetime

from drivers.measurements import PulseOximetry

_HEADER = bytes([0x00, 0x02, 0x00, 0x0D])
_ETX = 0x03
MIN_DATA_LENGTH = 14
# The spec sets no upper bound; a length beyond this is taken for a corrupted header so
# that a bad length cannot stall the parser on garbage for long.
MAX_DATA_LENGTH = 255

_SPA = 0x02  # STATUS MSB
_NOMS = 0x01  # STATUS MSB
_LOW_BAT = 0x01  # STATUS LSB

MISSING_HR = 511
MISSING_SPO2 = 127


def _bcd(byte: int) -> int | None:
    high, low = byte >> 4, byte & 0x0F
    if high > 9 or low > 9:
        return None
    return high * 10 + low


def _timestamp(data: bytes) -> datetime | None:
    """BCD century, year, month, day, hour, minute, second (data bytes 0-6); None if no date."""
    fields = [_bcd(b) for b in data[:7]]
    if any(f is None for f in fields):
        return None
    century, year, month, day, hour, minute, second = fields  # type: ignore[misc]
    try:
        return datetime(century * 100 + year, month, day, hour, minute, second)
    except ValueError:
        return None


class NoninDF13Parser:
    """Incremental DF #13 parser: one ``PulseOximetry`` per spot-check record.

    Bytes outside a valid record (bad header, length, checksum or ETX) are skipped and
    counted in ``errors``, one per run of skipped bytes; the search for the next header
    restarts one byte after the start of a rejected record.
    """

    def __init__(self) -> None:
        self.errors = 0
        self._buf = bytearray()
        self._dropping = False

    def _drop(self) -> None:
        if not self._dropping:
            self.errors += 1
            self._dropping = True

    def feed(self, data: bytes) -> list[PulseOximetry]:
        out: list[PulseOximetry] = []
        for byte in data:
            self._buf.append(byte)
            self._scan(out)
        return out

    def _prefix_ok(self) -> bool:
        """Whether the buffer so far can still be the start of a record."""
        n = min(len(self._buf), len(_HEADER))
        if self._buf[:n] != _HEADER[:n]:
            return False
        if len(self._buf) >= 6:
            length = (self._buf[4] << 8) | self._buf[5]
            if not MIN_DATA_LENGTH <= length <= MAX_DATA_LENGTH:
                return False
        return True

    def _scan(self, out: list[PulseOximetry]) -> None:
        # Loop because a rejected record may hide the start of the next one in its bytes.
        while self._buf:
            if not self._prefix_ok():
                del self._buf[0]
                self._drop()
                continue
            if len(self._buf) < 6:
                return
            length = (self._buf[4] << 8) | self._buf[5]
            total = 6 + length + 2
            if len(self._buf) < total:
                return
            record = bytes(self._buf[:total])
            payload = record[6 : 6 + length]
            if sum(payload) & 0xFF != record[-2] or record[-1] != _ETX:
                del self._buf[0]
                self._drop()
                continue
            del self._buf[:total]
            self._dropping = False
            out.append(_decode(payload, record))


def _decode(data: bytes, record: bytes) -> PulseOximetry:
    status_msb, status_lsb, hr_msb, hr_lsb, _reserved, spo2_byte = data[8:14]
    flags: set[str] = set()
    if status_msb & _SPA:
        flags.add("smart_point")
    if status_msb & _NOMS:
        flags.add("measurement_unsuccessful")
    if status_lsb & _LOW_BAT:
        flags.add("low_battery")
    rate: int | None = ((hr_msb & 0x01) << 8) | hr_lsb
    saturation: int | None = spo2_byte & 0x7F
    if rate == MISSING_HR or status_msb & _NOMS:
        rate = None
    if saturation == MISSING_SPO2 or saturation > 100 or status_msb & _NOMS:
        saturation = None
    return PulseOximetry(
        spo2=saturation,
        pulse_rate=rate,
        timestamp=_timestamp(data),
        flags=frozenset(flags),
        raw=record,
    )


PROTOCOLS: dict[str, type] = {"nonin-df13": NoninDF13Parser}
# Verification level (drivers/plugins.py LEVELS): the 9560 spec's example record.
VERIFICATION = {"nonin-df13": "published examples"}
