"""Health o meter Professional / Rice Lake ESC protocol parser.

Published examples (../shared/reference/serial-protocols.md section 3):
- Rice Lake 350-10 manual (manualshive 1454094 p. 14): ``<ESC>R<ESC>W0210.9<ESC>Nm<ESC>E``
  is 210.9 kg; overload/underload are reported as weight 999.9 / 999.99; diagnostics codes
  Z000 OK, E06/E07 ADC high/low, E10 overload.
- Health o meter Pro Plus 1100KL manual (manualslib 1717895 pp. 33-35): a full reading with
  ID 1234567890, W 90.98, H 178.70, T 5.7, B 28, Nm.
- github:STocidlowski/ScaleReporter main.py (an 1100L over CP210x at 9600 baud): packets read
  line by line, an all-zero 10-character ID and zero height/tare/BMI when none was entered,
  units ``c`` meaning pounds.
"""

import itertools
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.measurements import Weight
from drivers.serial import PROTOCOLS, parser

RICE_LAKE = b"\x1bR\x1bW0210.9\x1bNm\x1bE"
HOM_1100KL = b"\x1bR\x1bI1234567890\x1bW90.98\x1bH178.70\x1bT5.7\x1bB28\x1bNm\x1bE"
SCALEREPORTER = b"\x1bR\x1bI0000000000\x1bW123.4\x1bH0.0\x1bT0.0\x1bB0.0\x1bNc\x1bE\r\n"


def feed(data: bytes) -> tuple[list[Weight], int]:
    p = parser("healthometer-esc")
    return p.feed(data), p.errors


def test_registered():
    assert "healthometer-esc" in PROTOCOLS


def test_rice_lake_manual_example():
    [reading], errors = feed(RICE_LAKE)
    assert reading.weight == Decimal("210.9") and reading.unit == "kg"
    assert reading.height is None and reading.bmi is None and reading.flags == frozenset()
    assert errors == 0
    assert reading.raw == RICE_LAKE


def test_1100kl_full_reading_drops_patient_id():
    [reading], _ = feed(HOM_1100KL)
    assert reading.weight == Decimal("90.98")
    assert str(reading.weight) == "90.98"  # the scale's precision is kept
    assert (reading.height, reading.height_unit) == (Decimal("178.70"), "cm")
    assert reading.bmi == Decimal("28")
    # The patient ID never leaves the parser, not even in the raw frame kept for audit.
    assert b"1234567890" not in reading.raw
    assert not any(field.startswith(b"I") for field in reading.raw.split(b"\x1b"))


def test_us_units_and_zero_height_means_not_entered():
    [reading], errors = feed(SCALEREPORTER)
    assert (reading.weight, reading.unit) == (Decimal("123.4"), "[lb_av]")
    assert reading.height is None and reading.bmi is None
    assert errors == 0  # the CR LF after a packet is normal


@pytest.mark.parametrize("weight", [b"999.9", b"999.99", b"0999.9"])
def test_overload_is_an_error_event_not_a_weight(weight):
    [event], _ = feed(b"\x1bR\x1bW" + weight + b"\x1bNm\x1bE")
    assert event.weight is None
    assert event.flags == {"overload"}


@pytest.mark.parametrize(
    ("packet", "flag"), [(b"\x1bZE10\x1bE", "overload"), (b"\x1bZE06\x1bE", "device_error")]
)
def test_diagnostics_faults(packet, flag):
    [event], errors = feed(packet)
    assert event.weight is None and event.flags == {flag} and errors == 0


def test_settings_replies_and_ok_diagnostics_are_not_readings_nor_errors():
    events, errors = feed(b"\x1bPAHT=10\x1bE\x1bZ000\x1bE" + RICE_LAKE)
    assert [e.weight for e in events] == [Decimal("210.9")]
    assert errors == 0


@pytest.mark.parametrize(
    "broken",
    [
        b"\x1bR\x1bW21x.9\x1bNm\x1bE",  # not a number
        b"\x1bR\x1bW0210.9\x1bE",  # no units: the scale's unit cannot be guessed
        b"\x1bR\x1bW0210.9\x1bNq\x1bE",  # unknown units
        b"\x1bR\x1bNm\x1bE",  # no weight
        b"\x1bR\x1bW1\x1bW2\x1bNm\x1bE",  # a field twice
        b"\x1bR\x1bW0210.9\x1bHabc\x1bNm\x1bE",  # a broken height
    ],
)
def test_broken_packets_are_counted_and_skipped(broken):
    events, errors = feed(broken + RICE_LAKE)
    assert [e.weight for e in events] == [Decimal("210.9")]
    assert errors == 1


def test_truncated_packet_then_good_one():
    events, errors = feed(b"\x1bR\x1bW02" + RICE_LAKE)
    assert [e.weight for e in events] == [Decimal("210.9")]
    assert errors == 1


def test_garbage_resyncs():
    events, errors = feed(b"\x00\xffnoise" + RICE_LAKE + b"\x13\x37" + HOM_1100KL)
    assert [e.weight for e in events] == [Decimal("210.9"), Decimal("90.98")]
    assert errors == 2


def test_runaway_packet_is_dropped():
    events, errors = feed(b"\x1bQ" + b"x" * 300 + RICE_LAKE)
    assert [e.weight for e in events] == [Decimal("210.9")]
    assert errors >= 1


STREAM = b"junk" + RICE_LAKE + HOM_1100KL + b"\r\n" + SCALEREPORTER + b"\x1bR\x1bW999.9\x1bNc\x1bE"


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_any_chunking_gives_the_same_readings(cuts):
    p = parser("healthometer-esc")
    events = []
    bounds = [0, *sorted(cuts), len(STREAM)]
    for a, b in itertools.pairwise(bounds):
        events += p.feed(STREAM[a:b])
    assert events == parser("healthometer-esc").feed(STREAM)
    assert [e.weight for e in events] == [Decimal("210.9"), Decimal("90.98"), Decimal("123.4"),
                                          None]


@given(st.binary(max_size=400))
def test_random_bytes_never_raise(data):
    p = parser("healthometer-esc")
    p.feed(data)
    # and a good packet after any garbage is still read
    assert [e.weight for e in p.feed(b"\x1bE" + RICE_LAKE)][-1:] == [Decimal("210.9")]


@given(st.lists(st.sampled_from([b"\x1b", b"R", b"W", b"N", b"m", b"E", b"1", b".", b"9"]),
                max_size=60))
def test_protocol_shaped_noise_never_raises(parts):
    parser("healthometer-esc").feed(b"".join(parts))
