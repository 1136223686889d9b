"""Host commands of the Nonin Onyx II 9560 and a parser for its replies (bytes only, no I/O).

Source: *Onyx II Model 9560 Bluetooth Fingertip Oximeter OEM Specification and Technical
Information* (Nonin 6470-000-01 rev A, 2008; committed as "Nonin 9560 Bluetooth
Specification.pdf" in github:mattjlewis/NoninPulseOx), pages 4-5:

- set data format: ``02 70 02 02 ZZ 03``, ZZ one of 0x0D, 0x08, 0x07, 0x02; the oximeter answers
  ACK 0x06 (supported) or NAK 0x15 (unsupported), only within ~5 s of the connection;
- set time: ``02 72 06 YY MM DD hh mm ss 03`` with binary (not BCD) values, year 00-99; no reply;
- get time: ``02 72 00 03``; reply ``02 F2 06 YY MM DD hh mm ss 03``.

The data-format parsers live in ``nonin_binary`` (DF2/DF7/DF8), ``nonin_df13`` and
``nonin_ascii``; this module holds only the command side of the link.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

STX = 0x02
ETX = 0x03
ACK = 0x06
NAK = 0x15

_OP_SET_FORMAT = 0x70
_OP_TIME = 0x72
_OP_TIME_REPLY = 0xF2

# Data formats the 9560 accepts in the set-format command (spec p.4).
DATA_FORMATS: frozenset[int] = frozenset({2, 7, 8, 13})

GET_TIME_COMMAND = bytes([STX, _OP_TIME, 0x00, ETX])


def set_format_command(data_format: int) -> bytes:
    """The 6-byte command that selects data format 2, 7, 8 or 13 (spec p.4)."""
    if data_format not in DATA_FORMATS:
        raise ValueError(f"Nonin data format must be one of {sorted(DATA_FORMATS)}")
    return bytes([STX, _OP_SET_FORMAT, 0x02, 0x02, data_format, ETX])


def set_time_command(when: datetime) -> bytes:
    """The 10-byte set-time command (spec p.4); the device keeps a 2-digit year (2000-2099)."""
    if not 2000 <= when.year <= 2099:
        raise ValueError("the Nonin 9560 clock holds years 2000-2099 only")
    return bytes(
        [
            STX,
            _OP_TIME,
            0x06,
            when.year - 2000,
            when.month,
            when.day,
            when.hour,
            when.minute,
            when.second,
            ETX,
        ]
    )


@dataclass(frozen=True)
class Ack:
    """0x06: the oximeter accepted the command."""

    raw: bytes = field(default=bytes([ACK]), compare=False, repr=False)


@dataclass(frozen=True)
class Nak:
    """0x15: the oximeter refused the command."""

    raw: bytes = field(default=bytes([NAK]), compare=False, repr=False)


@dataclass(frozen=True)
class DeviceTime:
    """The reply to ``GET_TIME_COMMAND``; ``timestamp`` is None when the fields are no date."""

    timestamp: datetime | None
    raw: bytes = field(default=b"", compare=False, repr=False)


Reply = Ack | Nak | DeviceTime

_TIME_REPLY_LENGTH = 10


class NoninReplyParser:
    """Incremental parser of what the 9560 sends back to host commands.

    Bytes that are neither ACK, NAK nor a complete get-time reply are skipped and counted in
    ``errors`` (one per run of skipped bytes), never raised.
    """

    def __init__(self) -> None:
        self.errors = 0
        self._frame = bytearray()
        self._dropping = False

    def feed(self, data: bytes) -> list[Reply]:
        out: list[Reply] = []
        for byte in data:
            reply = self._byte(byte)
            if reply is not None:
                out.append(reply)
        return out

    def _drop(self) -> None:
        if not self._dropping:
            self.errors += 1
            self._dropping = True

    def _byte(self, byte: int) -> Reply | None:
        if self._frame:
            self._frame.append(byte)
            expected_prefix = (STX, _OP_TIME_REPLY, 0x06)
            n = len(self._frame)
            if n <= 3 and self._frame[n - 1] != expected_prefix[n - 1]:
                self._frame.clear()
                self._drop()
                return None
            if n < _TIME_REPLY_LENGTH:
                return None
            frame = bytes(self._frame)
            self._frame.clear()
            if frame[-1] != ETX:
                self._drop()
                return None
            self._dropping = False
            return DeviceTime(_binary_datetime(frame[3:9]), raw=frame)
        if byte == ACK:
            self._dropping = False
            return Ack()
        if byte == NAK:
            self._dropping = False
            return Nak()
        if byte == STX:
            self._frame.append(byte)
            return None
        self._drop()
        return None


def _binary_datetime(fields: bytes) -> datetime | None:
    year, month, day, hour, minute, second = fields
    if year > 99:
        return None
    try:
        return datetime(2000 + year, month, day, hour, minute, second)
    except ValueError:
        return None
