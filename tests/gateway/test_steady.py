"""The steadiness rule on recorded-style streams (pure: explicit times, no clock)."""

from __future__ import annotations

import pytest

from device_gateway.steady import SteadyDetector, SteadyRule, SteadyRuleError, SteadyStream
from drivers.measurements import PulseOximetry, Weight

RULE = SteadyRule(steady_seconds=5, spo2_band=2, pulse_band=5, max_gap_seconds=3)


def sample(spo2, pulse, *flags):
    return PulseOximetry(spo2=spo2, pulse_rate=pulse, flags=frozenset(flags), raw=b"x")


def run(detector, stream, start=0.0, rate=1.0):
    """Feed ``stream`` at ``rate`` samples a second; the (time, reading) pairs decided."""
    out = []
    for i, m in enumerate(stream):
        at = start + i / rate
        reading = detector.feed(m, at)
        if reading is not None:
            out.append((at, reading))
    return out


def test_a_steady_stream_gives_one_reading_after_steady_seconds():
    # 3 samples a second (Nonin DF7), SpO2 97-98, pulse 71-74
    stream = [sample(97 + i % 2, 71 + i % 4) for i in range(60)]
    [(at, reading)] = run(SteadyDetector(RULE), stream, rate=3)
    assert at == pytest.approx(5.0)
    assert reading.spo2 == 97 and reading.pulse_rate == 72  # medians (lower of the two)
    assert reading.flags == frozenset()


def test_benign_flags_of_the_window_are_kept():
    stream = [sample(96, 80, "marginal_perfusion", "low_battery")] * 8
    [(_, reading)] = run(SteadyDetector(RULE), stream)
    assert reading.flags == {"marginal_perfusion", "low_battery"}


@pytest.mark.parametrize("flag", ["artifact", "out_of_track", "searching", "low_perfusion",
                                  "motion", "low_signal"])
def test_doubtful_samples_restart_the_count(flag):
    stream = [sample(97, 72)] * 4 + [sample(97, 72, flag)] + [sample(97, 72)] * 10
    [(at, _)] = run(SteadyDetector(RULE), stream)
    assert at == 10.0  # 5 s counted again from the first good sample after the doubtful one


def test_motion_artifact_throughout_gives_nothing():
    stream = [sample(97, 72, "artifact") if i % 3 == 0 else sample(97, 72) for i in range(40)]
    assert run(SteadyDetector(RULE), stream) == []


def test_values_outside_the_band_give_nothing_until_they_settle():
    wandering = [sample(90 + (i % 2) * 4, 72) for i in range(10)]  # 90, 94, 90...: 4 > 2
    settled = [sample(95, 72)] * 10
    [(at, reading)] = run(SteadyDetector(RULE), wandering + settled)
    assert at == 14.0 and reading.spo2 == 95  # 5 s after the last wandering sample
    pulse_jumping = [sample(97, 60 + (i % 2) * 20) for i in range(20)]
    assert run(SteadyDetector(RULE), pulse_jumping) == []


def test_finger_removed_re_arms_for_the_next_placement():
    first = [sample(97, 72)] * 10
    removed = [sample(None, None, "sensor_alarm")] * 3
    second = [sample(92, 88)] * 10
    readings = run(SteadyDetector(RULE), first + removed + second)
    assert [(r.spo2, r.pulse_rate) for _, r in readings] == [(97, 72), (92, 88)]


@pytest.mark.parametrize(
    "removed",
    [
        sample(None, None),  # Nonin ASCII dashes, DF2/7 after the display hold
        sample(97, 72, "sensor_alarm"),  # Nonin holds the display value with SNSA set
        sample(None, None, "probe_error"),  # CMS50
        sample(None, None, "sensor_off"),  # Masimo
    ],
)
def test_each_devices_way_of_saying_finger_out_re_arms(removed):
    stream = [sample(97, 72)] * 8 + [removed] + [sample(97, 72)] * 8
    assert len(run(SteadyDetector(RULE), stream)) == 2


def test_motion_while_the_probe_stays_on_does_not_re_arm():
    stream = [sample(97, 72)] * 8 + [sample(97, 72, "artifact")] * 3 + [sample(97, 72)] * 10
    assert len(run(SteadyDetector(RULE), stream)) == 1


def test_a_gap_in_the_stream_starts_again():
    detector = SteadyDetector(RULE)
    assert run(detector, [sample(97, 72)] * 4) == []
    # link lost for 10 s: the 4 s before do not count towards the next 5 s
    assert detector.feed(sample(97, 72), 13.0) is None
    assert [at for at, _ in run(detector, [sample(97, 72)] * 7, start=14.0)] == [18.0]


def test_reset_re_arms_after_a_decision():
    detector = SteadyDetector(RULE)
    assert len(run(detector, [sample(97, 72)] * 8)) == 1
    detector.reset()
    assert len(run(detector, [sample(97, 72)] * 8, start=8.0)) == 1


def test_a_single_sample_is_never_steady():
    rule = SteadyRule(steady_seconds=0)
    detector = SteadyDetector(rule)
    assert detector.feed(sample(97, 72), 0.0) is None
    assert detector.feed(sample(97, 72), 0.5) is not None


def test_other_measurement_types_are_ignored():
    assert SteadyDetector(RULE).feed(Weight(weight=80), 0.0) is None


def test_options_override_the_defaults_and_bad_values_are_refused():
    rule = SteadyRule.from_options({"steady_seconds": 8, "spo2_band": 1, "address": "x"})
    assert (rule.steady_seconds, rule.spo2_band, rule.pulse_band) == (8.0, 1.0, 5)
    with pytest.raises(SteadyRuleError, match="pulse_band must be a number"):
        SteadyRule.from_options({"pulse_band": "five"}, "device ox: ")
    with pytest.raises(SteadyRuleError, match="steady_seconds"):
        SteadyRule.from_options({"steady_seconds": -1})


def test_stream_throttles_live_values_and_passes_the_reading_once():
    now = [0.0]
    live, readings = [], []
    stream = SteadyStream(RULE, live.append, readings.append, lambda: now[0])
    for i in range(600):  # 60 a second for 10 s (CMS50)
        now[0] = i / 60
        stream.feed(sample(98, 64))
    assert len(readings) == 1
    assert 9 <= len(live) <= 12  # about one a second while nothing changes
    now[0] += 0.5
    stream.feed(sample(None, None, "probe_error"))  # a change goes out at once
    assert live[-1].flags == {"probe_error"}
