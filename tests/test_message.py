import contextlib
import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vitals import topics
from vitals.message import (
    DeviceInfo,
    MessageError,
    Observation,
    Reading,
    decode_reading,
    encode_reading,
    reading_schema,
    record_reading_id,
)


def make_reading(**changes) -> Reading:
    fields = dict(
        id=uuid.UUID("8d3b6b2e-54a4-4c5a-9f0e-7d0c7c1f3a11"),
        device=DeviceInfo("scale-1", "scale", "Health o meter 2101KL", "A123", "serial",
                          "healthometer-esc"),
        site="main",
        room="exam-1",
        measured_at=datetime(2026, 11, 27, 14, 0, tzinfo=UTC),
        received_at=datetime(2026, 11, 27, 14, 0, 1, tzinfo=UTC),
        observations=(Observation("weight", Decimal("90.90"), "kg", 188736, "29463-7"),),
        raw="1b52",
    )
    fields.update(changes)
    return Reading(**fields)


def test_round_trip_keeps_device_precision():
    payload = encode_reading(make_reading())
    assert b'"value":90.90' in payload
    decoded = decode_reading(payload)
    assert decoded == make_reading()
    assert str(decoded.observations[0].value) == "90.90"


def test_schema_is_shipped_and_names_every_field():
    schema = reading_schema()
    assert set(schema["required"]) >= {"schema", "id", "device", "site", "room", "measured_at",
                                       "received_at", "observations", "flags", "raw"}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("id"), "schema: id: required field is missing"),
        (lambda d: d.update(schema=2), "schema"),
        (lambda d: d["observations"][0].update(unit="cm"), "not a unit of weight"),
        (lambda d: d["observations"][0].update(loinc="8302-2"), "weight is LOINC 29463-7"),
        (lambda d: d["observations"][0].update(mdc=1), "not an MDC code of weight"),
        (lambda d: d["observations"][0].update(value=None), "needs an absent_reason"),
        (lambda d: d.update(flags=["dizzy"]), "unknown flag"),
        (lambda d: d.update(patient="Jane Doe"), "must not contain"),
        (lambda d: d.update(measured_at="yesterday"), "measured_at"),
        (lambda d: d.update(room="a/b"), "room"),
        (lambda d: d.update(observations=[]), "observations"),
    ],
)
def test_contract_violations_are_named(mutate, message):
    document = json.loads(encode_reading(make_reading()))
    mutate(document)
    with pytest.raises(MessageError, match=message):
        decode_reading(json.dumps(document).encode())


@pytest.mark.parametrize("payload", [b"", b"not json", b"[1,2]", b'{"schema":1}', b"\xff\xfe",
                                     b'{"value": NaN}', b"x" * 70000])
def test_garbage_payloads_are_message_errors(payload):
    with pytest.raises(MessageError):
        decode_reading(payload)


@given(st.binary(max_size=300))
def test_decoder_fuzz_only_raises_message_error(payload):
    with contextlib.suppress(MessageError):
        decode_reading(payload)


def test_float_values_are_refused_when_encoding():
    obs = (Observation("weight", 90.9, "kg", 188736, "29463-7"),)
    with pytest.raises(MessageError, match="never float"):
        encode_reading(make_reading(observations=obs))


def test_record_ids_are_deterministic():
    when = datetime(2026, 11, 27, 9, 30)
    a = record_reading_id("main/cuff-1/SN1", when, (("systolic", "120"), ("diastolic", "80")))
    b = record_reading_id("main/cuff-1/SN1", when, (("diastolic", "80"), ("systolic", "120")))
    c = record_reading_id("main/cuff-1/SN1", when, (("systolic", "121"), ("diastolic", "80")))
    assert a == b != c
    assert a.version == 5


def test_topics_build_and_parse():
    topic = topics.reading_topic("main", "reading", "scale-1")
    assert topic == "roomvitals/v1/main/reading/reading/scale-1"
    parsed = topics.parse_topic(topic)
    assert (parsed.site, parsed.type, parsed.room, parsed.device_id) == (
        "main", "reading", "reading", "scale-1")
    assert topics.parse_topic(topics.gateway_status_topic("main", "gw")).gateway_id == "gw"
    assert topics.SHARED_INGEST_FILTER == "$share/ingest/roomvitals/v1/+/reading/#"


@pytest.mark.parametrize("bad", ["", "a/b", "a+b", "#", "$SYS", "x" * 129])
def test_topic_segments_are_checked(bad):
    with pytest.raises(topics.TopicError):
        topics.reading_topic("main", bad, "scale-1")


@pytest.mark.parametrize("topic", ["other/v1/a/reading/b/c", "roomvitals/v1/a/reading/b",
                                   "roomvitals/v1/a/nonsense/b/c", "roomvitals/v1/a/reading/b/c/d"])
def test_bad_topics_are_refused(topic):
    with pytest.raises(topics.TopicError):
        topics.parse_topic(topic)



def test_reading_ids_are_random_version_4_uuids_unique_across_threads():
    import threading
    import uuid as uuid_module

    from vitals.message import new_reading_id

    made: list[list[uuid_module.UUID]] = [[] for _ in range(4)]

    def make(into: list) -> None:
        into.extend(new_reading_id() for _ in range(20_000))

    threads = [threading.Thread(target=make, args=(into,)) for into in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [i for into in made for i in into]
    assert len(set(every)) == len(every) == 80_000
    assert {(i.version, i.variant) for i in every} == {(4, uuid_module.RFC_4122)}


def test_a_forked_process_never_repeats_the_parents_reading_ids():
    """The ids come from a per-thread pool of random bytes: a child forked with a half-used
    pool must draw its own, or it would hand out the very ids the parent hands out next."""
    import multiprocessing

    from vitals.message import new_reading_id

    new_reading_id()  # the pool is filled and partly used
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        child = pool.apply(_ids, (50,))
    parent = _ids(50)
    assert not set(child) & set(parent)


def _ids(count: int) -> list[str]:
    from vitals.message import new_reading_id

    return [str(new_reading_id()) for _ in range(count)]
