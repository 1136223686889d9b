"""The fast reading codec (msgspec) against the published contract.

The reference is what vitals.message did before: the standard ``json`` module, the shipped
JSON Schema compiled by fastjsonschema, then the rules a schema cannot say. Documents
derived from valid messages by random mutations must be accepted by the codec exactly when
the reference accepts them; valid readings of every kind must round-trip, byte for byte as
the old encoder wrote them; and fixed payloads must decode to known readings.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
import typing
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import fastjsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vitals import decimal_json, message
from vitals.flags import FLAGS
from vitals.kinds import KINDS
from vitals.message import (
    MAX_PAYLOAD_BYTES,
    DeviceInfo,
    MessageError,
    Observation,
    Reading,
    decode_reading,
    encode_reading,
    from_document,
    reading_schema,
    to_document,
    validate_document,
)
from vitals.topics import TopicError

SCHEMA = reading_schema()
PROPERTIES = SCHEMA["properties"]
DEVICE_PROPERTIES = PROPERTIES["device"]["properties"]
OBSERVATION_PROPERTIES = PROPERTIES["observations"]["items"]["properties"]
SCHEMA_KINDS: list[str] = OBSERVATION_PROPERTIES["kind"]["enum"]
ABSENT_REASONS: list[str] = OBSERVATION_PROPERTIES["absent_reason"]["enum"]
DEVICE_KINDS: list[str] = DEVICE_PROPERTIES["kind"]["enum"]
TRANSPORTS: list[str] = DEVICE_PROPERTIES["transport"]["enum"]
SOURCES: list[str] = PROPERTIES["measured_at_source"]["enum"]


# --- the reference: json + fastjsonschema + the rules, as vitals.message did before --------

_SCHEMA_CHECK = fastjsonschema.compile(SCHEMA)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def reference_accepts(payload: bytes) -> bool:
    if len(payload) > MAX_PAYLOAD_BYTES:
        return False
    try:
        document = json.loads(payload, parse_float=Decimal, parse_constant=_no_constant)
    except ValueError:  # not JSON, not UTF-8, or an integer of more than 4300 digits
        return False
    if not isinstance(document, dict):
        return False
    try:
        _SCHEMA_CHECK(document)
    except fastjsonschema.JsonSchemaException:
        return False
    return rules_hold(document)


def rules_hold(document: dict[str, Any]) -> bool:
    if set(document["flags"]) - FLAGS:
        return False
    for obs in document["observations"]:
        kind = KINDS[obs["kind"]]
        if obs["unit"] not in kind.units or obs["mdc"] not in kind.mdc_codes:
            return False
        if obs["loinc"] != kind.loinc:
            return False
        if (obs["value"] is None) != ("absent_reason" in obs):
            return False
    for name in ("measured_at", "received_at"):
        try:
            datetime.fromisoformat(document[name].replace("Z", "+00:00"))
        except ValueError:
            return False
    return True


def codec_accepts(payload: bytes) -> bool:
    try:
        decode_reading(payload)
    except MessageError:
        return False
    return True


# --- valid readings ---------------------------------------------------------------------

# At most 30 characters of up to 4 UTF-8 bytes: within check_segment's 128 bytes.
segments = st.text(
    st.characters(exclude_characters="/+#\x00", exclude_categories=("Cs",)),
    min_size=1,
    max_size=30,
).filter(lambda text: not text.startswith("$"))
numbers = st.one_of(
    st.decimals(
        min_value=Decimal("-1e9"), max_value=Decimal("1e9"), allow_nan=False, allow_infinity=False
    ),
    st.integers(-(10**6), 10**6),
    st.sampled_from(
        [Decimal("90.90"), Decimal("1E+2"), Decimal("1E-7"), Decimal("0E-7"), Decimal("-0.0"),
         Decimal("-0")]
    ),
)
offsets = st.sampled_from(
    [UTC, timezone(timedelta(0)), timezone(timedelta(hours=-5)),
     timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=23, minutes=59))]
)
moments = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=offsets
)
# Whole milliseconds, as to_document rounds them, so the float comes back equal.
clock_offsets = st.none() | st.integers(-(10**7), 10**7).map(
    lambda ms: float(Decimal(ms).scaleb(-3))
)


@st.composite
def observations(draw: st.DrawFn) -> Observation:
    kind = KINDS[draw(st.sampled_from(SCHEMA_KINDS))]
    absent = draw(st.none() | st.sampled_from(ABSENT_REASONS))
    return Observation(
        kind.name,
        None if absent else draw(numbers),
        draw(st.sampled_from(sorted(kind.units))),
        draw(st.sampled_from(sorted(kind.mdc_codes))),
        kind.loinc,
        absent,
    )


@st.composite
def readings(draw: st.DrawFn) -> Reading:
    return Reading(
        id=draw(st.uuids()),
        device=DeviceInfo(
            id=draw(segments),
            kind=draw(st.sampled_from(DEVICE_KINDS)),
            model=draw(st.text(max_size=40)),
            serial=draw(st.text(max_size=40)),
            transport=draw(st.sampled_from(TRANSPORTS)),
            protocol=draw(st.text(max_size=40)),
            clock_offset_s=draw(clock_offsets),
        ),
        site=draw(segments),
        room=draw(segments),
        measured_at=draw(moments),
        received_at=draw(moments),
        observations=tuple(draw(st.lists(observations(), min_size=1, max_size=6))),
        flags=draw(st.frozensets(st.sampled_from(sorted(FLAGS)), max_size=5)),
        raw=draw(st.binary(max_size=40)).hex(),
        measured_at_source=draw(st.sampled_from(SOURCES)),
    )


def base_reading(**changes: Any) -> Reading:
    fields: dict[str, Any] = dict(
        id=uuid.UUID("8d3b6b2e-54a4-4c5a-9f0e-7d0c7c1f3a11"),
        device=DeviceInfo("cuff-1", "bp_monitor", "UA-651BLE", "5150123", "ble", "ble-2a35"),
        site="main",
        room="exam-1",
        measured_at=datetime(2026, 11, 27, 14, 0, tzinfo=UTC),
        received_at=datetime(2026, 11, 27, 14, 0, 1, 250000, tzinfo=UTC),
        observations=(
            Observation("systolic", Decimal("128"), "mm[Hg]", 150021, "8480-6"),
            Observation("diastolic", Decimal("82"), "mm[Hg]", 150022, "8462-4"),
            Observation("mean_arterial_pressure", None, "mm[Hg]", 150023, "8478-0", "error"),
        ),
        flags=frozenset({"irregular_pulse"}),
        raw="1e8000520053",
    )
    fields.update(changes)
    return Reading(**fields)


# --- mutations ----------------------------------------------------------------------------

_UUID = "0f8fad5b-d9cb-469f-a165-70867728950e"
_SEGMENT_VALUES = ["a", "", "$SYS", "a$", "a/b", "a+b", "#", "x\x00", "a\n", "é" * 128, "é" * 129]
_TIMES = [
    "2026-11-27T14:00:00Z", "2026-11-27T14:00:00.1Z", "2026-11-27T14:00:00.123456+01:00",
    "2026-11-27T14:00:00.1234567Z", "2026-11-27T24:00:00Z", "2026-11-27T14:00:60Z",
    "2026-02-30T14:00:00Z", "2026-11-27t14:00:00Z", "2026-11-27T14:00:00",
    "2026-11-27T14:00:00+0100", "2026-11-27T14:00:00Z\n", "2026-11-27T14:00:00+24:00",
    "2026-11-27T14:00:00-00:00", "2026-11-27T14:00:00+23:59", "2026-11-27 14:00:00Z",
    "\u0662\u0660\u0662\u0666-11-27T14:00:00Z",  # Arabic-Indic digits: a regex \d, no year
    "yesterday",
]
_ALL_UNITS = sorted({unit for kind in KINDS.values() for unit in kind.units})
_ALL_MDC = sorted({code for kind in KINDS.values() for code in kind.mdc_codes})
_ALL_LOINC = sorted({kind.loinc for kind in KINDS.values()})
# Candidate values by field name (an "id" gets both reading-id and device-id candidates).
_BY_FIELD: dict[str, list[Any]] = {
    "schema": [1, 2, 0, True, Decimal("1.0"), "1", None],
    "id": [_UUID, _UUID.upper(), _UUID.replace("-", ""), _UUID + "\n", "{" + _UUID + "}",
           _UUID[:-1] + "g", *_SEGMENT_VALUES],
    "kind": [*SCHEMA_KINDS, *DEVICE_KINDS, "pain_score", "Weight", ""],
    "unit": [*_ALL_UNITS, "", "x" * 20, "x" * 21, "{score}"],
    "mdc": [*_ALL_MDC, 0, -1, True, Decimal("188736.0"), Decimal("1E+2"), 2**70, "188736"],
    "loinc": [*_ALL_LOINC, "29463-7\n", "12345678-9", "8302-22", "abc", ""],
    "value": [None, 0, -1, 2**80, Decimal("1.5"), Decimal("-0.0"), Decimal("1E+400"), True,
              False, "90.9", "NaN", [], {}, [Decimal("1.5")]],
    "absent_reason": [*ABSENT_REASONS, None, "", "nan", 1],
    "clock_offset_s": [None, 0, Decimal("-1.5"), Decimal("1E+3"), "1", True, []],
    "site": _SEGMENT_VALUES,
    "room": _SEGMENT_VALUES,
    "measured_at": _TIMES,
    "received_at": _TIMES,
    "measured_at_source": [*SOURCES, "Device", "", None],
    "model": ["", "x" * 200, "x" * 201, "é" * 200, 5, None],
    "serial": ["", "x" * 200, "x" * 201, None],
    "protocol": ["", "x" * 100, "x" * 101, None],
    "transport": [*TRANSPORTS, "usb", ""],
    "flags": [[], ["motion"], ["motion", "motion"], ["dizzy"], ["Motion"], ["motion\n"], [1],
              sorted(FLAGS), "motion", None],
    "raw": ["", "ab", "abc", "AB", "ab\n", "zz", "0" * 8192, "0" * 8194, None],
    "observations": [[], {}, None],
    "device": [{}, [], None],
}
_GENERIC: list[Any] = [None, True, False, 0, -1, 7, Decimal("2.5"), "", "x", [], {}, [1],
                       {"a": 1}]
_NEW_KEYS = [*PROPERTIES, *DEVICE_PROPERTIES, *OBSERVATION_PROPERTIES, "patient", "Kind", ""]


def _containers(node: Any) -> list[Any]:
    found = [node] if isinstance(node, dict | list) else []
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    for child in children:
        found += _containers(child)
    return found


def _slots(document: dict[str, Any]) -> list[tuple[Any, Any]]:
    """Every (container, key or index) of the document."""
    slots: list[tuple[Any, Any]] = []
    for node in _containers(document):
        slots += [(node, key) for key in (node if isinstance(node, dict) else range(len(node)))]
    return slots


def _copy(value: Any) -> Any:
    return json.loads(decimal_json.dumps(value), parse_float=Decimal)


def _candidate(key: Any, rng: random.Random) -> Any:
    if isinstance(key, str) and key in _BY_FIELD and rng.random() < 0.7:
        return _copy(rng.choice(_BY_FIELD[key]))
    return _copy(rng.choice(_GENERIC))


# Near misses of a valid string: anchors, case, reserved characters, lengths.
_TWEAKS = [
    lambda text: text + "\n",
    lambda text: "$" + text,
    lambda text: text + "/",
    str.upper,
    lambda text: text[:-1],
    lambda text: text * 2,
    lambda text: text + "é" * (128 - len(text)),
    lambda text: text + "0",
]


def mutate(document: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """One to three random changes anywhere in a copy of ``document``."""
    document = _copy(document)
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        operation = rng.choice(["replace", "replace", "tweak", "drop", "add"])
        if operation == "add":
            node = rng.choice(_containers(document))
            if isinstance(node, dict):
                key = rng.choice(_NEW_KEYS)
                node[key] = _candidate(key, rng)
            else:
                node.append(_copy(rng.choice(node)) if node and rng.random() < 0.7
                            else _candidate(None, rng))
            continue
        slots = _slots(document)
        if operation == "tweak":
            slots = [(node, key) for node, key in slots if isinstance(node[key], str)]
        node, key = rng.choice(slots)
        if operation == "drop":
            del node[key]
        elif operation == "tweak":
            node[key] = rng.choice(_TWEAKS)(node[key])
        else:
            node[key] = _candidate(key, rng)
    return document


def assert_agrees(document: dict[str, Any]) -> bool:
    payload = decimal_json.dumps(document).encode("utf-8")
    expected = reference_accepts(payload)
    assert codec_accepts(payload) == expected, payload
    try:
        validate_document(json.loads(payload, parse_float=Decimal))
    except MessageError:
        assert not expected, payload
    else:
        assert expected, payload
    if expected:
        assert decode_reading(payload) == from_document(json.loads(payload, parse_float=Decimal))
    return expected


@given(readings(), st.randoms(use_true_random=False))
def test_codec_accepts_exactly_what_schema_and_rules_accept(reading, rng):
    assert_agrees(mutate(to_document(reading), rng))


def test_mutations_reach_both_outcomes():
    """The same mutations, seeded: the property above is not vacuous either way."""
    rng = random.Random(20261127)
    outcomes = [
        assert_agrees(mutate(to_document(base_reading()), rng)) for _ in range(1500)
    ]
    assert outcomes.count(True) >= 150
    assert outcomes.count(False) >= 750


@pytest.mark.parametrize(
    ("mutate_document", "expected"),
    [
        (lambda d: d["observations"][0].update(value="128"), "observations[0].value"),
        (lambda d: d["device"].update(clock_offset_s="1.5"), "device.clock_offset_s"),
        (lambda d: d["observations"][0].update(value=True), "observations[0].value"),
        (lambda d: d["observations"][0].update(mdc=Decimal("150021.0")), "observations[0].mdc"),
        (lambda d: d["observations"][0].update(mdc=True), "observations[0].mdc"),
        (lambda d: d.update(schema=True), "schema"),
        (lambda d: d.update(flags=["motion", "motion"]), "flags"),
        (lambda d: d.update(raw="abc"), "raw"),
        (lambda d: d.update(raw="ab\n"), "raw"),
        (lambda d: d.update(id=_UUID + "\n"), "id"),
        (lambda d: d.update(id=_UUID.upper()), "id"),
        (lambda d: d["device"].update(id="$SYS"), "device.id"),
        (lambda d: d.update(received_at="2026-11-27T14:00:00.1234567Z"), "received_at"),
        (lambda d: d.update(received_at="2026-11-27T24:00:00Z"), "received_at"),
        (lambda d: d["observations"][2].pop("absent_reason"), "observations[2]"),
        (lambda d: d["observations"][2].update(absent_reason=None), "absent_reason"),
        (lambda d: d["observations"][0].pop("unit"), "observations[0].unit"),
        (lambda d: d["device"].update(colour="red"), "device.colour"),
        (lambda d: d.update(observations=[d["observations"][0]] * 33), "observations"),
    ],
)
def test_named_violations(mutate_document, expected):
    document = json.loads(encode_reading(base_reading()), parse_float=Decimal)
    mutate_document(document)
    payload = decimal_json.dumps(document).encode()
    assert not reference_accepts(payload)
    with pytest.raises(MessageError, match=re.escape(expected)):
        decode_reading(payload)


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_finite_literals_are_refused(literal):
    payload = encode_reading(base_reading()).replace(b'"value":128', b'"value":' + literal)
    with pytest.raises(MessageError, match="not JSON"):
        decode_reading(payload)


def test_numbers_beyond_any_float_stay_exact():
    payload = encode_reading(base_reading()).replace(b'"value":128', b'"value":1e400')
    assert decode_reading(payload).observations[0].value == Decimal("1E+400")


# --- round trips --------------------------------------------------------------------------


def assert_round_trip(reading: Reading) -> None:
    payload = encode_reading(reading)
    # Byte for byte what the json + decimal_json encoder wrote before.
    assert payload == decimal_json.dumps(to_document(reading)).encode("utf-8")
    assert reference_accepts(payload)
    decoded = decode_reading(payload)
    assert decoded == reading
    assert decoded.extra == {}
    for before, after in zip(reading.observations, decoded.observations, strict=True):
        if before.value is not None:  # the digits the device sent, in plain notation
            sent = json.loads(decimal_json.dumps(before.value), parse_float=Decimal)
            assert str(after.value) == str(Decimal(sent))
            assert type(after.value) is Decimal


@given(readings())
def test_valid_readings_round_trip(reading):
    assert_round_trip(reading)


@pytest.mark.parametrize("kind_name", SCHEMA_KINDS)
def test_every_kind_round_trips(kind_name):
    kind = KINDS[kind_name]
    for unit in sorted(kind.units):
        for mdc in sorted(kind.mdc_codes):
            for value in (Decimal("12.30"), Decimal("0"), 7, Decimal("-0.5")):
                obs = Observation(kind_name, value, unit, mdc, kind.loinc)
                assert_round_trip(base_reading(observations=(obs,)))
        for reason in ABSENT_REASONS:
            obs = Observation(kind_name, None, unit, kind.mdc, kind.loinc, reason)
            assert_round_trip(base_reading(observations=(obs,)))


def test_device_time_readings_round_trip():
    device = DeviceInfo("cuff-1", "bp_monitor", "UA-651BLE", "5150123", "ble", "ble-2a35",
                        clock_offset_s=-12.25)
    eastern = timezone(timedelta(hours=-5))
    reading = base_reading(
        device=device,
        measured_at=datetime(2026, 11, 27, 8, 59, 47, tzinfo=eastern),
        measured_at_source="device",
    )
    assert_round_trip(reading)
    assert b'"clock_offset_s":-12.25' in encode_reading(reading)
    assert b'"measured_at":"2026-11-27T08:59:47-05:00"' in encode_reading(reading)
    for offset in (0.0, 3600.0, -0.001, 1e-3, 86400.5):
        assert_round_trip(base_reading(device=dataclasses.replace(device, clock_offset_s=offset)))


def test_decimals_in_exponent_form_are_sent_plain():
    obs = (Observation("weight", Decimal("1E+2"), "kg", 188736, "29463-7"),
           Observation("height", Decimal("1.7E-7"), "m", 188740, "8302-2"))
    payload = encode_reading(base_reading(observations=obs))
    assert b'"value":100,' in payload and b'"value":0.00000017,' in payload


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"observations": (Observation("weight", 90.9, "kg", 188736, "29463-7"),)}, "never float"),
        ({"observations": (Observation("weight", Decimal("NaN"), "kg", 188736, "29463-7"),)},
         "non-finite"),
        ({"observations": (Observation("weight", Decimal("-Infinity"), "kg", 188736,
                                       "29463-7"),)}, "non-finite"),
        ({"device": DeviceInfo("s", "scale", clock_offset_s=float("nan"))}, "non-finite"),
        ({"observations": (Observation("weight", True, "kg", 188736, "29463-7"),)},
         "observations[0].value"),
        ({"observations": (Observation("weight", Decimal(1), "cm", 188736, "29463-7"),)},
         "not a unit of weight"),
        ({"observations": (Observation("weight", Decimal(1), "kg", 188736, "29463-7", "error"),)},
         "a value and an absent_reason together"),
        ({"observations": ()}, "observations"),
        ({"raw": "abc"}, "raw"),
        ({"flags": frozenset({"dizzy"})}, "unknown flag"),
        ({"measured_at": datetime(2026, 11, 27, 14, 0)}, "UTC offset"),
        ({"measured_at": datetime(2026, 11, 27, tzinfo=timezone(timedelta(seconds=3601)))},
         "measured_at"),
        ({"device": DeviceInfo("s", "scale", model=object())}, "cannot encode"),  # type: ignore[arg-type]
        ({"device": DeviceInfo("s", "scale", model="\ud800")}, "cannot encode"),
        ({"device": DeviceInfo("s", "scale", model="x" * 201)}, "device.model"),
    ],
)
def test_encoding_refuses_what_would_break_the_contract(changes, expected):
    with pytest.raises(MessageError, match=re.escape(expected)):
        encode_reading(base_reading(**changes))


def test_bad_topic_segments_stay_topic_errors():
    with pytest.raises(TopicError):
        encode_reading(base_reading(room="a/b"))
    with pytest.raises(TopicError):  # 128 characters of 2 bytes: the schema allows, MQTT not
        encode_reading(base_reading(site="é" * 128))


# --- fixed payloads -----------------------------------------------------------------------

EXAMPLE = (
    b'{"schema":1,"id":"3f0b8c4e-2a51-5d7e-9c33-6a1e0f4b2d97",'
    b'"device":{"id":"cuff-2","kind":"bp_monitor","model":"UA-651BLE","serial":"5150123",'
    b'"transport":"ble","protocol":"ble-2a35","clock_offset_s":-12.25},'
    b'"site":"main","room":"exam-3","measured_at":"2026-11-27T08:59:47-05:00",'
    b'"measured_at_source":"device","received_at":"2026-11-27T14:00:01.250000Z",'
    b'"observations":['
    b'{"kind":"systolic","value":128,"unit":"mm[Hg]","mdc":150021,"loinc":"8480-6"},'
    b'{"kind":"diastolic","value":82,"unit":"mm[Hg]","mdc":150022,"loinc":"8462-4"},'
    b'{"kind":"mean_arterial_pressure","value":null,"unit":"mm[Hg]","mdc":150023,'
    b'"loinc":"8478-0","absent_reason":"not-a-number"},'
    b'{"kind":"pulse_rate","value":71,"unit":"/min","mdc":149546,"loinc":"8867-4"}],'
    b'"flags":["body_movement","irregular_pulse"],"raw":"1e8000520053005a00ea07"}'
)
EXAMPLE_READING = Reading(
    id=uuid.UUID("3f0b8c4e-2a51-5d7e-9c33-6a1e0f4b2d97"),
    device=DeviceInfo("cuff-2", "bp_monitor", "UA-651BLE", "5150123", "ble", "ble-2a35",
                      clock_offset_s=-12.25),
    site="main",
    room="exam-3",
    measured_at=datetime(2026, 11, 27, 8, 59, 47, tzinfo=timezone(timedelta(hours=-5))),
    received_at=datetime(2026, 11, 27, 14, 0, 1, 250000, tzinfo=UTC),
    observations=(
        Observation("systolic", Decimal("128"), "mm[Hg]", 150021, "8480-6"),
        Observation("diastolic", Decimal("82"), "mm[Hg]", 150022, "8462-4"),
        Observation("mean_arterial_pressure", None, "mm[Hg]", 150023, "8478-0", "not-a-number"),
        Observation("pulse_rate", Decimal("71"), "/min", 149546, "8867-4"),
    ),
    flags=frozenset({"body_movement", "irregular_pulse"}),
    raw="1e8000520053005a00ea07",
    measured_at_source="device",
)
SCALE_EXAMPLE = (
    b'{\n  "schema": 1,\n  "id": "8d3b6b2e-54a4-4c5a-9f0e-7d0c7c1f3a11",\n'
    b'  "device": {"id": "scale-1", "kind": "scale", "model": "Health o meter 2101KL",\n'
    b'             "serial": "A123", "transport": "serial", "protocol": "healthometer-esc"},\n'
    b'  "site": "main", "room": "exam-1",\n'
    b'  "measured_at": "2026-11-27T14:00:00Z", "measured_at_source": "gateway",\n'
    b'  "received_at": "2026-11-27T14:00:01Z",\n'
    b'  "observations": [{"kind": "weight", "value": 198.40, "unit": "[lb_av]",\n'
    b'                    "mdc": 188736, "loinc": "29463-7"}],\n'
    b'  "flags": [], "raw": "1b52"\n}\n'
)


def test_fixed_example_decodes_to_the_expected_reading():
    reading = decode_reading(EXAMPLE)
    assert reading == EXAMPLE_READING
    assert reading.measured_at.utcoffset() == timedelta(hours=-5)
    assert reading.received_at.tzinfo is not None
    assert encode_reading(EXAMPLE_READING) == EXAMPLE


def test_fixed_pretty_printed_example_keeps_its_digits():
    reading = decode_reading(SCALE_EXAMPLE)
    assert str(reading.observations[0].value) == "198.40"
    assert reading.observations[0].unit == "[lb_av]"
    assert reading.received_at == datetime(2026, 11, 27, 14, 0, 1, tzinfo=UTC)
    assert reading.device.clock_offset_s is None and reading.flags == frozenset()
    assert b'"value":198.40,' in encode_reading(reading)


# --- the structs mirror the shipped schema ------------------------------------------------


def _literal(alias: Any) -> list[Any]:
    return list(typing.get_args(alias))


def _pattern(alias: Any) -> str:
    return typing.get_args(alias)[1].pattern


def test_struct_enums_are_the_schema_enums():
    assert _literal(message._ObservationKind) == SCHEMA_KINDS
    assert _literal(message._AbsentReason) == ABSENT_REASONS
    assert _literal(message._DeviceKind) == DEVICE_KINDS
    assert _literal(message._Transport) == TRANSPORTS


def test_struct_patterns_are_the_schema_patterns():
    definitions = SCHEMA["definitions"]
    assert _pattern(message._Segment) == definitions["segment"]["pattern"].replace("$", r"\Z")
    assert _pattern(message._Timestamp) == definitions["timestamp"]["pattern"].replace("$", r"\Z")
    assert _pattern(message._Uuid) == PROPERTIES["id"]["pattern"].replace("$", r"\Z")


def test_patterns_left_to_rules_are_implied_by_them():
    """The codec checks a LOINC by equality with its kind's and a flag by the vocabulary."""
    loinc = OBSERVATION_PROPERTIES["loinc"]["pattern"]
    assert all(re.search(loinc, KINDS[name].loinc) for name in SCHEMA_KINDS)
    flag = PROPERTIES["flags"]["items"]["pattern"]
    assert all(re.search(flag.replace("$", r"\Z"), name) for name in FLAGS)
    assert PROPERTIES["raw"]["pattern"] == "^([0-9a-f]{2})*$"
