"""SMA SCP-0499 parser (drivers/serial/sma.py).

Published examples: Sartorius PR 5220 instrument manual p. EN-130 "Standard Reply" (the
SCP-0499 reply table with example replies to W, H, Z and R; underscores there are spaces,
the weight field is always 10 characters, right-justified) and Sartorius PR 5211 manual
p. EN-54 (replies to I/N). Frames marked "derived" are built from the layout in those
pages (and Fairbanks FB2550 appendix III for the dashes of E/I/T).
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from drivers.measurements import Weight
from drivers.serial import parser
from drivers.serial.sma import REPEAT_WEIGHT, REQUEST_HIGH_RESOLUTION, REQUEST_WEIGHT, ZERO
from tests.drivers.properties import assert_chunking_invariant
from vitals.flags import FLAGS

# Sartorius PR 5220 manual p. EN-130, example replies, verbatim layout.
W_GROSS = b"\n 1G       5.025lb \r"  # <LF>W<CR> -> 5.025 lb gross
W_NET = b"\n 1N      100000lb \r"  # <LF>W<CR> -> 100000 lb net
H_GROSS = b"\n 1g      5.0025lb \r"  # <LF>H<CR> -> high resolution
Z_ZERO = b"\nZ1G       0.000lb \r"  # <LF>Z<CR> -> centre of zero
R_STREAM = [  # <LF>R<CR> -> repeated replies, the second in motion
    b"\n 1G       7.025kg \r",
    b"\n 1GM      7.650kg \r",
    b"\n 1G       7.650kg \r",
]
# Sartorius PR 5211 manual p. EN-54: information replies (not weights).
INFO = [b"\nSMA:2/1.0 \r", b"\nTYP:S \r", b"\nCAP:kg_:6000:1:0 \r", b"\nEND: \r"]

VALID = [W_GROSS, W_NET, H_GROSS, Z_ZERO, *R_STREAM]


def feed_all(data: bytes, name: str = "sma"):
    p = parser(name)
    return p.feed(data), p.errors


def test_published_replies() -> None:
    out, errors = feed_all(b"".join([W_GROSS, W_NET, H_GROSS, Z_ZERO]))
    assert errors == 0
    assert [(m.weight, m.unit, m.flags) for m in out] == [
        (Decimal("5.025"), "[lb_av]", frozenset()),
        (Decimal("100000"), "[lb_av]", frozenset()),
        (Decimal("5.0025"), "[lb_av]", frozenset()),
        (Decimal("0.000"), "[lb_av]", frozenset({"center_of_zero"})),
    ]
    assert str(out[2].weight) == "5.0025"  # the device's digits kept
    assert [m.raw for m in out] == [W_GROSS, W_NET, H_GROSS, Z_ZERO]


def test_repeat_stream_reports_motion() -> None:
    out, errors = feed_all(b"".join(R_STREAM))
    assert errors == 0
    assert [(m.weight, m.unit, "motion" in m.flags) for m in out] == [
        (Decimal("7.025"), "kg", False),
        (Decimal("7.650"), "kg", True),
        (Decimal("7.650"), "kg", False),
    ]


def test_information_replies_are_not_errors() -> None:
    out, errors = feed_all(b"".join(INFO) + b"\n?\r" + W_GROSS)
    assert errors == 0
    assert len(out) == 1 and out[0].weight == Decimal("5.025")


def test_error_status_has_no_number() -> None:
    # derived: status E/I/T with a dashed weight field (Fairbanks FB2550 appendix III)
    out, errors = feed_all(b"\nE1G  ----------lb \r\nI1G  ----------kg \r\nT1N  ----------kg \r")
    assert errors == 0
    assert [(m.weight, m.flags) for m in out] == [
        (None, frozenset({"zero_error"})),
        (None, frozenset({"zero_error"})),
        (None, frozenset({"tare_error"})),
    ]


def test_over_and_under_capacity_have_no_number() -> None:
    # derived: PR 5220 p. EN-130 says O/U carry +weight/-weight; out of range -> None
    out, errors = feed_all(b"\nO1G      1000.5kg \r\nU1G       -12.0kg \r")
    assert errors == 0
    assert [(m.weight, m.flags) for m in out] == [
        (None, frozenset({"overload"})),
        (None, frozenset({"underload"})),
    ]


def test_tare_reply_is_not_a_body_weight() -> None:
    out, errors = feed_all(b"\n 1T       1.000kg \r")  # derived: reply to M
    assert out == [] and errors == 0


def test_broken_frames_are_counted_and_skipped() -> None:
    bad = [
        b"\n 1G       5.025oz \r",  # unit we do not map
        b"\n 1G      5.025lb \r",  # weight field 9 chars
        b"\nX1G       5.025lb \r",  # unknown status
        b"\n 1G       5.0x5lb \r",  # not a number
    ]
    out, errors = feed_all(b"".join(bad) + W_GROSS)
    assert errors == len(bad)
    assert [m.weight for m in out] == [Decimal("5.025")]


def test_truncated_frame_then_good_one() -> None:
    out, errors = feed_all(W_GROSS[:9] + W_NET)
    assert errors == 1
    assert [m.weight for m in out] == [Decimal("100000")]


def test_host_commands() -> None:
    # PR 5220 p. EN-130: commands are <LF>W<CR>, <LF>H<CR>, <LF>Z<CR>, <LF>R<CR>
    assert REQUEST_WEIGHT == b"\nW\r"
    assert REQUEST_HIGH_RESOLUTION == b"\nH\r"
    assert ZERO == b"\nZ\r"
    assert REPEAT_WEIGHT == b"\nR\r"


@given(st.binary(max_size=400))
def test_random_bytes_never_raise(data: bytes) -> None:
    p = parser("sma")
    for m in p.feed(data):
        assert isinstance(m, Weight)
        assert m.flags <= FLAGS
    assert p.errors >= 0


@given(
    st.lists(st.sampled_from([*VALID, *INFO, b"garbage", b"\r", b"\n\n", b"\x00\xff"])),
    st.data(),
)
def test_chunking_does_not_change_the_result(pieces: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(pieces)
    assert_chunking_invariant(
        "sma", stream, data.draw(st.lists(st.integers(0, len(stream)), max_size=12))
    )


@given(st.binary(min_size=1, max_size=200).filter(lambda b: b"\n" not in b), st.sampled_from(VALID))
def test_garbage_then_valid_frame_resyncs(garbage: bytes, frame: bytes) -> None:
    out, errors = feed_all(garbage + frame)
    assert errors > 0 or garbage.strip(b"\r") == b""
    assert out[-1:] and out[-1].raw == frame
