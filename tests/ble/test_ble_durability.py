"""A BLE link dropped mid-transfer (issue "Never lose a reading"): every record the cuff
stored is in the database exactly once, in order of measurement, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from dashboard.db import make_engine
from dashboard.ingest import IngestWorker
from dashboard.models import Reading
from simulators.ble import encoding
from simulators.ble.scenarios import scenario
from tests.helpers import wait_until
from vitals.mqtt import BrokerConfig


def test_link_dropped_mid_transfer_files_every_record_once(
        mosquitto, radio, ble_gateway, database_url):
    cuff = radio.call(radio.add("bp-cuff", scenario("vanish")))  # drops the link after 2
    systolics = [Decimal(120 + i) for i in range(5)]
    for i, systolic in enumerate(systolics):
        cuff.store(encoding.blood_pressure(encoding.BloodPressureRecord(
            systolic, Decimal(80), Decimal(93), Decimal(66),
            timestamp=datetime(2026, 3, 2, 10, i), user_id=1, status=0)))
    engine = make_engine(database_url)
    ingest = IngestWorker(engine, BrokerConfig(port=mosquitto.port),
                          client_id=f"ble-drop-{uuid.uuid4().hex[:8]}")
    ingest.start()
    try:
        assert ingest.connected.wait(10)
        ble_gateway(mosquitto.port, {"id": "cuff-1", "protocol": "blood-pressure",
                                     "address": cuff.address})
        wait_until(lambda: ingest.counters.filed >= 5, timeout=60)
        # later sessions re-send the backlog: nothing more is filed
        wait_until(lambda: cuff.counters.connections >= 3, timeout=60)
        assert cuff._vanished
        with Session(engine) as db:
            rows = db.scalars(select(Reading).options(selectinload(Reading.observations))
                              .order_by(Reading.measured_at)).all()
            filed = [next(o.value for o in r.observations if o.kind == "systolic")
                     for r in rows]
        assert filed == [str(s) for s in systolics]  # each once, in order of measurement
        assert ingest.counters.filed == 5
    finally:
        ingest.stop()
        engine.dispose()
