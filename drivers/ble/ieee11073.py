"""IEEE 11073-20601 SFLOAT (16-bit) and FLOAT (32-bit) as used by the Bluetooth SIG GSS.

API: ``sfloat(raw)`` and ``float32(raw)`` take the little-endian *integer* (``uint16`` /
``uint32``) and return either a ``Decimal`` or a ``Special``. A finite value is
``Decimal(mantissa).scaleb(exponent)``, so it keeps the device's precision (0xF014 is
``Decimal("2.0")``, not ``2``). A special value is a ``Special`` member, never a number;
``Special.absent_reason`` is the FHIR ``data-absent-reason`` code the gateway sends:

==========  ============  ==================  ======================
SFLOAT raw  FLOAT raw     meaning             ``absent_reason``
==========  ============  ==================  ======================
0x07FF      0x007FFFFF    NaN                 ``not-a-number``
0x0800      0x00800000    NRes                ``error``
0x07FE      0x007FFFFE    +INFINITY           ``positive-infinity``
0x0802      0x00800002    -INFINITY           ``negative-infinity``
0x0801      0x00800001    reserved            ``error``
==========  ============  ==================  ======================

Layout (reference ble-gatt-health.md §1.1/§1.2, IEEE 11073-20601 Annex F.6/F.7): SFLOAT is a
signed 4-bit exponent (two's complement, -8..7) over a signed 12-bit mantissa; FLOAT a signed
8-bit exponent over a signed 24-bit mantissa. The special values are whole raw values with
exponent 0; the same mantissa under another exponent is an ordinary number.
``split(value)`` turns a result into ``(Decimal | None, absent_reason | None)``.
"""

from __future__ import annotations

from decimal import Decimal
from enum import Enum


class Special(Enum):
    """An IEEE 11073 special value; ``value`` is the FHIR data-absent-reason code."""

    NAN = "not-a-number"
    NRES = "error"
    POSITIVE_INFINITY = "positive-infinity"
    NEGATIVE_INFINITY = "negative-infinity"
    RESERVED = "reserved"

    @property
    def absent_reason(self) -> str:
        # NRes ("not at this resolution") and the reserved value have no FHIR code of their
        # own; both say "the device gave no usable number", which is FHIR's "error".
        return "error" if self in (Special.NRES, Special.RESERVED) else self.value


_SFLOAT_SPECIAL = {
    0x07FF: Special.NAN,
    0x0800: Special.NRES,
    0x07FE: Special.POSITIVE_INFINITY,
    0x0802: Special.NEGATIVE_INFINITY,
    0x0801: Special.RESERVED,
}

_FLOAT_SPECIAL = {
    0x007FFFFF: Special.NAN,
    0x00800000: Special.NRES,
    0x007FFFFE: Special.POSITIVE_INFINITY,
    0x00800002: Special.NEGATIVE_INFINITY,
    0x00800001: Special.RESERVED,
}


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value & (1 << (bits - 1)) else value


def sfloat(raw: int) -> Decimal | Special:
    """Decode a 16-bit SFLOAT given as its unsigned integer value (0..0xFFFF)."""
    if not 0 <= raw <= 0xFFFF:
        raise ValueError(f"SFLOAT raw value out of range: {raw:#x}")
    special = _SFLOAT_SPECIAL.get(raw)
    if special is not None:
        return special
    exponent = _signed(raw >> 12, 4)
    mantissa = _signed(raw & 0x0FFF, 12)
    return Decimal(mantissa).scaleb(exponent)


def float32(raw: int) -> Decimal | Special:
    """Decode a 32-bit FLOAT given as its unsigned integer value (0..0xFFFFFFFF)."""
    if not 0 <= raw <= 0xFFFFFFFF:
        raise ValueError(f"FLOAT raw value out of range: {raw:#x}")
    special = _FLOAT_SPECIAL.get(raw)
    if special is not None:
        return special
    exponent = _signed(raw >> 24, 8)
    mantissa = _signed(raw & 0x00FFFFFF, 24)
    return Decimal(mantissa).scaleb(exponent)


def split(value: Decimal | Special) -> tuple[Decimal | None, str | None]:
    """``(number, None)`` for a finite value, ``(None, absent_reason)`` for a special one."""
    if isinstance(value, Special):
        return None, value.absent_reason
    return value, None
