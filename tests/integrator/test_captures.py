"""Captures: every built-in serial protocol has one under tests/captures/ (recorded from its
simulator with the real recorder, tests/integrator/make_captures.py); played back on a pty
and read with pyserial it gives exactly the readings the live parser made while recording.
A fresh recording with a patient ID on the wire holds no trace of it."""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from pathlib import Path

import pytest
import serial

import drivers.serial
from roomvitals.capture_cmd import SerialRecorder
from roomvitals.testing import describe, replay_readings
from simulators.capture import CaptureError, SerialReplay, read_capture
from simulators.serial.healthometer_esc import HealthOMeterScale, ScaleState
from simulators.serial.pty_port import PtyPort
from tests.helpers import wait_until

CAPTURES = Path(__file__).parent.parent / "captures"


def test_there_is_a_capture_for_every_built_in_serial_protocol():
    built_in = {n for n in drivers.serial.PROTOCOLS
                if drivers.serial.SOURCES[n] in ("built-in", "roomvitals")}
    assert {p.stem for p in CAPTURES.glob("*.jsonl")} == built_in


def replayed(capture: Path, tmp_path: Path, speed: float) -> list[str]:
    """Play ``capture`` on a pty and read it as the gateway does: pyserial, chunk by chunk."""
    header, records = read_capture(capture)
    replay = SerialReplay(tmp_path / "port", records, speed=speed).start()
    parser = drivers.serial.parser(header.protocol)
    out: list[str] = []
    line = header.line
    with serial.Serial(str(replay.path), line["baudrate"], line["bytesize"], line["parity"],
                       line["stopbits"], timeout=0.05) as port:
        try:
            while True:
                data = port.read(4096)
                out += [describe(m) for m in parser.feed(data)]
                if not data and replay.done.is_set():
                    break
        finally:
            replay.stop()
    assert replay.sent == len(replay.records)
    return out


@pytest.mark.parametrize("capture", sorted(CAPTURES.glob("*.jsonl")), ids=lambda p: p.stem)
def test_a_replayed_capture_gives_the_readings_of_the_live_device(capture, tmp_path):
    header, _ = read_capture(capture)
    assert header.readings, "a capture that decodes to nothing tests nothing"
    assert header.source.startswith("simulator ")
    assert header.patient_ids.startswith(("stripped:", "none:"))
    assert [describe(m) for m in replay_readings(capture)] == header.readings
    assert replayed(capture, tmp_path, speed=5.0) == header.readings


def test_recording_strips_the_patient_id_and_replays_to_the_same_readings(tmp_path):
    scale = HealthOMeterScale(PtyPort(tmp_path / "scale"),
                              ScaleState(weight=Decimal("91.3"), patient_id="MRN4711")).start()
    out = tmp_path / "esc.jsonl"
    recorder = SerialRecorder(str(scale.port.path), "healthometer-esc", out, poll_interval=0.2,
                              source="simulator healthometer-esc")
    stop = threading.Event()
    thread = threading.Thread(target=recorder.run, args=(stop,))
    thread.start()
    wait_until(lambda: len(recorder.readings) >= 3)
    stop.set()
    thread.join(10)
    scale.stop()
    text = out.read_text()
    assert b"MRN4711".hex() not in text and "MRN4711" not in text
    header, records = read_capture(out)
    assert "ESC I" in header.patient_ids
    assert any(r.direction == "tx" for r in records)  # the polls are kept, for reference
    assert header.readings == recorder.readings and "91.3" in header.readings[0]
    assert replayed(out, tmp_path, speed=1.0) == header.readings


def test_a_broken_capture_file_gets_a_specific_error(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"format": "something-else"}) + "\n")
    with pytest.raises(CaptureError, match="line 1 is not a roomvitals-capture"):
        read_capture(bad)
    good_header = (CAPTURES / "sma.jsonl").read_text().splitlines()[0]
    bad.write_text(good_header + '\n{"t": 0.1, "dir": "rx", "hex": "zz"}\n')
    with pytest.raises(CaptureError, match="line 2"):
        read_capture(bad)
