"""Contec CMS50 parsers: protocol V7.0 (9-byte), legacy 5-byte, and auto-detection.

Published sources used below:
- [TITI] github:titinho11/CMS50E-raw-ppg-data, file ``data`` (commit 30693d7c): a CMS50E
  real-time capture at 115200 baud, stored as hex text; 102 complete packets and a cut-off
  last one. The README says the device showed HR 63 during the session; every packet in this
  file carries PR 60 / SpO2 99.
- [MARK] github:MarkMLl/Contec_cms50dplus, cms50dplus4v6/consoleapp.pas (CMS50D+ firmware
  4.6): the "Nominal operation" comment ``01 e0 85 d5 9a bd e3 ff ff`` and the USB capture
  appendix (commands ``7d 81 a1/a2/af 80 80 80 80 80 80``, identifier replies, idle packets
  ``01 e1 84 c0 90 80 80 ff ff`` with no finger, storage records ``0f 80 e2 c6 ...``).
- [REF] /work/shared/reference/serial-protocols.md section 2a decodes the [TITI] and [MARK]
  frames (PR 60/61, SpO2 99; "0F 80 E2 C6 E2 C6 E2 C6" = stored SpO2 98 / PR 70).
- [ATB] github:atbrask/CMS50Dplus unittests.py: legacy 5-byte frames per bit
  (``[0x80|0x10,0,0,0,0]`` finger out / searching too long, ``[0x80,0,0x10,0,0]`` probe
  error, ``[0x80,0,0x20,0,0]`` searching, PR with bit 7 in byte 3 bit 6).
- [APNEA] Apnea Board wiki "Contec CMS50X Data Format": live bytes ``90 28 35 00`` cut off by
  the download preamble ``F2 80 00``.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import drivers.serial
from drivers.measurements import PulseOximetry
from drivers.serial.cms50 import KEEP_ALIVE, START_REALTIME, STOP_REALTIME, command
from tests.drivers.properties import feed_chunks
from vitals.flags import FLAGS

# [TITI] the whole capture file, verbatim (hex text); it ends in the middle of a packet.
TITI_HEX = (
    "01e0849392bce3ffff01e0849392bce3ffff01e0849292bce3ffff01e0849292bce3ffff01e0849292bce3ffff"
    "01e0849192bce3ffff01e0849192bce3ffff01e0849092bce3ffff01e0849092bce3ffff01e0849092bce3ffff"
    "01e0848f91bce3ffff01e0848e91bce3ffff01e0848e91bce3ffff01e0848d91bce3ffff01e0848d91bce3ffff"
    "01e0848c91bce3ffff01e0848b91bce3ffff01e0848b91bce3ffff01e0848b91bce3ffff01e0848b91bce3ffff"
    "01e0848a91bce3ffff01e0848a91bce3ffff01e0848991bce3ffff01e0848991bce3ffff01e0848891bce3ffff"
    "01e0848891bce3ffff01e0848c91bce3ffff01e0849392bce3ffff01e0849d93bce3ffff01e084a895bce3ffff"
    "01e084be97bce3ffff01e084c698bce3ffff01e084c899bce3ffff01e084c798bce3ffff01e0c4c498bce3ffff"
    "01e0c4c098bce3ffff01e084bc97bce3ffff01e084b897bce3ffff01e084b596bce3ffff01e084b196bce3ffff"
    "01e084ae95bce3ffff01e084ac95bce3ffff01e084ab95bce3ffff01e084aa95bce3ffff01e084aa95bce3ffff"
    "01e084aa95bce3ffff01e084aa95bce3ffff01e084aa95bce3ffff01e084a995bce3ffff01e084a895bce3ffff"
    "01e084a694bce3ffff01e084a394bce3ffff01e084a094bce3ffff01e0849e93bce3ffff01e0849b93bce3ffff"
    "01e0849993bce3ffff01e0849893bce3ffff01e0849792bce3ffff01e0849692bce3ffff01e0849692bce3ffff"
    "01e0849592bce3ffff01e0849592bce3ffff01e0849592bce3ffff01e0849592bce3ffff01e0849592bce3ffff"
    "01e0849592bce3ffff01e0849592bce3ffff01e0849492bce3ffff01e0849392bce3ffff01e0849292bce3ffff"
    "01e0849192bce3ffff01e0848f91bce3ffff01e0848d91bce3ffff01e0848c91bce3ffff01e0848b91bce3ffff"
    "01e0848a91bce3ffff01e0848a91bce3ffff01e0848a91bce3ffff01e0848991bce3ffff01e0848991bce3ffff"
    "01e0848991bce3ffff01e0848991bce3ffff01e0848891bce3ffff01e0848891bce3ffff01e0848991bce3ffff"
    "01e0848b91bce3ffff01e0849292bce3ffff01e0849c93bce3ffff01e084a895bce3ffff01e084c098bce3ffff"
    "01e084c999bce3ffff01e084cd99bce3ffff01e084cc99bce3ffff01e084ca99bce3ffff01e0c4c698bce3ffff"
    "01e0c4c198bce3ffff01e084bd97bce3ffff01e084b997bce3ffff01e084b596bce3ffff01e084b196bce3ffff"
    "01e084af95bce3ffff01e084ad95bce3ffff01e084ac"
)
TITI = bytes.fromhex(TITI_HEX)
TITI_COMPLETE = TITI[: len(TITI) // 9 * 9]

MARK_NOMINAL = bytes.fromhex("01 e0 85 d5 9a bd e3 ff ff")
MARK_IDLE = bytes.fromhex("01 e1 84 c0 90 80 80 ff ff")
MARK_REPLIES = bytes.fromhex(
    "0c 80"
    "02 80 80 b5 b0 c4 a8 c1 a9"
    "02 81 ff ab a0 a0 a0 a0 a0"
    "03 80 a0 a0 a0 a0 a0 a0 a0"
    "04 80 f5 f3 e5 f2 a0 a0 a0"
    "0c 80 11 80 81 81 80 80 80"
    "80 80"
)
MARK_STORED = bytes.fromhex("0f 80 e2 c6 e2 c6 e2 c6")

# [ATB] legacy frames
ATB_PLAIN = bytes([0x80, 0, 0, 0, 0])
ATB_FINGER_OUT = bytes([0x80 | 0x10, 0, 0, 0, 0])
ATB_PROBE_ERROR = bytes([0x80, 0, 0x10, 0, 0])
ATB_SEARCHING = bytes([0x80, 0, 0x20, 0, 0])


def atb_pulse(x: int, spo2: int = 0) -> bytes:
    """[ATB] test_LiveData_pulseRate: ``[0x80, 0, (x & 0x80) >> 1, x & 0x7f, spo2]``."""
    return bytes([0x80, 0, (x & 0x80) >> 1, x & 0x7F, spo2])


def test_protocol_names_registered() -> None:
    for name in ("cms50", "cms50-v7", "cms50-legacy"):
        assert name in drivers.serial.PROTOCOLS


# --------------------------------------------------------------------------- V7.0


def test_v7_published_capture() -> None:
    p = drivers.serial.parser("cms50-v7")
    out = p.feed(TITI)
    assert len(out) == 102
    assert {(m.spo2, m.pulse_rate) for m in out} == {(99, 60)}
    # Byte 4 has the "PI invalid" bit set and PI is 0xFFFF: no perfusion index.
    assert all(m.pulse_amplitude_index is None for m in out)
    assert all(m.flags == frozenset() for m in out)
    assert out[0].raw == bytes.fromhex("01e0849392bce3ffff")
    assert p.errors == 0  # the cut-off last packet is still waiting for its bytes


def test_v7_nominal_frame_high_bit_restored() -> None:
    # [MARK] comment decodes 0xbd as 53; with bit 7 from the high byte 0xe0 (bit 3 clear)
    # it is 0x3d = 61 ([REF]).
    [m] = drivers.serial.parser("cms50-v7").feed(MARK_NOMINAL)
    assert (m.spo2, m.pulse_rate) == (99, 61)


def test_v7_idle_no_finger_zeros_are_none() -> None:
    # [MARK] idle capture: high byte 0xe1 restores bit 7 of byte 2 = probe error; PR 0 and
    # SpO2 0 are no values.
    out = drivers.serial.parser("cms50-v7").feed(MARK_IDLE * 3)
    assert len(out) == 3
    for m in out:
        assert m.spo2 is None and m.pulse_rate is None
        assert m.flags == {"probe_error"}
        assert m.flags <= FLAGS


def test_v7_replies_and_stored_records_are_not_readings() -> None:
    p = drivers.serial.parser("cms50-v7")
    assert p.feed(MARK_REPLIES + MARK_STORED * 3) == []
    assert p.errors == 0
    [m] = p.feed(MARK_NOMINAL)
    assert m.pulse_rate == 61


def test_v7_invalid_markers_and_perfusion_index() -> None:
    # Derived from the V7.0 table ([REF] 2a). High byte bit 1 restores bit 7 of byte 3
    # (searching pulse), bit 3 that of byte 5 (PR 0xFF = invalid); SpO2 0x7F = invalid;
    # byte 4 = 0x92: bar 2 with "PI invalid"; PI bytes 0xA3 0x81 -> 0x0123 = 2.91 %.
    packet = bytes([0x01, 0x80 | 0x02 | 0x08, 0x85, 0x85, 0x92, 0xFF, 0xFF, 0xA3, 0x81])
    [m] = drivers.serial.parser("cms50-v7").feed(packet)
    assert m.pulse_rate is None and m.spo2 is None
    assert m.pulse_amplitude_index is None
    assert m.flags == {"searching"}
    # Same with PR 60, SpO2 99 and "PI invalid" clear (byte 4 = 0x82).
    packet = bytes([0x01, 0x80 | 0x02, 0x85, 0x85, 0x82, 0xBC, 0xE3, 0xA3, 0x81])
    [m] = drivers.serial.parser("cms50-v7").feed(packet)
    assert (m.spo2, m.pulse_rate) == (99, 60)
    assert m.pulse_amplitude_index == Decimal("2.91")


def test_v7_truncated_packet_counted_and_resynced() -> None:
    p = drivers.serial.parser("cms50-v7")
    out = p.feed(MARK_NOMINAL[:5] + MARK_NOMINAL)
    assert len(out) == 1 and p.errors == 1


def test_v7_commands_match_capture() -> None:
    # [MARK] capture: A1 starts the stream (also titinho11 cms50e.py ``cmd_querry``),
    # A2 stops it, AF is the keep-alive.
    assert START_REALTIME.hex(" ") == "7d 81 a1 80 80 80 80 80 80"
    assert STOP_REALTIME.hex(" ") == "7d 81 a2 80 80 80 80 80 80"
    assert KEEP_ALIVE.hex(" ") == "7d 81 af 80 80 80 80 80 80"
    assert command(0xB0) == bytes.fromhex("7d 81 b0 80 80 80 80 80 80")
    with pytest.raises(ValueError):
        command(0x21)


# --------------------------------------------------------------------------- legacy


def test_legacy_atbrask_frames() -> None:
    p = drivers.serial.parser("cms50-legacy")
    data = ATB_FINGER_OUT + ATB_PROBE_ERROR + ATB_SEARCHING + atb_pulse(130, 97) + atb_pulse(72, 98)
    out = p.feed(data)
    assert [m.flags for m in out] == [
        {"searching"},
        {"probe_error"},
        {"searching"},
        frozenset(),
        frozenset(),
    ]
    # The zeros of the first three frames are no values, never numbers.
    assert all(m.spo2 is None and m.pulse_rate is None for m in out[:3])
    assert (out[3].pulse_rate, out[3].spo2) == (130, 97)
    assert (out[4].pulse_rate, out[4].spo2) == (72, 98)
    assert out[4].raw == atb_pulse(72, 98)
    assert p.errors == 0


def test_legacy_spo2_marker_127_is_none() -> None:
    [m] = drivers.serial.parser("cms50-legacy").feed(atb_pulse(72, 0x7F))
    assert m.spo2 is None and m.pulse_rate == 72


def test_legacy_apnea_board_cut_off_frame() -> None:
    # [APNEA]: a 4-byte live remnant then the download preamble; nothing decodes.
    p = drivers.serial.parser("cms50-legacy")
    assert p.feed(bytes.fromhex("90 28 35 00 f2 80 00")) == []
    assert p.errors >= 1
    out = p.feed(atb_pulse(72, 98))
    assert [(m.pulse_rate, m.spo2) for m in out] == [(72, 98)]


def test_legacy_grouped_three_plus_two() -> None:
    # Apnea Board: bytes arrive grouped 3 + 2.
    frame = atb_pulse(72, 98)
    p = drivers.serial.parser("cms50-legacy")
    assert p.feed(frame[:3]) == []
    assert len(p.feed(frame[3:])) == 1


# --------------------------------------------------------------------------- auto


def test_auto_detects_v7_capture() -> None:
    p = drivers.serial.parser("cms50")
    out = p.feed(TITI)
    assert p.generation == "v7"
    assert out == drivers.serial.parser("cms50-v7").feed(TITI)
    assert len(out) == 102


def test_auto_detects_legacy() -> None:
    frames = [atb_pulse(72, 98), atb_pulse(130, 97), ATB_PROBE_ERROR, atb_pulse(60, 99)]
    p = drivers.serial.parser("cms50")
    out = p.feed(b"".join(frames))
    assert p.generation == "legacy"
    assert [(m.pulse_rate, m.spo2) for m in out] == [(72, 98), (130, 97), (None, None), (60, 99)]
    assert p.errors == 0


def test_auto_waits_until_decided() -> None:
    p = drivers.serial.parser("cms50")
    assert p.feed(MARK_NOMINAL[:8]) == []
    assert p.generation is None
    [m] = p.feed(MARK_NOMINAL[8:])
    assert p.generation == "v7" and m.pulse_rate == 61


# --------------------------------------------------------------------------- properties

ALL = ["cms50", "cms50-v7", "cms50-legacy"]
VALID = {
    "cms50": TITI_COMPLETE[: 9 * 3],
    "cms50-v7": MARK_NOMINAL,
    "cms50-legacy": atb_pulse(72, 98),
}


@pytest.mark.parametrize("name", ALL)
@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=600))
def test_random_bytes_never_raise(name: str, data: bytes) -> None:
    p = drivers.serial.parser(name)
    out = p.feed(data)
    assert all(isinstance(m, PulseOximetry) for m in out)
    assert p.errors >= 0


@pytest.mark.parametrize("name", ALL)
@settings(max_examples=100, deadline=None)
@given(
    noise=st.binary(max_size=80),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=12),
)
def test_any_chunking_equals_one_shot(name: str, noise: bytes, cuts: list[int]) -> None:
    data = noise + VALID[name] * 2 + noise + VALID[name]
    one = drivers.serial.parser(name)
    expected = one.feed(data)
    got, errors = feed_chunks(name, data, cuts)
    assert got == expected
    assert [m.raw for m in got] == [m.raw for m in expected]
    assert errors == one.errors


def test_capture_in_any_chunking() -> None:
    expected = drivers.serial.parser("cms50").feed(TITI)
    for size in (1, 2, 3, 7, 9, 10, 64):
        got, errors = feed_chunks("cms50", TITI, list(range(0, len(TITI), size)))
        assert got == expected and errors == 0


@pytest.mark.parametrize("name", ALL)
@settings(max_examples=150, deadline=None)
@given(garbage=st.binary(min_size=1, max_size=200))
def test_garbage_then_valid_resyncs(name: str, garbage: bytes) -> None:
    if name != "cms50-legacy":
        # A V7 stream may legally hold other packet types; a stray byte outside any packet
        # makes the prefix garbage for sure.
        garbage = b"\xff" + garbage
    probe = drivers.serial.parser(name)
    assume(probe.feed(garbage) == [])  # garbage that decodes is not garbage
    if name == "cms50":
        assume(probe.generation is None)
    p = drivers.serial.parser(name)
    out = p.feed(garbage + VALID[name])
    reference = drivers.serial.parser(name).feed(VALID[name])
    assert out[-len(reference) :] == reference
    assert [m.raw for m in out[-len(reference) :]] == [m.raw for m in reference]
    assert p.errors > 0
