"""One reading per weighing from a scale that is asked again and again.

A polled scale answers every request with whatever is on the platform, so the same person
standing still would be charted every poll. A weighing starts when a stable, non-zero
weight appears and ends when the platform is empty again (a zero, or no value); within one
weighing only the first stable value is published, unless the value changes (the patient
took off a coat): then the new value is a new reading. Rule from the SMA/ESC implementation
notes (../shared/reference/serial-protocols.md, "Implementation notes for the gateway").

The weighing each scale is in is kept in the gateway's state directory (``WeighingMemory``),
so a gateway restarted while a patient still stands on the platform does not chart that
weighing a second time. The memory is forgotten after ``MEMORY_MAX_AGE_S``: a restart is
brief, and a much older weighing of the same value is more likely a new patient.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from drivers.measurements import Weight

log = logging.getLogger(__name__)

MEMORY_MAX_AGE_S = 600.0

Key = tuple[str | None, ...]
"""What makes two answers the same weighing: weight, unit, height, BMI (as text)."""


@dataclass
class WeighingTracker:
    remember: Callable[[Key | None], None] | None = None
    """Told every change of the current weighing (None: the platform is empty)."""
    _last: Key | None = None

    def is_new(self, measurement: Weight, is_reading: bool) -> bool:
        """True for the first answer of a new weighing; False for repeats and non-readings."""
        if not is_reading:
            if measurement.weight is None or measurement.weight <= 0:
                self._set(None)  # the platform is empty: the next weight is a new weighing
            return False
        key = tuple(
            None if value is None else str(value)
            for value in (measurement.weight, measurement.unit, measurement.height,
                          measurement.bmi)
        )
        if key == self._last:
            return False
        self._set(key)
        return True

    def _set(self, key: Key | None) -> None:
        if key != self._last:
            self._last = key
            if self.remember is not None:
                self.remember(key)


class WeighingMemory:
    """The current weighing of every polled scale, in one small JSON file
    (``{device id: {"key": [...], "at": unix time}}``), rewritten whole after changes.

    A thread of its own writes it, at most every ``WRITE_INTERVAL_S``: the readings thread
    only updates a dict (a file rewrite per weighing cost the throughput benchmark most of
    its speed). So a gateway killed within that interval of a weighing's start may chart it
    once more on restart. Not fsynced: it has to survive the gateway process, and a machine
    that lost power has been away longer than a weighing lasts. A file that cannot be read
    is forgotten; one that cannot be written is logged, and the gateway goes on (the cost is
    a weighing charted twice, which the assistant can reject)."""

    WRITE_INTERVAL_S = 0.2

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.clock = clock
        self._changed = threading.Condition()
        self._dirty = False
        self._writing = False
        self._entries: dict[str, dict] = self._load()
        self._writer: threading.Thread | None = None

    def _load(self) -> dict[str, dict]:
        try:
            data = json.loads(self.path.read_text())
            if not isinstance(data, dict):
                raise ValueError("expected an object")
            return {k: v for k, v in data.items() if isinstance(v, dict)}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("weighing memory %s unreadable (%s); starting without it",
                        self.path, exc)
            return {}

    def tracker(self, device_id: str) -> WeighingTracker:
        """A tracker that starts in the weighing remembered for this scale, if recent."""
        entry = self._entries.get(device_id) or {}
        key = entry.get("key")
        fresh = (
            isinstance(key, list)
            and isinstance(entry.get("at"), int | float)
            and 0 <= self.clock() - entry["at"] <= MEMORY_MAX_AGE_S
        )
        return WeighingTracker(
            remember=lambda changed: self._store(device_id, changed),
            _last=tuple(key) if fresh else None,
        )

    def _store(self, device_id: str, key: Key | None) -> None:
        with self._changed:
            if key is None:
                self._entries.pop(device_id, None)
            else:
                self._entries[device_id] = {"key": list(key), "at": self.clock()}
            self._dirty = True
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_loop, name="weighing-memory", daemon=True
                )
                self._writer.start()
            self._changed.notify_all()

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every change so far is in the file (or failed to get there)."""
        with self._changed:
            self._changed.wait_for(lambda: not self._dirty and not self._writing, timeout)

    def _write_loop(self) -> None:
        while True:
            with self._changed:
                if not self._dirty:  # nothing new for an interval: no thread waits idle
                    self._writer = None  # started again by the next change
                    return
                text = json.dumps(self._entries, sort_keys=True)
                self._dirty, self._writing = False, True
            partial = self.path.with_name(self.path.name + ".partial")
            try:
                partial.write_text(text)
                os.replace(partial, self.path)
            except OSError as exc:
                log.warning("cannot keep the weighing memory in %s: %s", self.path, exc)
            with self._changed:
                self._writing = False
                self._changed.notify_all()
            time.sleep(self.WRITE_INTERVAL_S)
