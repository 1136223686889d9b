"""One reading per weighing, remembered across gateway restarts (device_gateway/weighing.py)."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

from device_gateway.weighing import MEMORY_MAX_AGE_S, WeighingMemory
from drivers.measurements import Weight
from tests.gateway.test_gateway_serial_mqtt import readings
from tests.helpers import Collector, wait_until

ON = Weight(Decimal("90.3"))
COAT_OFF = Weight(Decimal("89.1"))
EMPTY = Weight(Decimal("0.0"))


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_weighing_is_new_once_until_the_platform_empties(tmp_path):
    tracker = WeighingMemory(tmp_path / "w.json").tracker("scale-1")
    assert [tracker.is_new(ON, True) for _ in range(3)] == [True, False, False]
    assert tracker.is_new(COAT_OFF, True) is True  # the value changed: a new reading
    assert tracker.is_new(EMPTY, False) is False
    assert tracker.is_new(ON, True) is True  # stepped off and on again


def test_a_restarted_gateway_goes_on_with_the_weighing_it_was_in(tmp_path):
    path, clock = tmp_path / "w.json", Clock()
    memory = WeighingMemory(path, clock)
    assert memory.tracker("scale-1").is_new(ON, True) is True
    memory.flush()
    # kill -9 here; the next process reads the file
    again = WeighingMemory(path, clock)
    assert again.tracker("scale-1").is_new(ON, True) is False
    assert again.tracker("scale-2").is_new(ON, True) is True  # another scale: its own
    assert json.loads(path.read_text())["scale-1"]["key"] == ["90.3", "kg", None, None]


def test_an_emptied_platform_is_remembered_too(tmp_path):
    path = tmp_path / "w.json"
    memory = WeighingMemory(path)
    tracker = memory.tracker("scale-1")
    tracker.is_new(ON, True)
    tracker.is_new(EMPTY, False)
    memory.flush()
    assert "scale-1" not in json.loads(path.read_text())
    assert WeighingMemory(path).tracker("scale-1").is_new(ON, True) is True


def test_an_old_memory_is_forgotten(tmp_path):
    path, clock = tmp_path / "w.json", Clock()
    memory = WeighingMemory(path, clock)
    memory.tracker("scale-1").is_new(ON, True)
    memory.flush()
    clock.now += MEMORY_MAX_AGE_S + 1
    assert WeighingMemory(path, clock).tracker("scale-1").is_new(ON, True) is True


def test_an_unreadable_or_unwritable_memory_never_stops_the_gateway(tmp_path, caplog):
    path = tmp_path / "w.json"
    path.write_text("{not json")
    with caplog.at_level(logging.WARNING):
        memory = WeighingMemory(path)
    assert "unreadable" in caplog.text
    assert memory.tracker("scale-1").is_new(ON, True) is True
    memory.flush()
    assert json.loads(path.read_text())["scale-1"]["key"][0] == "90.3"  # rewritten whole
    nowhere = WeighingMemory(tmp_path / "missing-dir" / "w.json")
    blocked = nowhere.tracker("scale-1")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert blocked.is_new(ON, True) is True
        nowhere.flush()
        assert blocked.is_new(ON, True) is False  # still one reading per weighing
    assert "cannot keep the weighing memory" in caplog.text


def test_a_gateway_restarted_mid_weighing_does_not_chart_it_again(mosquitto, scale,
                                                                    make_gateway):
    """A polled scale on a real pty; the gateway stops while the patient stands on it."""
    collector = Collector(mosquitto.port)
    try:
        first = make_gateway(mosquitto.port, scale.port.path)
        scale.set(weight=Decimal("90.3"))
        wait_until(lambda: len(readings(collector)) == 1)
        first.stop()
        second = make_gateway(mosquitto.port, scale.port.path)
        # The new process hears the same weight poll after poll...
        wait_until(lambda: second.counters.decoded >= 5)
        wait_until(lambda: second.outbox.depth() == 0)
        assert len(readings(collector)) == 1
        assert second.counters.queued == 0
        # ...and the next weighing, after the platform emptied, is charted.
        scale.set(weight=Decimal("0.0"))
        wait_until(lambda: second.counters.not_readings >= 1)
        scale.set(weight=Decimal("90.3"))
        wait_until(lambda: len(readings(collector)) == 2)
    finally:
        collector.close()


def test_many_changes_make_few_writes_and_the_file_ends_current(tmp_path):
    """The readings thread never waits for the file: changes are coalesced by its writer."""
    path = tmp_path / "w.json"
    memory = WeighingMemory(path)
    trackers = [memory.tracker(f"scale-{n}") for n in range(4)]
    for step in range(500):
        for number, tracker in enumerate(trackers):
            tracker.is_new(Weight(Decimal(50 + number) + Decimal(step) / 10), True)
    memory.flush()
    saved = json.loads(path.read_text())
    assert {k: v["key"][0] for k, v in saved.items()} == {
        f"scale-{n}": str(Decimal(50 + n) + Decimal(499) / 10) for n in range(4)}


def test_the_writer_thread_ends_when_idle_and_comes_back_for_the_next_change(tmp_path):
    path = tmp_path / "w.json"
    memory = WeighingMemory(path)
    tracker = memory.tracker("scale-1")
    tracker.is_new(ON, True)
    writer = memory._writer
    assert writer is not None
    writer.join(timeout=10)  # one write, an interval with nothing new, then it ends
    assert not writer.is_alive() and memory._writer is None
    tracker.is_new(EMPTY, False)
    memory.flush()
    assert "scale-1" not in json.loads(path.read_text())
