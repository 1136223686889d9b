"""One reading per weighing from a scale that is asked again and again.

A polled scale answers every request with whatever is on the platform, so the same person
standing still would be charted every poll. A weighing starts when a stable, non-zero
weight appears and ends when the platform is empty again (a zero, or no value); within one
weighing only the first stable value is published, unless the value changes (the patient
took off a coat): then the new value is a new reading. Rule from the SMA/ESC implementation
notes (../shared/reference/serial-protocols.md, "Implementation notes for the gateway").
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.measurements import Weight


@dataclass
class WeighingTracker:
    _last: tuple | None = None

    def is_new(self, measurement: Weight, is_reading: bool) -> bool:
        """True for the first answer of a new weighing; False for repeats and non-readings."""
        if not is_reading:
            if measurement.weight is None or measurement.weight <= 0:
                self._last = None  # the platform is empty: the next weight is a new weighing
            return False
        key = (measurement.weight, measurement.unit, measurement.height, measurement.bmi)
        if key == self._last:
            return False
        self._last = key
        return True
