"""The benchmark harness works: ``bench/run_all.py --quick --only <one>`` produces a ratio.

Only that a number came out is checked, never how good it is (the machine is shared).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(120)
def test_run_all_quick_writes_a_ratio_with_its_baseline(tmp_path, mosquitto):
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run_all.py"), "--quick", "--only",
         "gateway_throughput", "--out", str(out)],
        capture_output=True, text=True, timeout=110, cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = json.loads(out.read_text())["gateway_throughput"]
    assert set(result) >= {"value", "baseline", "ratio", "goal", "unit"}
    assert result["baseline"] > 0 and math.isfinite(result["ratio"]) and result["ratio"] > 0
    assert "ratio" in done.stdout and "baseline" in done.stdout


@pytest.mark.timeout(60)
def test_the_ingest_load_generator_speaks_mqtt_the_broker_accepts(mosquitto):
    """``PacketPublisher`` builds its packets by hand: a paho subscriber must receive every
    message intact, in order, with topics and payloads of several length classes."""
    sys.path.insert(0, str(ROOT))
    from bench.common import Counter, PacketPublisher, wait_for

    counter = Counter(mosquitto.port, "bench/packets/#", "test-packets-sub")
    received: list[tuple[str, bytes]] = []
    counter.client.on_message = lambda c, u, m: received.append((m.topic, m.payload))
    # Lengths either side of the 1- and 2-byte "remaining length" boundaries (127, 16383).
    messages = [(f"bench/packets/{n}", bytes([n % 251]) * size)
                for n, size in enumerate([0, 1, 100, 110, 127, 128, 16_370, 16_384, 70_000])]
    messages += [(f"bench/packets/many/{n}", str(n).encode()) for n in range(3000)]
    publisher = PacketPublisher(mosquitto.port, "test-packets-pub")
    try:
        publisher.publish(publisher.prepare(messages))
        publisher.wait_acked(timeout=30)
        wait_for(lambda: len(received) >= len(messages), 30, "the messages")
    finally:
        publisher.close()
        counter.close()
    assert publisher.acked == len(messages)
    assert received == messages



@pytest.mark.timeout(120)
def test_paused_ingest_workers_drain_the_backlog_they_were_dealt(tmp_path):
    """The ingest benchmark's backlog way: two ``roomvitals ingest`` processes stopped while
    the readings are published, then resumed, file every one of them."""
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from bench import ingest
    from bench.stack import seed_clinic
    from dashboard.db import make_engine, upgrade
    from dashboard.models import Reading

    url = f"sqlite:///{tmp_path / 'ingest.sqlite3'}"
    upgrade(url)
    seed_clinic(url, rooms=ingest.ROOMS)
    engine = make_engine(url)
    try:
        messages = ingest.payloads(600)
        rate = ingest.workers_rate(url, messages, 2, engine, backlog=True)
        with Session(engine) as session:
            filed = set(session.scalars(select(Reading.id)))
    finally:
        engine.dispose()
    assert math.isfinite(rate) and rate > 0
    assert {json.loads(payload)["id"] for _, payload in messages} <= filed
