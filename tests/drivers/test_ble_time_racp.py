"""Date Time 0x2A08, Current Time 0x2A2B, Record Access Control Point 0x2A52 responses.

Published vectors:
- NordicSemiconductor/Android-BLE-Common-Library, ble-common/src/test/java/no/nordicsemi/android/
  ble/common/callback/DateTimeDataCallbackTest.java (`e2 07 04 11 0f 33 00` = 2018-04-17 15:51:00;
  `00 00 00 00 12 1a 20` date not known; empty and 6-byte values invalid).
- RonanB96/bluetooth-sig-python @ 38f1bf5, tests/gatt/characteristics/test_current_time.py
  (2025-01-15 14:30:45 Wed 33/256 manual; midnight Monday; 2025-12-31 23:59:59 Sun 255/256 reasons
  0x06; unknown date; years 1582 and 9999; month 13, day 32, hour 24, minute 60, second 60 and day
  of week 8 rejected). The first frame is also reference ble-gatt-health.md §7.
- NordicSemiconductor/Android-BLE-Common-Library, .../callback/
  RecordAccessControlPointDataCallbackTest.java (`06 00 01 01` ... `06 00 01 0a`, `05 00 02 01`,
  invalid `01 01`, `01 03 01 02 00`, `06 01 01`); reference §8 flow (`06 00 01 01`/`06 00 01 06`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from drivers import DecodeError
from drivers.ble import CurrentTime, DateTime, RacpResponse, decode

H = bytes.fromhex


# --- Date Time 0x2A08 -------------------------------------------------------------------------
def test_nordic_date_time() -> None:
    value = decode("2A08", bytes([0xE2, 0x07, 4, 17, 15, 51, 0]))
    assert value == DateTime(2018, 4, 17, 15, 51, 0)
    assert value.timestamp == datetime(2018, 4, 17, 15, 51, 0)


def test_nordic_date_not_known() -> None:
    value = decode("2A08", bytes([0, 0, 0, 0, 18, 26, 32]))
    assert (value.year, value.month, value.day) == (0, 0, 0)
    assert (value.hours, value.minutes, value.seconds) == (18, 26, 32)
    assert value.timestamp is None


@pytest.mark.parametrize("frame", [b"", bytes([0xE2, 0x07, 4, 17, 15, 51]),
                                   bytes([0xE2, 0x07, 4, 17, 15, 51, 0, 0])])
def test_nordic_bad_lengths(frame: bytes) -> None:
    with pytest.raises(DecodeError, match=r"2A08 date_time: Date Time needs 7 bytes"):
        decode("2A08", frame)


def test_partial_date_is_none() -> None:
    # reference §1.3: Nordic's "April 17, 20:41:59, year unknown".
    assert decode("2A08", H("00 00 04 11 14 29 3b")).timestamp is None
    assert decode("2A08", H("e2 07 00 11 14 29 3b")).timestamp is None
    assert decode("2A08", H("e2 07 04 00 14 29 3b")).timestamp is None


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        ("e2 07 02 1e 00 00 00", r"day: 2018-02-30 does not exist"),
        ("e4 07 02 1d 00 00 00", None),  # 2020-02-29 exists
        ("e2 07 02 1d 00 00 00", r"day: 2018-02-29 does not exist"),
        ("e2 07 04 1f 00 00 00", r"day: 2018-04-31 does not exist"),
        ("00 00 0d 01 00 00 00", r"month: 13 out of range 0 or 1..12"),  # even with year unknown
        ("00 00 00 00 18 00 00", r"hours: 24 out of range 0..23"),
    ],
)
def test_impossible_dates(frame: str, match: str | None) -> None:
    if match is None:
        assert decode("2A08", H(frame)).timestamp == datetime(2020, 2, 29)
    else:
        with pytest.raises(DecodeError, match=r"2A08 date_time " + match):
            decode("2A08", H(frame))


# --- Current Time 0x2A2B ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("frame", "stamp", "dow", "frac", "reason"),
    [
        ("e9 07 01 0f 0e 1e 2d 03 21 01", datetime(2025, 1, 15, 14, 30, 45), 3, 33, 0x01),
        ("e9 07 01 01 00 00 00 01 00 00", datetime(2025, 1, 1), 1, 0, 0),
        ("e9 07 0c 1f 17 3b 3b 07 ff 06", datetime(2025, 12, 31, 23, 59, 59), 7, 255, 0x06),
        ("2e 06 01 01 00 00 00 01 00 00", datetime(1582, 1, 1), 1, 0, 0),
        ("0f 27 0c 1f 17 3b 3b 07 ff 0f", datetime(9999, 12, 31, 23, 59, 59), 7, 255, 0x0F),
        ("00 00 00 00 0c 1e 00 01 00 00", None, 1, 0, 0),
    ],
)
def test_current_time_vectors(frame: str, stamp: datetime | None, dow: int, frac: int,
                              reason: int) -> None:
    value = decode("2A2B", H(frame))
    assert isinstance(value, CurrentTime)
    assert value.timestamp == stamp
    assert (value.day_of_week, value.fractions256, value.adjust_reason) == (dow, frac, reason)


def test_current_time_fraction_is_exact() -> None:
    assert decode("2A2B", H("e9 07 01 0f 0e 1e 2d 03 21 01")).fraction == Decimal("0.12890625")


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        ("10 27 01 01 00 00 00 01 00 00", r"2A2B date_time year: 10000 out of range"),
        ("e9 07 0d 01 00 00 00 01 00 00", r"2A2B date_time month: 13"),
        ("e9 07 01 20 00 00 00 01 00 00", r"2A2B date_time day: 32"),
        ("e9 07 01 01 18 00 00 01 00 00", r"2A2B date_time hours: 24"),
        ("e9 07 01 01 00 3c 00 01 00 00", r"2A2B date_time minutes: 60"),
        ("e9 07 01 01 00 00 3c 01 00 00", r"2A2B date_time seconds: 60"),
        ("e9 07 01 01 00 00 00 08 00 00", r"2A2B day_of_week: 8 out of range"),
        ("e9 07 01 01 00 00 00 01 00 10", r"2A2B adjust_reason: reserved bits set"),
        ("e9 07 01 01 00 00 00 01 00", r"2A2B length: Current Time is 10 bytes, got 9"),
    ],
)
def test_current_time_invalid(frame: str, match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        decode("2A2B", H(frame))


# --- RACP 0x2A52 ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("frame", "request_op", "code", "name", "succeeded"),
    [
        ([6, 0, 1, 1], 1, 1, "success", True),
        ([6, 0, 12, 2], 12, 2, "op code not supported", False),
        ([6, 0, 1, 3], 1, 3, "invalid operator", False),
        ([6, 0, 2, 4], 2, 4, "operator not supported", False),
        ([6, 0, 1, 5], 1, 5, "invalid operand", False),
        ([6, 0, 1, 6], 1, 6, "no records found", True),
        ([6, 0, 3, 7], 3, 7, "abort unsuccessful", False),
        ([6, 0, 2, 8], 2, 8, "procedure not completed", False),
        ([6, 0, 2, 9], 2, 9, "operand not supported", False),
        ([6, 0, 1, 10], 1, 10, "reserved", False),  # Nordic "unknownErrorCode": kept as 10
    ],
)
def test_nordic_response_codes(frame: list[int], request_op: int, code: int, name: str,
                               succeeded: bool) -> None:
    value = decode("2A52", bytes(frame))
    assert value == RacpResponse(6, request_op_code=request_op, response_code=code)
    assert value.response_name == name
    assert value.succeeded is succeeded


def test_nordic_number_of_records_uint16() -> None:
    value = decode("2A52", bytes([5, 0, 2, 1]))
    assert value == RacpResponse(5, number_of_records=258)
    assert value.succeeded and value.response_name is None


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        ([5, 0, 1], r"2A52 number_of_records: needs 2 bytes"),  # Nordic uint8 variant
        ([5, 0, 4, 3, 2, 1], r"2A52 length: 2 trailing bytes"),  # Nordic uint32 variant
        ([5, 0, 3, 2, 1], r"2A52 length: 1 trailing byte"),  # Nordic unsupportedLength
        ([1, 1], r"2A52 op_code: 1 is a request, not a response"),  # Nordic tooShort
        ([1, 3, 1, 2, 0], r"2A52 op_code: 1 is a request"),  # Nordic wrongOpCode
        ([6, 1, 1], r"2A52 operator: 1 must be 0"),  # Nordic invalidOperator
        ([6, 0, 1], r"2A52 response_code: needs 1 byte"),
        ([6, 0, 1, 0], r"2A52 response_code: 0 is reserved"),
        ([0, 0], r"2A52 op_code: 0 is reserved"),
        ([7, 0], r"2A52 op_code: 7 is reserved"),
        ([], r"2A52 op_code: needs 1 byte"),
    ],
)
def test_racp_malformed(frame: list[int], match: str) -> None:
    # PLXS/BLS count is uint16 (reference §8; Packetcraft plxpc expects a 4-byte reply), so the
    # 1- and 4-byte counts Nordic's generic callback accepts are refused here.
    with pytest.raises(DecodeError, match=match):
        decode("2A52", bytes(frame))
