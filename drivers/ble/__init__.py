"""Pure decoders for the Bluetooth SIG health-profile characteristics (DESIGN.md).

``decode(uuid, data, *, quirks=frozenset())`` returns a frozen dataclass or raises
``drivers.DecodeError`` whose message starts with the characteristic and names the field that
failed (``"2A35 pulse_rate: needs 2 bytes at offset 14, 1 left ..."``). ``uuid`` may be
``"2A35"``, ``"0x2a35"``, ``0x2A35`` or ``"00002a35-0000-1000-8000-00805f9b34fb"``.

=======  ==================================  ==============================================
UUID     characteristic                      result
=======  ==================================  ==============================================
2A35     Blood Pressure Measurement          ``drivers.measurements.BloodPressure``
2A36     Intermediate Cuff Pressure          ``BloodPressure`` (cuff pressure in systolic)
2A49     Blood Pressure Feature              ``features.BloodPressureFeature``
2A1C     Temperature Measurement             ``drivers.measurements.Temperature``
2A1E     Intermediate Temperature            ``Temperature``
2A1D     Temperature Type                    ``temperature.TemperatureType``
2A9D     Weight Measurement                  ``drivers.measurements.Weight``
2A9E     Weight Scale Feature                ``features.WeightScaleFeature``
2A5E     PLX Spot-Check Measurement          ``drivers.measurements.PulseOximetry``
2A5F     PLX Continuous Measurement          ``PulseOximetry`` (Normal pair)
2A60     PLX Features                        ``features.PlxFeatures``
2A37     Heart Rate Measurement              ``drivers.measurements.HeartRate``
2A08     Date Time                           ``date_time.DateTime``
2A2B     Current Time                        ``date_time.CurrentTime``
2A52     Record Access Control Point         ``racp.RacpResponse`` (responses only)
=======  ==================================  ==============================================

An IEEE 11073 special value decodes to None; ``decode_detailed`` returns the same value plus
``absent_reasons`` (field -> FHIR data-absent-reason) and ``extra`` (fields the shared types
lack, e.g. PLX SpO2PR-Fast/-Slow). Known device deviations are decoded only with an explicit
quirk (``drivers.ble.quirks``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from drivers.ble import blood_pressure, date_time, features, heart_rate, plx, racp, temperature
from drivers.ble import weight as weight_scale
from drivers.ble.date_time import CurrentTime, DateTime
from drivers.ble.decoded import Decoded
from drivers.ble.features import BloodPressureFeature, PlxFeatures, WeightScaleFeature
from drivers.ble.quirks import check_quirks, quirks_for_model
from drivers.ble.racp import RacpResponse
from drivers.ble.temperature import TemperatureType
from drivers.errors import DecodeError

_Decoder = Callable[[bytes, frozenset[str]], Decoded]


def _plain(fn: Callable[[bytes], Decoded]) -> _Decoder:
    return lambda data, _quirks: fn(data)


def _bare(fn: Callable[[bytes], object]) -> _Decoder:
    return lambda data, _quirks: Decoded.of(fn(data))


DECODERS: dict[int, _Decoder] = {
    0x2A35: blood_pressure.decode_measurement,
    0x2A36: blood_pressure.decode_intermediate_cuff_pressure,
    0x2A49: _plain(features.decode_blood_pressure_feature),
    0x2A1C: _plain(temperature.decode_measurement),
    0x2A1E: _plain(temperature.decode_intermediate),
    0x2A1D: _plain(temperature.decode_type),
    0x2A9D: _plain(weight_scale.decode_measurement),
    0x2A9E: _plain(features.decode_weight_scale_feature),
    0x2A5E: _plain(plx.decode_spot_check),
    0x2A5F: _plain(plx.decode_continuous),
    0x2A60: _plain(features.decode_plx_features),
    0x2A37: _plain(heart_rate.decode_measurement),
    0x2A08: _bare(date_time.decode_date_time),
    0x2A2B: _bare(date_time.decode_current_time),
    0x2A52: _plain(racp.decode_response),
}

_SIG_BASE = re.compile(r"^0000([0-9a-f]{4})-0000-1000-8000-00805f9b34fb$")
_SHORT = re.compile(r"^(?:0x)?([0-9a-f]{4})$")


def short_uuid(uuid: str | int) -> int:
    """The 16-bit SIG UUID of ``uuid``; DecodeError when it is not one."""
    if isinstance(uuid, bool) or not isinstance(uuid, (str, int)):
        raise DecodeError(f"uuid: expected str or int, got {type(uuid).__name__}")
    if isinstance(uuid, int):
        if not 0 <= uuid <= 0xFFFF:
            raise DecodeError(f"uuid: {uuid:#x} is not a 16-bit SIG UUID")
        return uuid
    text = uuid.strip().lower()
    match = _SHORT.match(text) or _SIG_BASE.match(text)
    if match is None:
        raise DecodeError(f"uuid: {uuid!r} is not a Bluetooth SIG 16-bit or base UUID")
    return int(match.group(1), 16)


def decode_detailed(
    uuid: str | int, data: bytes | bytearray | memoryview, *,
    quirks: frozenset[str] | set[str] | tuple[str, ...] = frozenset(),
) -> Decoded:
    """Like ``decode`` but also returns absent reasons and extra fields."""
    code = short_uuid(uuid)
    decoder = DECODERS.get(code)
    if decoder is None:
        raise DecodeError(f"uuid: characteristic {code:04X} is not supported")
    return decoder(bytes(data), check_quirks(quirks))


def decode(
    uuid: str | int, data: bytes | bytearray | memoryview, *,
    quirks: frozenset[str] | set[str] | tuple[str, ...] = frozenset(),
) -> Any:
    """Decode one characteristic value (see the module docstring for the table)."""
    return decode_detailed(uuid, data, quirks=quirks).value


__all__ = [
    "DECODERS", "BloodPressureFeature", "CurrentTime", "DateTime", "DecodeError", "Decoded",
    "PlxFeatures", "RacpResponse", "TemperatureType", "WeightScaleFeature", "decode",
    "decode_detailed", "quirks_for_model", "short_uuid",
]
