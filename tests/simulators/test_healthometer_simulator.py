"""The simulated ESC scale on a real pseudo-terminal, read with real pyserial."""

import os
import time
from decimal import Decimal

import pytest
import serial

from drivers.serial import parser
from simulators.serial.healthometer_esc import HealthOMeterScale, ScaleState, encode_reading
from simulators.serial.pty_port import PtyPort
from tests.helpers import wait_until


@pytest.fixture
def scale(tmp_path):
    sim = HealthOMeterScale(PtyPort(tmp_path / "ttyScale"), ScaleState(weight=Decimal("81.3")))
    sim.start()
    yield sim
    sim.stop()


def read_until(port: serial.Serial, marker: bytes, timeout: float = 5) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data and time.monotonic() < deadline:
        data += port.read(64)
    return data


def test_encoder_matches_the_manuals_layout():
    # Rice Lake 350-10 manual p. 14: <ESC>R<ESC>W0210.9<ESC>Nm<ESC>E
    assert encode_reading(ScaleState(weight=Decimal("210.9"))) == b"\x1bR\x1bW0210.9\x1bNm\x1bE"


def test_answers_the_hosts_request_over_pyserial(scale):
    assert os.path.islink(scale.port.path)
    with serial.Serial(str(scale.port.path), 9600, timeout=0.2) as port:
        port.write(b"\x1bR\x1bE")
        data = read_until(port, b"\x1bE")
    [reading] = parser("healthometer-esc").feed(data)
    assert reading.weight == Decimal("81.3") and reading.unit == "kg"
    assert scale.requests == 1


def test_push_units_height_and_overload(scale):
    with serial.Serial(str(scale.port.path), 9600, timeout=0.2) as port:
        scale.set(weight=Decimal("165.0"), units="c", height=Decimal("68.50"))
        scale.push()
        first = read_until(port, b"\x1bE")
        scale.set(overload=True)
        scale.push()
        second = read_until(port, b"\x1bE")
    p = parser("healthometer-esc")
    [us] = p.feed(first)
    assert (us.weight, us.unit, us.height, us.height_unit) == (
        Decimal("165.0"), "[lb_av]", Decimal("68.50"), "[in_i]")
    [overload] = p.feed(second)
    assert overload.weight is None and overload.flags == {"overload"}


def test_garbage_bursts_are_resynced(scale):
    scale.garbage_every = 1
    with serial.Serial(str(scale.port.path), 9600, timeout=0.2) as port:
        for _ in range(3):
            scale.push()
        p = parser("healthometer-esc")
        readings = []
        deadline = time.monotonic() + 5
        while len(readings) < 3 and time.monotonic() < deadline:
            readings += p.feed(port.read(64))
    assert [r.weight for r in readings] == [Decimal("81.3")] * 3
    assert p.errors >= 1


def test_unplug_breaks_the_open_port_and_replug_brings_the_same_path_back(scale):
    path = str(scale.port.path)
    port = serial.Serial(path, 9600, timeout=0.2)
    scale.port.unplug()
    assert not os.path.exists(path)
    with pytest.raises(serial.SerialException):
        for _ in range(20):
            port.read(10)
    port.close()
    scale.port.plug()
    wait_until(lambda: os.path.exists(path))
    with serial.Serial(path, 9600, timeout=0.2) as again:
        again.write(b"\x1bR\x1bE")
        assert b"\x1bW0081.3" in read_until(again, b"\x1bE")
