"""GE DINAMAP host-protocol parser (drivers/serial/dinamap.py) - unverified on hardware.

Published bytes: the four command constants of github:tnez/TK-BP, TKDinamapBPController.h
(`` NC0!E``, `` NA!2``, `` ND!5``, `` RC!8``; sent with a CR appended by
``prepareStringForDinamap``), which the reconstructed checksum must reproduce. No reply
was published; the replies below are DERIVED from TK-BP's field ranges (status 3, time
counter 6-9, systolic 10-12, diastolic 13-15, MAP 16-18; pulse 4-6) with the checksum
computed here from the rule in serial-protocols.md section 6, independently of the driver.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from drivers.measurements import BloodPressure
from drivers.serial import parser
from drivers.serial.dinamap import CANCEL_NIBP, READ_NIBP, READ_PULSE, START_NIBP
from tests.drivers.properties import assert_chunking_invariant
from vitals.flags import FLAGS


def sealed(message: str) -> bytes:
    s = sum(ord(c) - 0x20 + 1 for c in message)
    while s > 0xFFF:
        s -= 0xFFF
    return (message + chr(0x20 + (s >> 6)) + chr(0x20 + (s & 0x3F)) + "\r").encode("ascii")


def na(status: str, counter: str, sys: str, dia: str, map_: str) -> bytes:
    return sealed(f" NA{status}00{counter}{sys}{dia}{map_}")


def rc(pulse: str) -> bytes:
    return sealed(f" RC0{pulse}")


def run(data: bytes):
    p = parser("dinamap")
    return p.feed(data), p.errors


def bp(m: BloodPressure):
    return (m.systolic, m.diastolic, m.mean_arterial_pressure, m.pulse_rate, m.flags)


def test_commands_match_tk_bp_constants() -> None:
    assert START_NIBP == b" NC0!E\r"
    assert READ_NIBP == b" NA!2\r"
    assert CANCEL_NIBP == b" ND!5\r"
    assert READ_PULSE == b" RC!8\r"


def test_result_with_pulse() -> None:
    reply_na, reply_rc = na("1", "0123", "120", "080", "093"), rc("072")
    out, errors = run(reply_na + reply_rc)
    assert errors == 0
    assert [bp(m) for m in out] == [(120, 80, 93, 72, frozenset())]
    assert out[0].unit == "mm[Hg]"
    assert out[0].raw == reply_na[:-1] + b"\r" + reply_rc[:-1]


def test_polling_does_not_repeat_a_result() -> None:
    stream = (
        na("1", "0123", "120", "080", "093")
        + rc("072")
        + na("1", "0128", "120", "080", "093")
        + rc("072")  # same result, older
        + na("1", "0002", "131", "085", "100")
        + rc("075")  # counter fell: new result
    )
    out, errors = run(stream)
    assert errors == 0
    assert [bp(m) for m in out] == [
        (120, 80, 93, 72, frozenset()),
        (131, 85, 100, 75, frozenset()),
    ]


def test_result_released_without_pulse_by_another_reply() -> None:
    out, errors = run(na("1", "0010", "118", "076", "090") + na("1", "0012", "118", "076", "090"))
    assert errors == 0
    assert [bp(m) for m in out] == [(118, 76, 90, None, frozenset())]


def test_error_status_and_missing_fields() -> None:
    out, errors = run(na("3", "0001", "000", "000", "000") + rc("000"))
    assert errors == 0
    assert [bp(m) for m in out] == [
        (None, None, None, None, frozenset({"measurement_unsuccessful"}))
    ]
    out, errors = run(na("1", "0001", "120", "---", "093") + rc("072"))
    assert [bp(m) for m in out] == [(120, None, 93, 72, frozenset())]


def test_in_progress_status_reports_nothing() -> None:
    out, errors = run(na("0", "0001", "000", "000", "000") + rc("000"))
    assert out == [] and errors == 0


def test_broken_replies_are_counted() -> None:
    good = na("1", "0123", "120", "080", "093")
    bad = [
        good[:-3] + b"!!\r",  # wrong checksum
        sealed(" NA1000"),  # too short for a result
        sealed(" RC0"),  # too short for a pulse
        b"\xff\xfe\r",  # not ASCII
        b" N\r",  # shorter than id + command + checksum
    ]
    out, errors = run(b"".join(bad) + good + rc("072"))
    assert errors == len(bad)
    assert [bp(m) for m in out] == [(120, 80, 93, 72, frozenset())]


VALID = [na("1", "0123", "120", "080", "093"), rc("072"), na("1", "0001", "131", "085", "100")]


@given(st.binary(max_size=400))
def test_random_bytes_never_raise(data: bytes) -> None:
    p = parser("dinamap")
    for m in p.feed(data):
        assert isinstance(m, BloodPressure) and m.flags <= FLAGS
    assert p.errors >= 0


@given(st.lists(st.sampled_from([*VALID, b"junk", b"\r", b"\n", VALID[0][:8]])), st.data())
def test_chunking_does_not_change_the_result(pieces: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(pieces)
    assert_chunking_invariant(
        "dinamap", stream, data.draw(st.lists(st.integers(0, len(stream)), max_size=12))
    )


@given(st.binary(min_size=1, max_size=300).filter(lambda b: b.strip(b"\r\n")))
def test_garbage_then_valid_reply_resyncs(garbage: bytes) -> None:
    out, errors = run(garbage + b"\r" + VALID[0] + VALID[1])
    lines = [line for line in garbage.replace(b"\n", b"\r").split(b"\r") if line]
    checksummed = all(line.isascii() and sealed(line[:-2].decode())[:-1] == line for line in lines)
    assert errors > 0 or checksummed  # random bytes may form a well-formed reply
    assert bp(out[-1]) == (120, 80, 93, 72, frozenset())
