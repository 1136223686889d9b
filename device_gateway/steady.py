"""One spot reading from a streaming pulse oximeter: the gateway's steadiness rule.

A streaming oximeter (Nonin DF2/7/8 and ASCII, Contec CMS50, Masimo) sends values one to
sixty times a second for as long as the finger is in the probe. The assistant puts the probe
on and waits for a steady number; the gateway does the same, so the chart gets one reading
per placement instead of thousands:

* A sample is **good** when it has both SpO2 and pulse rate and none of the flags that say
  the device doubts them (``DOUBTFUL``: artifact, out of track, searching, sensor/probe
  trouble, low perfusion or signal, motion).
* The reading is decided when good samples have come in without a break for
  ``steady_seconds`` and, over those last ``steady_seconds``, SpO2 stayed within
  ``spo2_band`` percentage points (max - min) and pulse rate within ``pulse_band`` /min.
  A doubtful sample, or a gap of more than ``max_gap_seconds`` between samples, starts the
  count again.
* The reading carries the median (the lower one of an even count) of the window, the flags
  the window's samples had (e.g. ``marginal_perfusion``, ``low_battery``), and the device
  time and raw bytes of the last sample. It is published once.
* After that, nothing more is decided until the finger is **removed** (a sample with
  neither value, or ``sensor_alarm``/``sensor_off``/``probe_error``), the stream stops for
  more than ``max_gap_seconds``, or the link is lost (``reset``): then the next placement
  may give a new reading. Motion while the probe stays on does not re-arm it.

Per device through the config entry (``DeviceConfig.options``), e.g.::

    [[devices]]
    id = "exam-1-oximeter"
    protocol = "nonin-df7"
    steady_seconds = 8
    spo2_band = 2
    pulse_band = 5

Live values (QoS 0, for the room's live view) go out at most every
``live_interval_seconds`` unless what is shown changes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, fields
from statistics import median_low

from drivers.measurements import Measurement, PulseOximetry

DOUBTFUL = frozenset(
    {
        "artifact",
        "out_of_track",
        "searching",
        "sensor_alarm",
        "sensor_off",
        "probe_error",
        "low_perfusion",
        "low_signal",
        "motion",
        "body_movement",
        "measurement_unsuccessful",
    }
)
FINGER_OUT = frozenset({"sensor_alarm", "sensor_off", "probe_error"})
LIVE_MIN_SPACING_S = 0.2
"""Live values go out at most five times a second even while they change."""


class SteadyRuleError(ValueError):
    """A steadiness option of a device entry has a wrong value; the text says which."""


@dataclass(frozen=True)
class SteadyRule:
    steady_seconds: float = 6.0
    spo2_band: float = 2
    pulse_band: float = 5
    max_gap_seconds: float = 3.0
    live_interval_seconds: float = 1.0

    @classmethod
    def from_options(cls, options: dict, where: str = "") -> SteadyRule:
        """The rule with the device entry's overrides; other options are not ours."""
        values = {}
        for f in fields(cls):
            if f.name not in options:
                continue
            value = options[f.name]
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise SteadyRuleError(f"{where}{f.name} must be a number >= 0, not {value!r}")
            values[f.name] = float(value)
        return cls(**values)


@dataclass
class _Sample:
    at: float
    spo2: int | float
    pulse: int | float
    measurement: PulseOximetry


class SteadyDetector:
    """Feed it every sample with its arrival time (seconds, monotonic); it returns the spot
    reading once, when the rule decides it. Pure: no clock, no I/O."""

    def __init__(self, rule: SteadyRule | None = None) -> None:
        self.rule = rule or SteadyRule()
        self._run: deque[_Sample] = deque()
        self._run_start: float | None = None
        self._last_at: float | None = None
        self.decided = False
        """A reading was given for the current placement."""

    def reset(self) -> None:
        """Forget everything (the link was lost): the next placement is a new one."""
        self._run.clear()
        self._run_start = self._last_at = None
        self.decided = False

    def feed(self, measurement: Measurement, at: float) -> PulseOximetry | None:
        if not isinstance(measurement, PulseOximetry):
            return None
        if self._last_at is not None and at - self._last_at > self.rule.max_gap_seconds:
            self.reset()  # the stream stopped: whatever comes next is a new placement
        self._last_at = at
        spo2, pulse = measurement.spo2, measurement.pulse_rate
        if (spo2 is None and pulse is None) or measurement.flags & FINGER_OUT:
            self.reset()
            self._last_at = at
            return None
        if spo2 is None or pulse is None or measurement.flags & DOUBTFUL:
            self._run.clear()
            self._run_start = None
            return None
        if self.decided:
            return None
        if self._run_start is None:
            self._run_start = at
        self._run.append(_Sample(at, spo2, pulse, measurement))
        window_start = at - self.rule.steady_seconds
        while len(self._run) > 2 and self._run[0].at < window_start:
            self._run.popleft()
        if at - self._run_start < self.rule.steady_seconds or len(self._run) < 2:
            return None
        spo2s = [s.spo2 for s in self._run]
        pulses = [s.pulse for s in self._run]
        if max(spo2s) - min(spo2s) > self.rule.spo2_band:
            return None
        if max(pulses) - min(pulses) > self.rule.pulse_band:
            return None
        self.decided = True
        last = self._run[-1].measurement
        benign = frozenset().union(*(s.measurement.flags for s in self._run))
        return PulseOximetry(
            spo2=median_low(spo2s),
            pulse_rate=median_low(pulses),
            timestamp=last.timestamp,
            pulse_amplitude_index=last.pulse_amplitude_index,
            flags=benign,
            raw=last.raw,
        )


class SteadyStream:
    """A streaming device's samples -> throttled live values and one reading per placement.

    ``on_live(sample)`` and ``on_reading(measurement)`` are the link's callbacks bound to its
    device; ``clock`` is injected so the rule stays testable.
    """

    def __init__(
        self,
        rule: SteadyRule,
        on_live: Callable[[Measurement], None] | None,
        on_reading: Callable[[Measurement], None],
        clock: Callable[[], float],
    ) -> None:
        self.detector = SteadyDetector(rule)
        self._on_live = on_live
        self._on_reading = on_reading
        self._clock = clock
        self._live_shown: tuple | None = None
        self._live_at = float("-inf")

    def feed(self, measurement: Measurement) -> None:
        now = self._clock()
        self._live(measurement, now)
        reading = self.detector.feed(measurement, now)
        if reading is not None:
            self._on_reading(reading)

    def reset(self) -> None:
        self.detector.reset()
        self._live_shown = None

    def _live(self, measurement: Measurement, now: float) -> None:
        if self._on_live is None:
            return
        shown = (
            getattr(measurement, "spo2", None),
            getattr(measurement, "pulse_rate", None),
            measurement.flags,
        )
        since = now - self._live_at
        if since < LIVE_MIN_SPACING_S or (
            shown == self._live_shown and since < self.detector.rule.live_interval_seconds
        ):
            return  # a CMS50 sends 60 values a second: the live view needs a few
        self._live_shown, self._live_at = shown, now
        self._on_live(measurement)
