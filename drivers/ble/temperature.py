"""Temperature Measurement 0x2A1C, Intermediate Temperature 0x2A1E, Temperature Type 0x2A1D.

Layout (HTS v1.0, GSS "Temperature Measurement"; reference ble-gatt-health.md §3.1):
Flags uint8 (bit 0 Fahrenheit, 1 Time Stamp, 2 Temperature Type, 3-7 reserved) | Temperature
(FLOAT) | Time Stamp (Date Time, 7) | Temperature Type (uint8). 0x2A1E has the same format.

Temperature Type (GSS "Temperature Type"; reference §3.2): 1 armpit, 2 body (general), 3 ear,
4 finger, 5 gastro-intestinal tract, 6 mouth, 7 rectum, 8 toe, 9 tympanum; 0 and 10-255 are
reserved and refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from drivers.ble._reader import Reader
from drivers.ble.decoded import Decoded
from drivers.errors import DecodeError
from drivers.measurements import Temperature

FLAG_FAHRENHEIT = 0x01
FLAG_TIME_STAMP = 0x02
FLAG_TEMPERATURE_TYPE = 0x04
_FLAGS_ALLOWED = 0x07

TEMPERATURE_TYPES: dict[int, str] = {
    1: "armpit",
    2: "body",
    3: "ear",
    4: "finger",
    5: "gastro-intestinal tract",
    6: "mouth",
    7: "rectum",
    8: "toe",
    9: "tympanum",
}


@dataclass(frozen=True)
class TemperatureType:
    """0x2A1D: the fixed measurement site of a thermometer."""

    code: int
    raw: bytes = field(default=b"", compare=False, repr=False)

    @property
    def site(self) -> str:
        return TEMPERATURE_TYPES[self.code]


def _check_type(name: str, code: int) -> int:
    if code not in TEMPERATURE_TYPES:
        raise DecodeError(f"{name} temperature_type: {code} is reserved (defined: 1..9)")
    return code


def _decode(name: str, data: bytes) -> Decoded:
    r = Reader(name, data)
    flags = r.flags("flags", 1, _FLAGS_ALLOWED)
    temperature = r.float32("temperature")
    timestamp = r.date_time("timestamp") if flags & FLAG_TIME_STAMP else None
    temperature_type = (
        _check_type(name, r.u8("temperature_type")) if flags & FLAG_TEMPERATURE_TYPE else None
    )
    r.end()
    value = Temperature(
        temperature=temperature,
        unit="[degF]" if flags & FLAG_FAHRENHEIT else "Cel",
        timestamp=timestamp,
        temperature_type=temperature_type,
        raw=data,
    )
    return Decoded.of(value, r.absent)


def decode_measurement(data: bytes) -> Decoded:
    return _decode("2A1C", data)


def decode_intermediate(data: bytes) -> Decoded:
    return _decode("2A1E", data)


def decode_type(data: bytes) -> Decoded:
    if len(data) != 1:
        raise DecodeError(f"2A1D length: Temperature Type is 1 byte, got {len(data)}")
    return Decoded.of(TemperatureType(_check_type("2A1D", data[0]), raw=data))
