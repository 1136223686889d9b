"""Masimo ASCII 1 / trend-line parser (drivers/serial/masimo.py).

Published lines used (verbatim, CR LF added where the source shows a line):
* OpenICE github:mdpnp/mdpnp, poxrad_discrete.h: ``_radical7_examplestring`` and
  ``_radical5_examplestring`` (these include their CR LF).
* Masimo Rad-8 operator's manual p. 4-24 "Sample trend output" (8 lines; copy in
  github:remkolems/masimo-datacapture, text on masimo.manymanuals.cz).
* Masimo Rad-57 operator's manual "Trend data format" sample (manymanuals.fr).
* Masimo Pronto operator's manual p. 34 "Sample trend output" (manualshive.com; the manual
  wraps ``EXC=`` onto a second printed line, joined here).
* github:remkolems/masimo-datacapture masimo-capture.py comments: a Rad-8 ASCII 1 line, a
  Radical-7 (colour) line, and a Radical-7 service-manual line (each printed over two
  comment lines there, joined with one space here).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from drivers.measurements import PulseOximetry
from drivers.serial import parser
from tests.drivers.properties import assert_chunking_invariant
from vitals.flags import FLAGS

RADICAL7 = (
    b"12/01/05 11:56:29 SN=0123456789 SPO2=098% BPM=240 PI=20.00% "
    b"SPCO=01.0% SPMET=00.5% DESAT=01 PIDELTA=-02 PVI=027 ALARM=00"
    b"00 EXC=000820\x0d\x0a"
)
RADICAL5 = b"09/15/10 15:10:29 SPO2=097% BPM=064 PI=11.82% ALARM=20 EXC=800\x0d\x0a"

RAD8_TREND = [
    b"09/21/08 09:56:08 SpO2=000 PR=000 PI=00.00 EXC=820:OffPat,SET",
    b"09/21/08 09:56:10 SpO2=000 PR=000 PI=00.00 EXC=828:Search,OffPat,SET",
    b"09/21/08 09:56:12 SpO2=097 PR=069 PI=04.69 EXC=800:SET",
    b"09/21/08 09:56:14 SpO2=096 PR=074 PI=02.28 EXC=C00:LowSigIQ,SET",
    b"09/21/08 09:56:16 SpO2=098 PR=078 PI=03.64 EXC=800:SET",
    b"09/21/08 09:56:18 SpO2=000 PR=000 PI=00.00 EXC=800:SET",
    b"09/21/08 09:56:20 SpO2=000 PR=000 PI=00.00 EXC=820:OffPat,SET",
    b"09/21/08 09:56:22 SpO2=096 PR=078 PI=02.68 EXC=800:SET",
]
RAD57_TREND = b"07/21/04 09:56:12 SpO2=097 SpCO=001 PR=069 PI=04.69 EXC=800:SET"
PRONTO_TREND = (
    b"11/30/11 00:09:36 SpO2=100 PR=070 PI=01.32 SpCO=00.00 Met=00.00 SpHb=15.1 PVI=000 "
    b"EXC=00000000"
)
RAD8_ASCII1_NO_SENSOR = (
    b"03/19/16 13:37:12 SN=0000093112 SPO2=---% BPM=---% DESAT=-- PIDELTA=+-- ALARM=0000 EXC=000001"
)
RAD7_COLOUR = (
    b"03/17/16 19:19:36 SN=---------- SPO2=098% BPM=123 PI=00.55 SPCO=--% "
    b"SPMET=--.-% SPHB=--.- SPOC=-- RESVD=--- DESAT=-- PIDELTA=+-- PVI=--- "
    b"ALARM=000000 EXC=0000C00 EXC1=00000000"
)
RAD7_SERVICE_MANUAL = (
    b"05/15/07 08:12:21 SN=0000070986 SPO2=---% BPM=--- PI=--.--% "
    b"SPCO=--.-% SPMET=--.-% DESAT=-- PIDELTA=+-- PVI=--- ALARM=0000 "
    b"EXC=000000"
)

CRLF = b"\r\n"


def run(data: bytes):
    p = parser("masimo-ascii")
    return p.feed(data), p.errors


def summary(m: PulseOximetry):
    return (m.spo2, m.pulse_rate, m.pulse_amplitude_index, m.flags)


def test_openice_radical7_example() -> None:
    out, errors = run(RADICAL7)
    assert errors == 0
    (m,) = out
    # EXC 000820 = 0x020 sensor off + 0x800 Masimo SET (normal); values as sent
    assert summary(m) == (98, 240, Decimal("20.00"), frozenset({"sensor_off"}))
    assert m.timestamp == datetime(2005, 12, 1, 11, 56, 29)
    assert str(m.pulse_amplitude_index) == "20.00"
    assert m.raw == RADICAL7.rstrip(CRLF)


def test_openice_radical5_example() -> None:
    out, errors = run(RADICAL5)
    assert errors == 0
    # ALARM=20 is "alarm silenced" (no flag); EXC 800 = SET only
    assert [summary(m) for m in out] == [(97, 64, Decimal("11.82"), frozenset())]
    assert out[0].timestamp == datetime(2010, 9, 15, 15, 10, 29)


def test_rad8_manual_trend_sample() -> None:
    out, errors = run(CRLF.join(RAD8_TREND) + CRLF)
    assert errors == 0
    assert [summary(m) for m in out] == [
        (None, None, None, frozenset({"sensor_off"})),
        (None, None, None, frozenset({"sensor_off", "searching"})),
        (97, 69, Decimal("4.69"), frozenset()),
        (96, 74, Decimal("2.28"), frozenset({"low_signal"})),
        (98, 78, Decimal("3.64"), frozenset()),
        (None, None, None, frozenset()),  # zeros with only SET: still no reading
        (None, None, None, frozenset({"sensor_off"})),
        (96, 78, Decimal("2.68"), frozenset()),
    ]
    assert [m.timestamp.second for m in out] == [8, 10, 12, 14, 16, 18, 20, 22]


def test_rad57_and_pronto_trend_lines() -> None:
    out, errors = run(RAD57_TREND + CRLF + PRONTO_TREND + CRLF)
    assert errors == 0
    assert [summary(m) for m in out] == [
        (97, 69, Decimal("4.69"), frozenset()),
        (100, 70, Decimal("1.32"), frozenset()),
    ]


def test_dashes_are_none() -> None:
    out, errors = run(CRLF.join([RAD8_ASCII1_NO_SENSOR, RAD7_COLOUR, RAD7_SERVICE_MANUAL]) + CRLF)
    assert errors == 0
    assert [summary(m) for m in out] == [
        (None, None, None, frozenset({"probe_error"})),  # EXC 000001 no sensor
        (98, 123, Decimal("0.55"), frozenset({"low_signal"})),  # EXC 0000C00
        (None, None, None, frozenset()),
    ]


def test_low_battery_alarm_bit() -> None:
    # derived from RADICAL5 with ALARM 0x40 (OpenICE alarmmessage: "Low Battery")
    line = RADICAL5.replace(b"ALARM=20", b"ALARM=40")
    out, _ = run(line)
    assert out[0].flags == frozenset({"low_battery"})


def test_broken_lines_are_counted() -> None:
    bad = [
        b"13/45/05 11:56:29 SPO2=098% BPM=070",  # impossible date
        b"12/01/05 11:5",  # truncated
        b"SPO2=098 HR=070",  # not a Masimo line (no date/time)
        b"12/01/05 11:56:29 SPO2=9x8% BPM=070",  # not a number
        b"12/01/05 11:56:29 SN=0123456789 ALARM=0000",  # no SpO2 or pulse field
        b"12/01/05 11:56:29 SPO2=098% BPM=070 EXC=zz",  # bad hex
        "12/01/05 11:56:29 SPO2=098% BPM=\u0667".encode(),  # not ASCII
    ]
    out, errors = run(CRLF.join(bad) + CRLF + RADICAL5)
    assert errors == len(bad)
    assert [m.spo2 for m in out] == [97]


def test_overlong_line_is_dropped_once() -> None:
    out, errors = run(b"x" * 5000 + CRLF + RADICAL5)
    assert errors == 1
    assert [m.spo2 for m in out] == [97]


VALID = [RADICAL7, RADICAL5, *(line + CRLF for line in RAD8_TREND[:4]), RAD7_COLOUR + CRLF]


@given(st.binary(max_size=400))
def test_random_bytes_never_raise(data: bytes) -> None:
    p = parser("masimo-ascii")
    for m in p.feed(data):
        assert isinstance(m, PulseOximetry) and m.flags <= FLAGS
    assert p.errors >= 0


@given(st.lists(st.sampled_from([*VALID, b"junk", b"\r", b"\n", RADICAL7[:20]])), st.data())
def test_chunking_does_not_change_the_result(pieces: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(pieces)
    assert_chunking_invariant(
        "masimo-ascii", stream, data.draw(st.lists(st.integers(0, len(stream)), max_size=12))
    )


@given(
    st.binary(min_size=1, max_size=300).filter(lambda b: b.strip(b"\r\n")),
    st.sampled_from(VALID),
)
def test_garbage_then_valid_line_resyncs(garbage: bytes, line: bytes) -> None:
    out, errors = run(garbage + CRLF + line)
    expected = run(line)[0]
    assert out[-1:] == expected
    # garbage that happens to be a Masimo line is not an error; anything else is
    assert errors > 0 or len(out) > len(expected)
