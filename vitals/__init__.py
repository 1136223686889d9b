"""The RoomVitals contract: measurement kinds and codes, units, flags, topics, messages."""

from vitals.flags import FLAGS, check_flags
from vitals.kinds import KINDS, Kind, kind
from vitals.message import (
    DeviceInfo,
    MessageError,
    Observation,
    Reading,
    decode_reading,
    encode_reading,
    new_reading_id,
    record_reading_id,
)

__all__ = [
    "FLAGS",
    "KINDS",
    "DeviceInfo",
    "Kind",
    "MessageError",
    "Observation",
    "Reading",
    "check_flags",
    "decode_reading",
    "encode_reading",
    "kind",
    "new_reading_id",
    "record_reading_id",
]
