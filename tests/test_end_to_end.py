"""simulator -> pty -> gateway -> Mosquitto -> ingest -> database -> room page, on real parts."""

import os
import re
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import uuid
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from dashboard import create_app
from dashboard.auth import create_user
from dashboard.db import make_engine
from dashboard.ingest import IngestWorker
from device_gateway.gateway import Gateway
from roomvitals.broker import free_port, wait_for_port
from simulators.serial.healthometer_esc import HealthOMeterScale, ScaleState
from simulators.serial.pty_port import PtyPort
from tests.gateway.conftest import gateway_config
from tests.helpers import Browser, wait_until
from vitals.mqtt import BrokerConfig


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def test_a_weight_reaches_the_room_page(tmp_path, mosquitto, database_url):
    scale = HealthOMeterScale(PtyPort(tmp_path / "dev" / "scale"), ScaleState(weight=Decimal(0)))
    scale.start()
    config = gateway_config(tmp_path, mosquitto.port, scale.port.path)
    gateway = Gateway(config)
    engine = make_engine(database_url)
    ingest = IngestWorker(engine, BrokerConfig(port=mosquitto.port),
                          client_id=f"e2e-{uuid.uuid4().hex[:8]}")
    app = create_app({"DATABASE_URL": database_url, "SITE": config.site})
    with Session(engine) as db, db.begin():
        create_user(db, "ma.jones", "assistant", "correct horse battery")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        ingest.start()
        assert ingest.connected.wait(10)
        gateway.start()
        scale.set(weight=Decimal("93.6"), height=Decimal("181.00"))
        wait_until(lambda: ingest.counters.filed == 1, timeout=20)
        browser = Browser(base)
        status, _ = browser.login("ma.jones", "correct horse battery")
        assert status == 200
        status, page = browser.request(f"/rooms/{config.site}/exam-1")
        assert status == 200
        assert re.search(r'class="value">93.6</span> <span class="unit">kg', page)
        assert re.search(r'class="value">181.00</span> <span class="unit">cm', page)
        assert "scale-1" in page and "Health o meter 2101KL" in page
        assert "exam-1" in browser.request("/")[1]
    finally:
        server.shutdown()
        gateway.stop()
        ingest.stop()
        scale.stop()
        engine.dispose()


@pytest.mark.timeout(120)
def test_the_demo_command_serves_rooms_with_simulated_weights(tmp_path):
    port = free_port()
    demo = subprocess.Popen(
        [sys.executable, "-m", "roomvitals.cli", "demo", "--port", str(port),
         "--state-dir", str(tmp_path / "demo")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(demo.stdout), daemon=True).start()
    try:
        wait_for_port(port, timeout=60)
        wait_until(lambda: any(f"http://127.0.0.1:{port}/" in line for line in lines), 30)
        logins = dict(
            re.match(r"login: (\S+) / (\S+)", line).groups()
            for line in lines if line.startswith("login: ")
        )
        assert set(logins) == {"assistant", "physician", "admin"}
        browser = Browser(f"http://127.0.0.1:{port}")
        assert browser.login("assistant", logins["assistant"])[0] == 200

        def weight_on_page():
            status, page = browser.request("/rooms/demo-clinic/exam-1")
            if status == 404:
                return None  # the room exists once its first message is filed
            assert status == 200
            return re.search(r'class="value">([0-9.]+)</span> <span class="unit">kg', page)

        assert float(wait_until(weight_on_page, timeout=45).group(1)) > 0
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=30)
    assert demo.returncode == 0, "".join(lines[-30:])
    assert any("demo stopped" in line for line in lines)
