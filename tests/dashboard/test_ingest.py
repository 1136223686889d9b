"""The ingest worker against a real Mosquitto, filing into SQLite and PostgreSQL."""

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dashboard.ingest import IngestWorker
from dashboard.models import Reading, RejectedMessage
from tests.helpers import publish, wait_until
from tests.test_message import make_reading
from vitals import topics
from vitals.message import encode_reading
from vitals.mqtt import BrokerConfig

TOPIC = topics.reading_topic("main", "exam-1", "scale-1")


def rows(engine, model) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(model))


def start_worker(engine, port: int, **kwargs) -> IngestWorker:
    worker = IngestWorker(engine, BrokerConfig(port=port),
                          client_id=f"ingest-test-{uuid.uuid4().hex[:8]}", **kwargs)
    worker.start()
    assert worker.connected.wait(10)
    wait_until(lambda: worker._client.is_connected())
    return worker


def test_bad_messages_are_rejected_counted_and_the_ingest_keeps_running(engine, mosquitto):
    worker = start_worker(engine, mosquitto.port)
    try:
        good = encode_reading(make_reading(id=uuid.uuid4()))
        publish(mosquitto.port, TOPIC, b"\x00garbage")
        publish(mosquitto.port, TOPIC, b'{"schema": 1, "id": "x"}')
        publish(mosquitto.port, topics.reading_topic("main", "exam-9", "scale-1"), good)
        publish(mosquitto.port, TOPIC, good)
        publish(mosquitto.port, TOPIC, good)  # a re-delivery: filed once
        wait_until(lambda: worker.counters.filed + worker.counters.duplicates == 2)
        assert worker.counters.rejected == 3
        assert worker.counters.filed == 1 and worker.counters.duplicates == 1
        assert rows(engine, Reading) == 1
        assert rows(engine, RejectedMessage) == 3
        with Session(engine) as session:
            reasons = session.scalars(select(RejectedMessage.reason)).all()
        assert any("not JSON" in r for r in reasons)
        assert any("disagree on room" in r for r in reasons)
    finally:
        worker.stop()


def test_readings_sent_while_the_ingest_was_away_are_filed_when_it_returns(engine, mosquitto):
    client_id = f"ingest-test-{uuid.uuid4().hex[:8]}"
    worker = IngestWorker(engine, BrokerConfig(port=mosquitto.port), client_id=client_id)
    worker.start()
    assert worker.connected.wait(10)
    wait_until(lambda: worker._client.is_connected())
    worker.stop()
    payloads = [encode_reading(make_reading(id=uuid.uuid4())) for _ in range(5)]
    for payload in payloads:
        publish(mosquitto.port, TOPIC, payload)
    # Same client id: the broker kept the persistent session and queued the five readings.
    again = IngestWorker(engine, BrokerConfig(port=mosquitto.port), client_id=client_id)
    again.start()
    try:
        wait_until(lambda: rows(engine, Reading) == 5)
    finally:
        again.stop()
