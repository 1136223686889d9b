"""Feature characteristics: Blood Pressure Feature 0x2A49, Weight Scale Feature 0x2A9E,
PLX Features 0x2A60. Read once per connection; they say which status bits mean anything.

Reserved feature bits and reserved resolution codes raise ``DecodeError`` like reserved flag
bits do. The PLX *support masks* use the status bit maps and keep reserved bits raw, as the
status fields themselves do (``drivers.ble.plx``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from drivers.ble._reader import Reader
from drivers.ble.decoded import Decoded


def _bit(mask: int, attr: str = "bits") -> property:
    """A read-only bool property: is ``mask`` set in the integer attribute ``attr``?"""

    def get(self: object) -> bool:
        return bool(getattr(self, attr) & mask)

    return property(get)


@dataclass(frozen=True)
class BloodPressureFeature:
    """0x2A49 uint16 (BLS v1.1.1, GSS "Blood Pressure Feature"; reference §2.3)."""

    bits: int
    raw: bytes = field(default=b"", compare=False, repr=False)

    body_movement_detection = _bit(0x0001)
    cuff_fit_detection = _bit(0x0002)
    irregular_pulse_detection = _bit(0x0004)
    pulse_rate_range_detection = _bit(0x0008)
    measurement_position_detection = _bit(0x0010)
    multiple_bonds = _bit(0x0020)
    e2e_crc = _bit(0x0040)
    user_data_service = _bit(0x0080)
    user_facing_time = _bit(0x0100)


# Weight Scale Feature resolution codes (WSS v1.0, GSS "Weight Scale Feature"; reference §4.2):
# code -> (SI, imperial).
WEIGHT_RESOLUTIONS: dict[int, tuple[Decimal, Decimal]] = {
    1: (Decimal("0.5"), Decimal("1")),
    2: (Decimal("0.2"), Decimal("0.5")),
    3: (Decimal("0.1"), Decimal("0.2")),
    4: (Decimal("0.05"), Decimal("0.1")),
    5: (Decimal("0.02"), Decimal("0.05")),
    6: (Decimal("0.01"), Decimal("0.02")),
    7: (Decimal("0.005"), Decimal("0.01")),
}
HEIGHT_RESOLUTIONS: dict[int, tuple[Decimal, Decimal]] = {
    1: (Decimal("0.01"), Decimal("1")),
    2: (Decimal("0.005"), Decimal("0.5")),
    3: (Decimal("0.001"), Decimal("0.1")),
}


@dataclass(frozen=True)
class WeightScaleFeature:
    """0x2A9E uint32: bit 0 time stamp, 1 multiple users, 2 BMI, 3-6 weight resolution code,
    7-9 height resolution code, 10-31 reserved (GSS "Weight Scale Feature"; reference §4.2)."""

    bits: int
    raw: bytes = field(default=b"", compare=False, repr=False)

    time_stamp_supported = _bit(0x01)
    multiple_users_supported = _bit(0x02)
    bmi_supported = _bit(0x04)

    @property
    def weight_resolution_code(self) -> int:
        return (self.bits >> 3) & 0x0F

    @property
    def height_resolution_code(self) -> int:
        return (self.bits >> 7) & 0x07

    def weight_resolution(self, imperial: bool = False) -> Decimal | None:
        """kg (or lb) per step the scale resolves; None when not specified (code 0)."""
        pair = WEIGHT_RESOLUTIONS.get(self.weight_resolution_code)
        return None if pair is None else pair[imperial]

    def height_resolution(self, imperial: bool = False) -> Decimal | None:
        """m (or in) per step; None when not specified (code 0)."""
        pair = HEIGHT_RESOLUTIONS.get(self.height_resolution_code)
        return None if pair is None else pair[imperial]


@dataclass(frozen=True)
class PlxFeatures:
    """0x2A60 (PLXS v1.0.1, GSS "PLX Features"; reference §5.5). Absent support masks: None."""

    supported_features: int
    measurement_status_support: int | None = None
    device_and_sensor_status_support: int | None = None
    raw: bytes = field(default=b"", compare=False, repr=False)

    measurement_storage = _bit(0x04, "supported_features")
    timestamp_supported = _bit(0x08, "supported_features")
    spo2pr_fast = _bit(0x10, "supported_features")
    spo2pr_slow = _bit(0x20, "supported_features")
    pulse_amplitude_index = _bit(0x40, "supported_features")
    multiple_bonds = _bit(0x80, "supported_features")


def decode_blood_pressure_feature(data: bytes) -> Decoded:
    r = Reader("2A49", data)
    bits = r.flags("feature", 2, 0x01FF)
    r.end()
    return Decoded.of(BloodPressureFeature(bits, raw=data))


def decode_weight_scale_feature(data: bytes) -> Decoded:
    r = Reader("2A9E", data)
    bits = r.flags("feature", 4, 0x03FF)
    r.end()
    value = WeightScaleFeature(bits, raw=data)
    if value.weight_resolution_code > 7:
        raise r.error(
            "weight_resolution", f"code {value.weight_resolution_code} is reserved (0..7)"
        )
    if value.height_resolution_code > 3:
        raise r.error(
            "height_resolution", f"code {value.height_resolution_code} is reserved (0..3)"
        )
    return Decoded.of(value)


def decode_plx_features(data: bytes) -> Decoded:
    r = Reader("2A60", data)
    supported = r.flags("supported_features", 2, 0x00FF)
    status = r.u16("measurement_status_support") if supported & 0x01 else None
    device = r.u24("device_and_sensor_status_support") if supported & 0x02 else None
    r.end()
    return Decoded.of(PlxFeatures(supported, status, device, raw=data))
