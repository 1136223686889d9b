"""Weight Measurement 0x2A9D.

Layout (WSS v1.0, GSS "Weight Measurement"; reference ble-gatt-health.md §4.1): Flags
uint8 (bit 0 imperial, 1 Time Stamp, 2 User ID, 3 BMI and Height, 4-7 reserved) | Weight uint16
| Time Stamp (Date Time, 7) | User ID uint8 (255 = unknown user) | BMI uint16 | Height uint16.

Resolutions are fixed by the flags, not by the Weight Scale Feature (GSS: "in kilograms with
resolution 0.005 if bit 0 of the Flag field is 0 or in pounds with a resolution of 0.01"; SIG
XML; openScale and BLESSED agree; reference §4.1): weight 0.005 kg / 0.01 lb, BMI 0.1 kg/m2,
height 0.001 m / 0.1 in. The feature's resolution code only states how precise the scale is
(``WeightScaleFeature.weight_resolution``). Values are exact ``Decimal`` products
(14000 -> ``Decimal("70.000")`` kg).

Weight 0xFFFF means "Measurement Unsuccessful": ``weight`` is None, the flag
``measurement_unsuccessful`` is set, and the data-absent-reason is ``error``. WSS then requires
every optional field other than Time Stamp and User ID to be absent, so BMI/Height with 0xFFFF
raises.
"""

from __future__ import annotations

from decimal import Decimal

from drivers.ble._reader import Reader
from drivers.ble.decoded import Decoded
from drivers.measurements import Weight

FLAG_IMPERIAL = 0x01
FLAG_TIME_STAMP = 0x02
FLAG_USER_ID = 0x04
FLAG_BMI_HEIGHT = 0x08
_FLAGS_ALLOWED = 0x0F

WEIGHT_UNSUCCESSFUL = 0xFFFF

_KG = Decimal("0.005")
_LB = Decimal("0.01")
_BMI = Decimal("0.1")
_M = Decimal("0.001")
_IN = Decimal("0.1")


def decode_measurement(data: bytes) -> Decoded:
    r = Reader("2A9D", data)
    flags = r.flags("flags", 1, _FLAGS_ALLOWED)
    imperial = bool(flags & FLAG_IMPERIAL)
    raw_weight = r.u16("weight")
    timestamp = r.date_time("timestamp") if flags & FLAG_TIME_STAMP else None
    user_id = r.u8("user_id") if flags & FLAG_USER_ID else None
    bmi = height = None
    if flags & FLAG_BMI_HEIGHT:
        if raw_weight == WEIGHT_UNSUCCESSFUL:
            raise r.error(
                "bmi", "BMI and Height must be absent when weight is 0xFFFF "
                "(measurement unsuccessful)"
            )
        bmi = r.u16("bmi") * _BMI
        height = r.u16("height") * (_IN if imperial else _M)
    r.end()
    absent: dict[str, str] = {}
    flag_names: frozenset[str] = frozenset()
    if raw_weight == WEIGHT_UNSUCCESSFUL:
        weight = None
        absent["weight"] = "error"
        flag_names = frozenset({"measurement_unsuccessful"})
    else:
        weight = raw_weight * (_LB if imperial else _KG)
    value = Weight(
        weight=weight,
        unit="[lb_av]" if imperial else "kg",
        timestamp=timestamp,
        user_id=user_id,
        bmi=bmi,
        height=height,
        height_unit=None if height is None else ("[in_i]" if imperial else "m"),
        flags=flag_names,
        raw=data,
    )
    return Decoded.of(value, absent)
