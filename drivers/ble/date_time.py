"""Date Time (0x2A08) and Current Time (0x2A2B).

Date Time, 7 bytes (GSS "Date Time"; reference ble-gatt-health.md §1.3): uint16 year
(1582..9999, 0 = not known), uint8 month (1..12, 0 = not known), uint8 day (1..31, 0 = not
known), hours 0..23, minutes 0..59, seconds 0..59. No time zone: the device's local clock.
``timestamp`` is a naive ``datetime`` or None when year, month or day is 0 (a partial date is no
point in time). A value outside those ranges, or a day that does not exist (Feb 30), raises
``DecodeError``.

Current Time, 10 bytes (CTS, GSS "Current Time"; reference §7): Exact Time 256 (Date Time, Day
of Week uint8 0 = unknown / 1 = Monday .. 7 = Sunday, Fractions256 uint8) + Adjust Reason
(uint8; bit 0 manual time update, 1 external reference time update, 2 change of time zone, 3
change of DST, 4-7 reserved).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from drivers.errors import DecodeError


@dataclass(frozen=True)
class DateTime:
    """A decoded Date Time exactly as the device sent it (0 = not known)."""

    year: int
    month: int
    day: int
    hours: int
    minutes: int
    seconds: int
    raw: bytes = field(default=b"", compare=False, repr=False)

    @property
    def timestamp(self) -> datetime | None:
        if not (self.year and self.month and self.day):
            return None
        return datetime(self.year, self.month, self.day, self.hours, self.minutes, self.seconds)


ADJUST_MANUAL_TIME_UPDATE = 0x01
ADJUST_EXTERNAL_REFERENCE_TIME_UPDATE = 0x02
ADJUST_CHANGE_OF_TIME_ZONE = 0x04
ADJUST_CHANGE_OF_DST = 0x08


@dataclass(frozen=True)
class CurrentTime:
    date_time: DateTime
    day_of_week: int  # 0 unknown, 1 Monday .. 7 Sunday
    fractions256: int  # 1/256 s
    adjust_reason: int  # raw bit field
    raw: bytes = field(default=b"", compare=False, repr=False)

    @property
    def timestamp(self) -> datetime | None:
        return self.date_time.timestamp

    @property
    def fraction(self) -> Decimal:
        """Fractions256 as seconds (exact: 1/256 has a finite decimal expansion)."""
        return Decimal(self.fractions256) / Decimal(256)


def _check(name: str, field_name: str, value: int, low: int, high: int, zero_ok: bool) -> None:
    if zero_ok and value == 0:
        return
    if not low <= value <= high:
        allowed = f"0 or {low}..{high}" if zero_ok else f"{low}..{high}"
        raise DecodeError(f"{name} {field_name}: {value} out of range {allowed}")


def parse_date_time(data: bytes, name: str = "2A08") -> DateTime:
    """Parse exactly 7 bytes of Date Time; ``name`` prefixes error messages."""
    if len(data) != 7:
        raise DecodeError(f"{name}: Date Time needs 7 bytes, got {len(data)}")
    year = int.from_bytes(data[0:2], "little")
    month, day, hours, minutes, seconds = data[2], data[3], data[4], data[5], data[6]
    _check(name, "year", year, 1582, 9999, zero_ok=True)
    _check(name, "month", month, 1, 12, zero_ok=True)
    _check(name, "day", day, 1, 31, zero_ok=True)
    _check(name, "hours", hours, 0, 23, zero_ok=False)
    _check(name, "minutes", minutes, 0, 59, zero_ok=False)
    _check(name, "seconds", seconds, 0, 59, zero_ok=False)
    value = DateTime(year, month, day, hours, minutes, seconds, raw=bytes(data))
    if year and month and day:
        try:
            datetime(year, month, day)
        except ValueError as exc:
            raise DecodeError(
                f"{name} day: {year:04d}-{month:02d}-{day:02d} does not exist"
            ) from exc
    return value


def decode_date_time(data: bytes) -> DateTime:
    return parse_date_time(data, "2A08 date_time")


def decode_current_time(data: bytes) -> CurrentTime:
    name = "2A2B"
    if len(data) != 10:
        raise DecodeError(f"{name} length: Current Time is 10 bytes, got {len(data)}")
    date_time = parse_date_time(data[0:7], f"{name} date_time")
    day_of_week, fractions256, adjust_reason = data[7], data[8], data[9]
    _check(name, "day_of_week", day_of_week, 1, 7, zero_ok=True)
    if adjust_reason & 0xF0:
        raise DecodeError(
            f"{name} adjust_reason: reserved bits set ({adjust_reason & 0xF0:#x} in "
            f"{adjust_reason:#x})"
        )
    return CurrentTime(date_time, day_of_week, fractions256, adjust_reason, raw=bytes(data))
