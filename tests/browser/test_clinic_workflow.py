"""The clinic workflow in a real browser, on the real stack.

Mosquitto, the gateway with a simulated Health o meter scale on a pty, the ingest worker and
the web app on a loopback port. The assistant rooms a patient through her pages; weights
arrive from the scale; she accepts one, edits one and rejects one. On a second browser
context, the physician's tablet (1280x800) shows the briefing, which updates without a
reload when she accepts. Screenshots of the three screens go to docs/screenshots/.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from dashboard import create_app
from dashboard.auth import create_user
from dashboard.db import upgrade
from dashboard.ingest import IngestWorker
from dashboard.models import Patient
from dashboard.seed import seed_demo
from device_gateway.gateway import Gateway
from simulators.serial.healthometer_esc import HealthOMeterScale, ScaleState
from simulators.serial.pty_port import PtyPort
from tests.dashboard.test_briefing import past_visit
from tests.gateway.conftest import gateway_config
from tests.helpers import wait_until
from vitals.mqtt import BrokerConfig

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "correct horse battery"
TABLET = {"width": 1280, "height": 800}
WAIT_MS = 30_000  # generous: a shared, busy machine


@dataclass
class Stack:
    base: str
    app: object
    scale: HealthOMeterScale
    ingest: IngestWorker
    gateway: Gateway


@pytest.fixture
def stack(tmp_path, mosquitto) -> Iterator[Stack]:
    url = f"sqlite:///{tmp_path / 'clinic.sqlite3'}"
    upgrade(url)
    scale = HealthOMeterScale(PtyPort(tmp_path / "dev" / "scale"), ScaleState(weight=Decimal(0)))
    scale.start()
    config = gateway_config(tmp_path, mosquitto.port, scale.port.path)
    app = create_app({"DATABASE_URL": url, "SITE": config.site, "UNITS": "us"})
    engine = app.extensions["roomvitals.engine"]
    with Session(engine) as db, db.begin():
        create_user(db, "ma.jones", "assistant", PASSWORD, "MA Jones")
        create_user(db, "dr.lee", "physician", PASSWORD, "Dr Lee")
        seed_demo(db, config.site)
    ingest = IngestWorker(engine, BrokerConfig(port=mosquitto.port),
                          client_id=f"browser-{uuid.uuid4().hex[:8]}")
    gateway = Gateway(config)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        ingest.start()
        assert ingest.connected.wait(10)
        gateway.start()
        yield Stack(f"http://127.0.0.1:{server.server_port}", app, scale, ingest, gateway)
    finally:
        server.shutdown()
        gateway.stop()
        ingest.stop()
        scale.stop()
        engine.dispose()


def log_in(context, base: str, username: str):
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return page


def weigh(stack: Stack, kg: str) -> None:
    """Step on the scale, wait until the reading is filed, step off."""
    filed = stack.ingest.counters.filed
    stack.scale.set(weight=Decimal(kg), height=Decimal("181.00"))
    wait_until(lambda: stack.ingest.counters.filed == filed + 1, timeout=30)
    polls = stack.scale.requests
    stack.scale.set(weight=Decimal("0.0"))
    wait_until(lambda: stack.scale.requests >= polls + 4, timeout=30)


def test_room_review_and_a_live_briefing(stack, browser):
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    assistant_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    physician_ctx = browser.new_context(viewport=TABLET, has_touch=True)
    try:
        # The assistant rooms Samuel Adeyemi in exam-1, checking name and date of birth.
        ma = log_in(assistant_ctx, stack.base, "ma.jones")
        ma.goto(f"{stack.base}/assistant/")
        ma.locator("tr", has_text="Adeyemi").get_by_role("link", name="Room patient").click()
        with Session(stack.app.extensions["roomvitals.engine"]) as db:
            patient = db.scalar(select(Patient).where(Patient.family_name == "Adeyemi"))
        ma.select_option("select[name=room]", label="exam-1")
        ma.fill("input[name=name]", "Samuel Adeyemi")
        ma.fill("input[name=date_of_birth]", patient.date_of_birth.isoformat())
        ma.get_by_role("button", name="Confirm identity and room").click()
        expect(ma.locator("section.patient-banner h1")).to_contain_text("Samuel Adeyemi")
        encounter_id = int(ma.url.split("#")[0].rstrip("/").rsplit("/", 1)[-1])
        past_visit(stack.app, encounter_id, 90, weight=91.2, systolic=152, diastolic=94)
        past_visit(stack.app, encounter_id, 30, weight=92.4, systolic=146, diastolic=90)

        # The physician's tablet opens the room's address and waits, live.
        dr = log_in(physician_ctx, stack.base, "dr.lee")
        dr.goto(f"{stack.base}/briefing/room/exam-1")
        expect(dr.locator(".b-patient h1")).to_have_text("Samuel Adeyemi")
        expect(dr.locator("#live-state")).to_have_attribute("data-state", "live")
        dr.evaluate("window.__sameDocument = 'yes'")  # gone if the page reloads

        # Three weighings arrive from the scale and wait on the assistant's page as pending.
        for kg in ("93.6", "94.0", "12.5"):
            weigh(stack, kg)
        pending = ma.locator("article.reading.pending")
        expect(pending).to_have_count(3)
        expect(dr.locator("ul.pending")).to_contain_text("3 device readings to review")
        assert dr.locator(".card[data-key=weight]").count() == 0

        # Accept the first: the tablet shows it without a reload (93.6 kg = 206.4 lb).
        pending.filter(has_text="206.4").get_by_role("button", name="Accept").click()
        weight = dr.locator(".card[data-key=weight] .value")
        expect(weight).to_have_text("206.4")
        assert dr.evaluate("window.__sameDocument") == "yes"
        expect(dr.locator("ul.pending")).to_contain_text("2 device readings to review")

        # Edit the second (the patient held a bag: 207.2 lb -> 203.0 lb), with a reason.
        second = ma.locator("article.reading.pending", has_text="207.2")
        second.locator("summary", has_text="Edit a value").click()
        edit = second.locator("form", has=ma.locator("input[name=value][value='207.2']"))
        edit.locator("input[name=value]").fill("203.0")
        edit.locator("input[name=reason]").fill("patient was holding a bag")
        edit.get_by_role("button", name="Save and accept").click()
        expect(ma.locator("#charted")).to_contain_text("patient was holding a bag")
        expect(weight).to_have_text("203.0")

        # Reject the third (a child stepped on the scale).
        third = ma.locator("article.reading.pending", has_text="27.6")
        third.get_by_placeholder("why reject").fill("not this patient: a child stepped on")
        third.get_by_role("button", name="Reject").click()
        expect(ma.locator("article.reading.pending")).to_have_count(0)
        expect(dr.locator(".b-col.b-reason")).not_to_contain_text("device reading")

        # What no device measured, and triage, through the assistant's forms.
        manual = ma.locator("#manual form")
        for name, value in (("systolic", "148"), ("diastolic", "92"), ("pulse_rate", "88"),
                            ("resp_rate", "18"), ("spo2", "96"), ("temperature", "99.1")):
            manual.locator(f"input[name={name}]").fill(value)
        manual.locator("select[name=temperature_site]").select_option("oral")
        manual.get_by_role("button", name="Chart manual values").click()
        expect(dr.locator(".card[data-key=bp] .value")).to_have_text("148/92")
        triage = ma.locator("form.triage")
        triage.locator("[data-key=home_readings] input[value=yes]").check()
        triage.locator("[data-key=missed_doses] input[value=yes]").check()
        triage.locator("[data-key=headache] input[value=no]").check()
        triage.locator("[data-key=chest_pain] input[value=no]").check()
        triage.get_by_role("button", name="Save answers").click()
        expect(dr.locator("ul.answers li.positive")).to_have_count(2)

        # The briefing kept one document all along, and shows the trend and the derived values.
        assert dr.evaluate("window.__sameDocument") == "yes"
        expect(dr.locator("tr[data-trend=Weight] .diff")).to_have_text("-0.7")
        # 203.0 lb = 92.08 kg at 181 cm: BMI 28.1.
        expect(dr.locator(".card[data-key=bmi] .value")).to_have_text("28.1")
        expect(dr.locator(".card.news2 .value")).to_have_text("0")

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        ma.goto(f"{stack.base}/assistant/encounters/{encounter_id}")
        ma.screenshot(path=str(SCREENSHOTS / "assistant-room-view.png"), full_page=True)
        dr.screenshot(path=str(SCREENSHOTS / "physician-briefing.png"))
        board = physician_ctx.new_page()
        board.goto(f"{stack.base}/board/")
        expect(board.locator("[data-room=exam-1] .initials")).to_have_text("SA")
        expect(board.locator("[data-room=exam-1] .room-devices .conn-connected")).to_contain_text(
            "scale-1")
        board.screenshot(path=str(SCREENSHOTS / "clinic-board.png"))
    finally:
        assistant_ctx.close()
        physician_ctx.close()
