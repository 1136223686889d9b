"""A bounds-checked little-endian cursor over one characteristic value.

Every read names its field, so a short or malformed value raises ``DecodeError`` with a
message like ``"2A35 pulse_rate: needs 2 bytes at offset 14, 1 left"``. Special IEEE 11073
values are recorded in ``absent`` (field -> FHIR data-absent-reason) and returned as None.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from drivers.ble import ieee11073
from drivers.ble.date_time import parse_date_time
from drivers.errors import DecodeError


class Reader:
    def __init__(self, name: str, data: bytes) -> None:
        self.name = name
        self.data = data
        self.offset = 0
        self.absent: dict[str, str] = {}

    def error(self, field: str, message: str) -> DecodeError:
        return DecodeError(f"{self.name} {field}: {message}")

    def take(self, field: str, size: int) -> bytes:
        left = len(self.data) - self.offset
        if left < size:
            raise self.error(
                field, f"needs {size} byte{'s' if size > 1 else ''} at offset {self.offset}, "
                f"{left} left (value is {len(self.data)} bytes)"
            )
        chunk = self.data[self.offset:self.offset + size]
        self.offset += size
        return chunk

    def uint(self, field: str, size: int, *, big_endian: bool = False) -> int:
        return int.from_bytes(self.take(field, size), "big" if big_endian else "little")

    def u8(self, field: str) -> int:
        return self.uint(field, 1)

    def u16(self, field: str, *, big_endian: bool = False) -> int:
        return self.uint(field, 2, big_endian=big_endian)

    def u24(self, field: str) -> int:
        return self.uint(field, 3)

    def u32(self, field: str) -> int:
        return self.uint(field, 4)

    def sfloat(self, field: str, *, big_endian: bool = False) -> Decimal | None:
        value, reason = ieee11073.split(ieee11073.sfloat(self.u16(field, big_endian=big_endian)))
        if reason is not None:
            self.absent[field] = reason
        return value

    def float32(self, field: str) -> Decimal | None:
        value, reason = ieee11073.split(ieee11073.float32(self.u32(field)))
        if reason is not None:
            self.absent[field] = reason
        return value

    def flags(self, field: str, size: int, allowed: int) -> int:
        """Read a flags field; any bit outside ``allowed`` is reserved and refused."""
        value = self.uint(field, size)
        reserved = value & ~allowed
        if reserved:
            raise self.error(field, f"reserved bits set ({reserved:#x} in {value:#x})")
        return value

    def date_time(self, field: str) -> datetime | None:
        return parse_date_time(self.take(field, 7), f"{self.name} {field}").timestamp

    def left(self) -> int:
        return len(self.data) - self.offset

    def end(self) -> None:
        left = self.left()
        if left:
            raise self.error(
                "length", f"{left} trailing byte{'s' if left > 1 else ''} at offset "
                f"{self.offset} ({self.data[self.offset:].hex(' ')})"
            )
