"""The clinic board: every room, initials only, status and time, device state and battery."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from dashboard import board
from dashboard.filing import Filer
from dashboard.models import Encounter
from tests.dashboard.workflow_helpers import SITE, audit_events, file_bp, login, room
from tests.dashboard.workflow_helpers import make_app as _make_app
from vitals import topics


@pytest.fixture
def app(database_url):
    app = _make_app(database_url)
    yield app
    app.extensions["roomvitals.engine"].dispose()


def file_status(app, room_name: str, device: str, **status) -> None:
    outcome = Filer(app.extensions["roomvitals.engine"]).file_message(
        topics.device_status_topic(SITE, room_name, device), json.dumps(status).encode()
    )
    assert outcome.status == "status", outcome


def test_the_board_shows_rooms_initials_status_and_devices(app):
    client = app.test_client()
    token = login(client)
    encounter_id = room(client, token, app, "DEMO-1006", "exam-1")  # Samuel Adeyemi
    pending = file_bp(app)  # one to review
    file_status(app, "exam-1", "cuff-1", state="connected", battery=82, last_error="")
    file_status(app, "exam-1", "oximeter-1", state="disconnected", low_battery=True,
                last_error="no response")
    file_status(app, "exam-2", "scale-2", state="connected")
    page = client.get("/board/").get_data(as_text=True)

    cards = dict(re.findall(r'data-room="(exam-\d)">(.*?)</article>', page, re.S))
    assert set(cards) == {"exam-1", "exam-2", "exam-3", "exam-4"}
    one = cards["exam-1"]
    assert ">SA<" in one and "Ready" not in one and "Rooming" in one
    assert "Samuel" not in page and "Adeyemi" not in page and "DEMO-1006" not in page
    assert re.search(r'class="minutes" data-since="[^"]+">0</span> min', one)
    assert "1 reading to review" in one
    assert f"/briefing/{encounter_id}" in one
    assert re.search(r"cuff-1.*connected · <span[^>]*>battery 82 %", one, re.S)
    assert re.search(r"oximeter-1.*disconnected · <span class=\"battery-low\">battery low", one,
                     re.S)
    assert "Empty" in cards["exam-2"] and "scale-2" in cards["exam-2"]
    assert "No devices reported" in cards["exam-3"]

    # Reviewed, and ready: the card follows.
    assert client.post(f"/assistant/readings/{pending}/accept",
                       data={"csrf_token": token}).status_code == 302
    post = client.post(f"/assistant/encounters/{encounter_id}/status",
                       data={"csrf_token": token, "status": "ready_for_physician"})
    assert post.status_code == 302
    body = client.get("/board/body").get_data(as_text=True)
    assert "Ready for physician" in body and 'id="board-rooms"' in body
    assert "to review" not in body

    views = audit_events(app, action="view", record_type="board")
    with Session(app.extensions["roomvitals.engine"]) as db:
        patient_id = db.get(Encounter, encounter_id).patient_id
    assert len(views) == 2 and {v.patient_id for v in views} == {patient_id}


def test_the_board_needs_a_login_and_uses_few_queries(app):
    anonymous = app.test_client().get("/board/")
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/login")
    client = app.test_client()
    token = login(client)
    for mrn, name in (("DEMO-1006", "exam-1"), ("DEMO-1003", "exam-2")):
        room(client, token, app, mrn, name)
    engine = app.extensions["roomvitals.engine"]
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        with Session(engine) as db:
            tiles = board.rooms_at_a_glance(db, SITE)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert [t.initials for t in tiles] == ["SA", "ZM", "", ""]
    assert len(statements) <= 5


def test_battery_from_the_status_payload():
    assert board._battery({"battery": 15}) == ("15 %", True)
    assert board._battery({"battery": 60}) == ("60 %", False)
    assert board._battery({"low_battery": True}) == ("low", True)
    assert board._battery({"battery": "full"}) == ("", False)
    assert board._battery({}) == ("", False)
