"""Each serial simulator against its parser, through real pyserial on a real pty.

The simulators encode from the reference on their own (they never import ``drivers``), so
a parser decoding what a simulator sends is a check of both against the spec.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

import pytest
import serial

from drivers.serial import parser as make_parser
from drivers.serial.cms50 import KEEP_ALIVE, START_REALTIME
from drivers.serial.dinamap import READ_NIBP, READ_PULSE, START_NIBP
from drivers.serial.nonin import (
    GET_TIME_COMMAND,
    Ack,
    DeviceTime,
    Nak,
    NoninReplyParser,
    set_format_command,
    set_time_command,
)
from drivers.serial.sma import REPEAT_WEIGHT, REQUEST_WEIGHT
from simulators.serial.cms50 import CMS50Oximeter
from simulators.serial.device import Oximetry, SimulatedDevice, Weighing, WireFaults
from simulators.serial.dinamap import BloodPressureState, DinamapMonitor
from simulators.serial.masimo import MasimoOximeter
from simulators.serial.nonin import NoninOximeter
from simulators.serial.pty_port import PtyPort
from simulators.serial.sma import SmaScale
from simulators.serial.tanita import TanitaScale
from simulators.serial.toledo import ToledoScale
from tests.helpers import wait_until


@pytest.fixture
def started(tmp_path):
    devices: list[SimulatedDevice] = []

    def start(factory: Callable[[PtyPort], SimulatedDevice]) -> SimulatedDevice:
        device = factory(PtyPort(tmp_path / f"tty{len(devices)}"))
        device.start()
        devices.append(device)
        return device

    yield start
    for device in devices:
        device.stop()


def open_port(device: SimulatedDevice) -> serial.Serial:
    return serial.Serial(str(device.port.path), 9600, timeout=0.05)


def collect(port, parser, count: int, *, poll: bytes = b"", timeout: float = 15.0) -> list:
    """Read and parse until ``count`` measurements arrived (polling with ``poll``)."""
    found: list = []
    deadline = time.monotonic() + timeout
    next_poll = 0.0
    while len(found) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"only {len(found)} of {count} measurements: {found}")
        if poll and time.monotonic() >= next_poll:
            port.write(poll)
            next_poll = time.monotonic() + 0.2
        found += parser.feed(port.read(4096))
    return found


# --- Nonin -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt, protocol", [(2, "nonin-df2"), (7, "nonin-df7"), (8, "nonin-df8")])
def test_nonin_binary_formats(started, fmt, protocol):
    sim = started(lambda p: NoninOximeter(p, Oximetry(spo2=97, pulse=275), data_format=fmt))
    parser = make_parser(protocol)
    with open_port(sim) as port:
        readings = collect(port, parser, 2)
        # a 9-bit pulse rate (275 > 127) checks the HR MSB/LSB split
        assert {(r.spo2, r.pulse_rate) for r in readings} == {(97, 275)}
        assert all(r.flags <= {"smart_point"} for r in readings)
        sim.set(artifact=True, perfusion="marginal", low_battery=True)
        time.sleep(0.1)
        port.reset_input_buffer()
        later = collect(port, parser, 3)[-1]
    assert {"artifact", "marginal_perfusion", "low_battery"} <= later.flags
    assert parser.errors <= 1  # at most the frame cut by reset_input_buffer


def test_nonin_finger_removed_holds_the_display_values_with_the_sensor_alarm(started):
    sim = started(lambda p: NoninOximeter(p, Oximetry(spo2=96, pulse=80), data_format=7))
    parser = make_parser("nonin-df7")
    with open_port(sim) as port:
        collect(port, parser, 1)
        sim.set(finger=False)
        held = wait_until(lambda: [r for r in parser.feed(port.read(4096))
                                   if "sensor_alarm" in r.flags])
    assert (held[0].spo2, held[0].pulse_rate) == (96, 80)


def test_nonin_out_of_track_values_are_none(started):
    sim = started(lambda p: NoninOximeter(p, Oximetry(out_of_track=True), data_format=8))
    with open_port(sim) as port:
        [reading] = collect(port, make_parser("nonin-df8"), 1)
    assert reading.spo2 is None and reading.pulse_rate is None
    assert "out_of_track" in reading.flags


def test_nonin_ascii_line_with_and_without_data(started):
    sim = started(lambda p: NoninOximeter(p, Oximetry(spo2=99, pulse=64), data_format="ascii",
                                          ascii_clock=True))
    parser = make_parser("nonin-ascii")
    with open_port(sim) as port:
        first = collect(port, parser, 1)[0]
        sim.set(finger=False)
        gone = wait_until(lambda: [r for r in parser.feed(port.read(4096)) if r.spo2 is None])
    assert (first.spo2, first.pulse_rate) == (99, 64)
    assert gone[0].pulse_rate is None


def test_nonin_set_format_is_acknowledged_in_its_window_only(started):
    sim = started(lambda p: NoninOximeter(p, data_format=7, supported=frozenset({2, 7, 8})))
    replies = NoninReplyParser()
    with open_port(sim) as port:
        port.write(set_format_command(8))
        wait_until(lambda: sim.data_format == 8)
        port.write(set_format_command(13))  # not supported by this model
        wait_until(lambda: len(sim.acks) == 2)
        [reading] = collect(port, make_parser("nonin-df8"), 1)
        assert reading.spo2 == 98
        sim.set_format_window = 0.0  # the 5 s window has passed
        port.write(set_format_command(2))
        wait_until(lambda: len(sim.commands) == 3)
        time.sleep(0.2)
        assert sim.data_format == 8
    assert sim.acks == [0x06, 0x15]
    assert [type(r) for r in replies.feed(bytes(sim.acks))] == [Ack, Nak]


def test_nonin_set_and_get_time(started):
    sim = started(lambda p: NoninOximeter(p, Oximetry(finger=False), data_format=13))
    replies = NoninReplyParser()
    with open_port(sim) as port:
        port.write(set_time_command(datetime(2031, 5, 6, 7, 8, 9)))
        wait_until(lambda: len(sim.commands) == 1)
        port.write(GET_TIME_COMMAND)
        [reply] = wait_until(lambda: replies.feed(port.read(64)))
    assert isinstance(reply, DeviceTime)
    assert abs((reply.timestamp - datetime(2031, 5, 6, 7, 8, 9)).total_seconds()) < 5


def test_nonin_df13_spot_checks_and_records_kept_while_unplugged(started):
    sim = started(lambda p: NoninOximeter(p, Oximetry(spo2=95, pulse=88), data_format=13))
    sim.spot_check_s = 0.3
    parser = make_parser("nonin-df13")
    with open_port(sim) as port:
        [spot] = collect(port, parser, 1)
    assert (spot.spo2, spot.pulse_rate) == (95, 88) and "smart_point" in spot.flags
    assert abs((spot.timestamp - datetime.now()).total_seconds()) < 60
    # Unplugged: the finger comes out and goes in twice; the records wait for the link.
    sim.port.unplug()
    for spo2 in (93, 94):
        sim.set(finger=False)
        wait_until(lambda: not sim.spot_taken)
        sim.set(finger=True, spo2=spo2)
        wait_until(lambda s=spo2: len(sim.stored) == s - 92)
    # The records go out the moment the simulator sees the link back, and pyserial's open()
    # discards what arrived before it: hold the simulator's lock (its connect handler takes
    # it) from the plug until the port is open, or a busy machine loses them to that race.
    with sim._lock:
        sim.port.plug()
        port = open_port(sim)
    with port:
        stored = collect(port, make_parser("nonin-df13"), 2)
    assert [r.spo2 for r in stored] == [93, 94]  # oldest first


# --- Contec CMS50 --------------------------------------------------------------------------


def test_cms50_v7_streams_after_the_start_command_and_needs_keep_alive(started):
    sim = started(lambda p: CMS50Oximeter(p, Oximetry(spo2=97, pulse=61), keepalive_timeout=1.0))
    parser = make_parser("cms50-v7")
    with open_port(sim) as port:
        time.sleep(0.3)
        assert port.read(4096) == b""  # silent until asked
        port.write(START_REALTIME)
        readings = collect(port, parser, 30)
        assert {(r.spo2, r.pulse_rate) for r in readings} == {(97, 61)}
        assert readings[0].pulse_amplitude_index == Decimal("5.12")
        for _ in range(4):  # keep-alive every 0.5 s keeps it going past the 1 s timeout
            port.write(KEEP_ALIVE)
            time.sleep(0.5)
        assert sim.streaming
        sim.set(finger=False)
        out = wait_until(lambda: [r for r in parser.feed(port.read(4096))
                                  if "probe_error" in r.flags])
        assert out[-1].spo2 is None and out[-1].pulse_rate is None
        wait_until(lambda: not sim.streaming, timeout=5)  # no keep-alive: it stops
    assert parser.errors == 0


def test_cms50_legacy_is_told_apart_by_the_auto_parser(started):
    sim = started(lambda p: CMS50Oximeter(p, Oximetry(spo2=94, pulse=140), generation="legacy"))
    parser = make_parser("cms50")
    with open_port(sim) as port:
        port.write(b"\x00")  # any byte starts the legacy stream
        readings = collect(port, parser, 10)
    assert parser.generation == "legacy"
    assert {(r.spo2, r.pulse_rate) for r in readings} == {(94, 140)}  # PR bit 7 in byte 3


# --- scales --------------------------------------------------------------------------------


def test_sma_weight_motion_zero_and_overload(started):
    sim = started(lambda p: SmaScale(p, Weighing(weight=Decimal("81.40"))))
    parser = make_parser("sma")
    with open_port(sim) as port:
        [stable] = collect(port, parser, 1, poll=REQUEST_WEIGHT)
        sim.set(motion=True, unit="lb", weight=Decimal("180.20"))
        [moving] = collect(port, parser, 1, poll=REQUEST_WEIGHT)
        sim.set(motion=False, weight=Decimal("0.00"))
        [zero] = collect(port, parser, 1, poll=REQUEST_WEIGHT)
        sim.set(weight=Decimal("300.00"), overload=True)
        [over] = collect(port, parser, 1, poll=REQUEST_WEIGHT)
        sim.set(overload=False)
        port.write(REPEAT_WEIGHT)  # continuous replies without further requests
        repeated = collect(port, parser, 3)
    assert (stable.weight, stable.unit, stable.flags) == (Decimal("81.40"), "kg", frozenset())
    assert (moving.weight, moving.unit, moving.flags) == (Decimal("180.20"), "[lb_av]",
                                                          {"motion"})
    assert zero.weight == 0 and zero.flags == {"center_of_zero"}
    assert over.weight is None and over.flags == {"overload"}
    assert {r.weight for r in repeated} == {Decimal("300.00")}
    assert parser.errors == 0


@pytest.mark.parametrize("with_checksum", [True, False])
def test_toledo_continuous(started, with_checksum):
    sim = started(lambda p: ToledoScale(p, Weighing(weight=Decimal("72.4")),
                                        with_checksum=with_checksum))
    parser = make_parser("toledo-continuous")
    with open_port(sim) as port:
        first = collect(port, parser, 2)[0]
        sim.set(motion=True, unit="lb", weight=Decimal("150.6"))
        moving = wait_until(lambda: [r for r in parser.feed(port.read(4096)) if r.flags])
        sim.set(motion=False, overload=True)
        over = wait_until(lambda: [r for r in parser.feed(port.read(4096))
                                   if "overload" in r.flags])
    assert (first.weight, first.unit, first.flags) == (Decimal("72.4"), "kg", frozenset())
    assert (moving[0].weight, moving[0].unit, moving[0].flags) == (
        Decimal("150.6"), "[lb_av]", {"motion"})
    assert over[0].weight is None
    assert parser.errors == 0


@pytest.mark.parametrize("layout", ["keyed", "tbf310"])
def test_tanita_one_line_per_weighing(started, layout):
    state = Weighing(weight=Decimal("0.0"), height=Decimal("172.0"), bmi=Decimal("24.5"))
    sim = started(lambda p: TanitaScale(p, state, layout=layout))
    parser = make_parser("tanita-csv")
    with open_port(sim) as port:
        sim.set(weight=Decimal("72.5"), motion=True)
        time.sleep(0.5)
        sim.set(motion=False)
        [first] = collect(port, parser, 1)
        time.sleep(0.5)
        assert parser.feed(port.read(4096)) == []  # still standing there: no new line
        sim.set(weight=Decimal("0.0"))
        time.sleep(0.5)
        sim.set(weight=Decimal("60.1"))
        [second] = collect(port, parser, 1)
    assert (first.weight, first.unit, first.height, first.bmi) == (
        Decimal("72.5"), "kg", Decimal("172.0"), Decimal("24.5"))
    assert second.weight == Decimal("60.1")
    if layout == "keyed":
        assert abs((first.timestamp - datetime.now()).total_seconds()) < 120
    assert parser.errors == 0


# --- Masimo, DINAMAP -----------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["radical7", "radical5", "trend"])
def test_masimo_layouts(started, layout):
    sim = started(lambda p: MasimoOximeter(p, Oximetry(spo2=93, pulse=101, low_battery=True),
                                           layout=layout))
    parser = make_parser("masimo-ascii")
    with open_port(sim) as port:
        [reading] = collect(port, parser, 1)
        sim.set(finger=False)
        off = wait_until(lambda: parser.feed(port.read(4096)))
    assert (reading.spo2, reading.pulse_rate) == (93, 101)
    assert reading.pulse_amplitude_index == Decimal("4.50")
    if layout != "trend":
        assert "low_battery" in reading.flags
    assert off[0].spo2 is None and off[0].pulse_rate is None and "sensor_off" in off[0].flags
    assert parser.errors == 0


def test_dinamap_determination_read_by_polling(started):
    sim = started(lambda p: DinamapMonitor(p, BloodPressureState(142, 91, 108, 77),
                                           determination_s=0.3))
    parser = make_parser("dinamap")
    with open_port(sim) as port:
        port.write(START_NIBP)
        [bp] = collect(port, parser, 1, poll=READ_NIBP + READ_PULSE)
        # polled again and again: the same result is not reported twice
        polls = len(sim.commands)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            port.write(READ_NIBP + READ_PULSE)
            assert parser.feed(port.read(4096)) == []
        assert len(sim.commands) > polls
        sim.set(fails=True)
        sim.measure()
        [failed] = collect(port, parser, 1, poll=READ_NIBP + READ_PULSE)
    assert (bp.systolic, bp.diastolic, bp.mean_arterial_pressure, bp.pulse_rate) == (
        142, 91, 108, 77)
    assert failed.systolic is None and "measurement_unsuccessful" in failed.flags


# --- wire faults ---------------------------------------------------------------------------

STREAMING = {
    "nonin-df2": lambda p, f: NoninOximeter(p, data_format=2, faults=f),
    "nonin-df7": lambda p, f: NoninOximeter(p, data_format=7, faults=f),
    "nonin-df8": lambda p, f: NoninOximeter(p, data_format=8, faults=f),
    "nonin-ascii": lambda p, f: NoninOximeter(p, data_format="ascii", faults=f),
    "cms50-v7": lambda p, f: CMS50Oximeter(p, faults=f),
    "cms50-legacy": lambda p, f: CMS50Oximeter(p, generation="legacy", faults=f),
    "masimo-ascii": lambda p, f: MasimoOximeter(p, faults=f),
    "toledo-continuous": lambda p, f: ToledoScale(p, Weighing(weight=Decimal("72.4")), faults=f),
}
FAULTS = {
    "garbage": WireFaults(garbage_every=2),
    "split": WireFaults(split=True),
    "slow-baud": WireFaults(bytes_per_second=960),
}


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("protocol", STREAMING)
def test_wire_faults_never_change_a_value(started, protocol, fault):
    sim = started(lambda p: STREAMING[protocol](p, FAULTS[fault]))
    parser = make_parser(protocol)
    # enough readings to span several writes (a CMS50 write carries 6 packets)
    count = {"nonin-df8": 2, "nonin-ascii": 2, "masimo-ascii": 2}.get(protocol, 4)
    count = 15 if protocol.startswith("cms50") else count
    with open_port(sim) as port:
        port.write(START_REALTIME)  # the CMS50s wait for a start; the others ignore it
        readings = collect(port, parser, count, timeout=20)
    values = {getattr(r, "spo2", None) or getattr(r, "weight", None) for r in readings}
    assert values <= {98, Decimal("72.4")}
    if fault == "garbage":
        assert parser.errors >= 1
    else:
        assert parser.errors <= 1  # the first frame may have been cut when the port opened


@pytest.mark.parametrize("fault", FAULTS)
def test_wire_faults_on_polled_devices(started, fault):
    sma = started(lambda p: SmaScale(p, Weighing(weight=Decimal("66.60")), faults=FAULTS[fault]))
    bp = started(lambda p: DinamapMonitor(p, determination_s=0.1, faults=FAULTS[fault]))
    sma_parser, bp_parser = make_parser("sma"), make_parser("dinamap")
    with open_port(sma) as port:
        readings = collect(port, sma_parser, 3, poll=REQUEST_WEIGHT, timeout=20)
    with open_port(bp) as port:
        port.write(START_NIBP)
        [pressure] = collect(port, bp_parser, 1, poll=READ_NIBP + READ_PULSE, timeout=20)
    assert {r.weight for r in readings} == {Decimal("66.60")}
    assert (pressure.systolic, pressure.pulse_rate) == (118, 70)


# --- the command -----------------------------------------------------------------------------


def test_simulate_command_prints_the_port_and_speaks_the_protocol(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "ox"
    process = subprocess.Popen(
        [sys.executable, "-m", "roomvitals.cli", "simulate", "--device", "masimo-ascii",
         "--scenario", "low-spo2", "--port", str(path)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith(f"masimo-ascii on {path} -> /dev/pts/")
        assert "(scenario low-spo2)" in line
        with serial.Serial(str(path), 9600, timeout=0.1) as port:
            [reading] = collect(port, make_parser("masimo-ascii"), 1)
        assert 86 <= reading.spo2 <= 90  # low-spo2 patient, jitter of one point
    finally:
        process.terminate()
        assert process.wait(10) == 0
