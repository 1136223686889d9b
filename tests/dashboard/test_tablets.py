"""Room tablets: pairing (code shown once, hashes only), the tablet's one room, the PIN unlock,
revocation, and a tablet principal refused on every other route. SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import queue
import re
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dashboard import events, tablets
from dashboard.audit import Actor
from dashboard.auth import TABLET_COOKIE, create_user
from dashboard.models import Encounter, Patient, Tablet, User, UserPin
from tests.dashboard.test_routes_authz import routes
from tests.dashboard.workflow_helpers import (
    PASSWORD,
    audit_events,
    csrf,
    file_bp,
    login,
    make_app,
    room,
    room_id,
)

PIN = "4711"


@pytest.fixture
def app(database_url):
    app = make_app(database_url, SSE_POLL_SECONDS=0.02, SSE_LIFETIME_SECONDS=30)
    yield app
    app.extensions["roomvitals.engine"].dispose()


def db(app) -> Session:
    return Session(app.extensions["roomvitals.engine"])


def pairing_code(app, room_name="exam-1", label="wall") -> str:
    admin = app.test_client()
    token = login(admin, "admin.kim")
    page = admin.post("/admin/tablets/", data={"csrf_token": token, "label": label,
                                               "room": room_id(app, room_name)})
    assert page.status_code == 201, page.get_data(as_text=True)
    return re.search(r'id="pairing-code">([0-9A-Z-]+)<', page.get_data(as_text=True)).group(1)


def paired_tablet(app, room_name="exam-1"):
    """A test client holding a freshly paired tablet's cookie for ``room_name``."""
    tablet = app.test_client()
    code = pairing_code(app, room_name)
    response = tablet.post("/tablet/pair", data={"csrf_token": csrf(tablet, "/tablet/pair"),
                                                 "code": code})
    assert response.status_code == 302 and response.headers["Location"] == "/tablet/"
    return tablet


def tablet_csrf(tablet) -> str:
    return csrf(tablet, "/tablet/pair")


def set_pin(app, username="dr.lee", pin=PIN):
    physician = app.test_client()
    login(physician, username)
    response = physician.post("/account/pin", data={
        "csrf_token": csrf(physician, "/account/pin"), "password": PASSWORD, "pin": pin,
        "pin_again": pin})
    assert response.status_code == 200 and "Your PIN is set" in response.get_data(as_text=True)


def physician_id(app, username="dr.lee") -> int:
    with db(app) as session:
        return session.scalar(select(User.id).where(User.username == username))


def unlock(tablet, app, pin=PIN, username="dr.lee"):
    return tablet.post("/tablet/unlock", data={"csrf_token": tablet_csrf(tablet), "pin": pin,
                                               "physician": physician_id(app, username)})


def roomed(app, mrn="DEMO-1006", room_name="exam-1") -> tuple[int, Patient]:
    assistant = app.test_client()
    token = login(assistant)
    encounter_id = room(assistant, token, app, mrn=mrn, room_name=room_name)
    with db(app) as session:
        patient = session.scalar(select(Patient).where(Patient.mrn == mrn))
        session.expunge(patient)
    return encounter_id, patient


def identifiers(patient: Patient) -> list[str]:
    return [patient.family_name, patient.given_name, patient.mrn,
            patient.date_of_birth.isoformat()]


def test_the_pairing_code_is_shown_once_and_only_hashes_are_stored(app):
    admin = app.test_client()
    token = login(admin, "admin.kim")
    page = admin.post("/admin/tablets/", data={"csrf_token": token, "room": room_id(app, "exam-1"),
                                               "label": "wall"}).get_data(as_text=True)
    code = re.search(r'id="pairing-code">([0-9A-Z-]+)<', page).group(1)
    assert re.fullmatch(r"([0-9A-Z]{4}-){4}[0-9A-Z]{4}", code)
    assert code not in admin.get("/admin/tablets/").get_data(as_text=True)
    tablet = app.test_client()
    response = tablet.post("/tablet/pair", data={"csrf_token": tablet_csrf(tablet),
                                                 "code": code.lower().replace("-", " ")})
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{TABLET_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Max-Age=" in cookie
    device_token = cookie.split("=", 1)[1].split(";", 1)[0]
    with db(app) as session:
        row = session.scalars(select(Tablet)).one()
        stored = [str(v) for v in row.__dict__.values()]
    assert row.token_hash == hashlib.sha256(device_token.encode()).hexdigest()
    assert row.pairing_hash is None and row.paired_at is not None
    assert not any(device_token in v or code.replace("-", "") in v for v in stored)
    # The code works once.
    again = app.test_client()
    refused = again.post("/tablet/pair", data={"csrf_token": tablet_csrf(again), "code": code})
    assert refused.status_code == 401 and "not valid" in refused.get_data(as_text=True)
    assert TABLET_COOKIE not in refused.headers.get("Set-Cookie", "")
    assert [e.action for e in audit_events(app, record_type="tablet")] == [
        "create", "pair", "pair_failed"]


def test_an_expired_code_pairs_nothing(app):
    code = pairing_code(app)
    with db(app) as session, session.begin():
        session.execute(update(Tablet).values(
            pairing_expires_at=datetime.now(UTC) - timedelta(minutes=1)))
    tablet = app.test_client()
    response = tablet.post("/tablet/pair", data={"csrf_token": tablet_csrf(tablet), "code": code})
    assert response.status_code == 401
    assert tablet.get("/tablet/").status_code == 401


def test_a_free_room_shows_nothing_and_a_roomed_patient_waits_behind_the_pin(app):
    tablet = paired_tablet(app)
    free = tablet.get("/tablet/")
    assert free.status_code == 200 and "Room free" in free.get_data(as_text=True)
    _, patient = roomed(app)
    locked = tablet.get("/tablet/").get_data(as_text=True)
    assert "enter your PIN" in locked
    for text in identifiers(patient):
        assert text not in locked
    assert tablet.get("/tablet/body").status_code == 403
    # The PIN screen follows the encounter: revision numbers only.
    assert tablet.get("/tablet/events?revision=0").status_code == 200


def test_a_physicians_pin_unlocks_the_briefing_and_the_view_is_audited(app):
    tablet = paired_tablet(app)
    encounter_id, patient = roomed(app)
    set_pin(app)
    wrong = unlock(tablet, app, pin="9999")
    assert wrong.status_code == 401 and "Wrong PIN." in wrong.get_data(as_text=True)
    assert patient.family_name not in wrong.get_data(as_text=True)
    assert unlock(tablet, app).status_code == 302
    page = tablet.get("/tablet/").get_data(as_text=True)
    assert patient.family_name in page and patient.mrn in page
    assert "unlocked by Dr Lee" in page
    [view] = audit_events(app, action="view", record_type="briefing")
    assert (view.username, view.role, view.patient_id) == ("dr.lee", "physician", patient.id)
    assert view.detail["room"] == "exam-1" and view.detail["page"] == "tablet"
    [unlocked] = audit_events(app, action="unlock")
    assert unlocked.username == "dr.lee" and unlocked.detail["encounter"] == encounter_id
    # Live updates: the body fragment the page swaps in, audited as well.
    file_bp(app, systolic="141", diastolic="88")
    assert tablet.get("/tablet/body").status_code == 200
    assert len(audit_events(app, action="view", record_type="briefing")) == 2
    # Lock now: back to the PIN screen.
    assert tablet.post("/tablet/lock", data={"csrf_token": tablet_csrf(tablet)}).status_code == 302
    assert patient.family_name not in tablet.get("/tablet/").get_data(as_text=True)


def test_the_unlock_lapses_when_idle_and_touches_keep_it(app):
    tablet = paired_tablet(app)
    _, patient = roomed(app)
    set_pin(app)
    unlock(tablet, app)
    token = tablet_csrf(tablet)

    def last_touch(minutes_ago: float) -> None:
        with db(app) as session, session.begin():
            session.execute(update(Tablet).values(
                unlocked_active_at=datetime.now(UTC) - timedelta(minutes=minutes_ago)))

    last_touch(4)  # the default idle time is 5 minutes
    assert tablet.post("/tablet/activity", headers={"X-CSRF-Token": token}).status_code == 204
    assert patient.family_name in tablet.get("/tablet/").get_data(as_text=True)
    last_touch(6)
    assert tablet.post("/tablet/activity", headers={"X-CSRF-Token": token}).status_code == 403
    assert patient.family_name not in tablet.get("/tablet/").get_data(as_text=True)
    assert tablet.get("/tablet/body").status_code == 403


def test_the_encounter_ending_leaves_an_empty_room_screen(app):
    tablet = paired_tablet(app)
    encounter_id, patient = roomed(app)
    set_pin(app)
    unlock(tablet, app)
    stream = tablet.get("/tablet/events?revision=0")
    chunks = iter(stream.response)
    next(chunks)
    assistant = app.test_client()
    token = login(assistant)
    assistant.post(f"/assistant/encounters/{encounter_id}/status",
                   data={"csrf_token": token, "status": "done"})
    seen = []
    while not any(c.startswith("event: ended") for c in seen):
        seen.append(next(chunks).decode())
    stream.close()
    page = tablet.get("/tablet/").get_data(as_text=True)
    assert "Room free" in page
    for text in identifiers(patient):
        assert text not in page
    assert tablet.get("/tablet/body").status_code == 403
    # The next patient in the room needs a PIN again.
    roomed(app, mrn="DEMO-1007")
    assert "enter your PIN" in tablet.get("/tablet/").get_data(as_text=True)


@pytest.mark.timeout(120)
def test_the_tablet_stream_wakes_on_a_change_not_at_its_next_poll(app):
    """The stream's own poll is an hour here: the revision event can only come from the
    process's watcher (a NOTIFY on PostgreSQL, its short poll on SQLite) waking it."""
    app.config["SSE_POLL_SECONDS"] = 3600
    tablet = paired_tablet(app)
    encounter_id, _ = roomed(app)
    with db(app) as session:
        start = session.get(Encounter, encounter_id).revision
    stream = tablet.get(f"/tablet/events?revision={start}")
    chunks = iter(stream.response)
    assert next(chunks).decode().startswith("retry:")
    got: queue.SimpleQueue[bytes] = queue.SimpleQueue()
    waiting = len(events._any_change._waiters)  # streams of other tests may wait too
    reader = threading.Thread(target=lambda: got.put(next(chunks)), daemon=True)
    reader.start()
    # Only once the stream sleeps is the change made: else it would simply read it.
    deadline = time.monotonic() + 60
    while len(events._any_change._waiters) <= waiting and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(events._any_change._waiters) > waiting, "the stream never went to sleep"
    file_bp(app, systolic="128", diastolic="82", pulse="70")
    assert got.get(timeout=60).decode() == f"event: revision\ndata: {start + 1}\n\n"
    stream.close()


def test_a_tablet_never_reads_another_room(app):
    other_id, other = roomed(app, mrn="DEMO-1007", room_name="exam-2")
    tablet = paired_tablet(app, "exam-1")
    set_pin(app)
    # Its own room is free: nothing, even with the other room's patient in a URL.
    page = tablet.get("/tablet/").get_data(as_text=True)
    assert "Room free" in page and other.family_name not in page
    assert unlock(tablet, app).status_code == 302  # nothing to unlock: back to the screen
    for path in (f"/briefing/{other_id}", f"/briefing/{other_id}/body",
                 f"/briefing/{other_id}/events", "/briefing/room/exam-2",
                 f"/fhir/Bundle/encounter/{other_id}", f"/assistant/encounters/{other_id}"):
        response = tablet.get(path)
        assert response.status_code == 403, path
        assert other.family_name not in response.get_data(as_text=True)
    assert tablet.get("/tablet/events").status_code == 404
    # With a patient in its own room too, it shows that one only.
    _, own = roomed(app, mrn="DEMO-1006", room_name="exam-1")
    unlock(tablet, app)
    page = tablet.get("/tablet/").get_data(as_text=True)
    assert own.family_name in page and other.family_name not in page


def test_a_tablet_principal_is_refused_on_every_other_route(app):
    tablet = paired_tablet(app)
    roomed(app)
    token = tablet_csrf(tablet)
    checked = 0
    for endpoint, method, url, view in routes(app):
        if getattr(view, "roomvitals_public", False) or getattr(view, "roomvitals_tablet", False):
            continue
        response = tablet.open(url, method=method, data={"csrf_token": token})
        assert response.status_code in (401, 403), (endpoint, method, url, response.status_code)
        assert b"Patient" not in response.data and b"DEMO-" not in response.data
        checked += 1
    assert checked > 30


def test_a_revoked_tablet_gets_nothing(app):
    tablet = paired_tablet(app)
    _, patient = roomed(app)
    set_pin(app)
    unlock(tablet, app)
    assert patient.family_name in tablet.get("/tablet/").get_data(as_text=True)
    stream = tablet.get("/tablet/events?revision=0")
    chunks = iter(stream.response)
    next(chunks)
    admin = app.test_client()
    token = login(admin, "admin.kim")
    with db(app) as session:
        tablet_id = session.scalar(select(Tablet.id))
    assert admin.post(f"/admin/tablets/{tablet_id}/revoke",
                      data={"csrf_token": token}).status_code == 302
    # The open stream ends ("gone": the page reloads), and every request is refused.
    seen = []
    while not any(c.startswith("event: gone") for c in seen):
        seen.append(next(chunks).decode())
    stream.close()
    for path in ("/tablet/body", "/tablet/events", "/tablet/"):
        response = tablet.get(path)
        assert response.status_code == 401, path
        assert patient.family_name not in response.get_data(as_text=True)
    # The screen also tells the browser to forget the dead cookie.
    assert f"{TABLET_COOKIE}=;" in response.headers.get("Set-Cookie", "")
    assert "revoke" in [e.action for e in audit_events(app, record_type="tablet")]


def test_wrong_pins_lock_that_pin_but_not_the_password(app):
    tablet = paired_tablet(app)
    roomed(app)
    set_pin(app)
    statuses = [unlock(tablet, app, pin="9999").status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 423]
    locked = unlock(tablet, app)  # the right PIN, while locked
    assert locked.status_code == 423 and "locked" in locked.get_data(as_text=True)
    assert login(app.test_client(), "dr.lee")  # the password login still works
    # A new PIN (with the password) clears the lock.
    set_pin(app, pin="2580")
    assert unlock(tablet, app, pin="2580").status_code == 302
    assert [e.action for e in audit_events(app, action="pin_lockout")] == ["pin_lockout"]


def test_a_tablet_is_refused_after_too_many_wrong_pins_for_anyone(app):
    tablet = paired_tablet(app)
    roomed(app)
    set_pin(app)
    with db(app) as session, session.begin():
        for n in range(3):
            user = create_user(session, f"dr.n{n}", "physician", PASSWORD, f"Dr N{n}")
            tablets.set_pin(session, Actor(None, "test", "admin", ""), user, "1357")
    codes = []
    for n in range(3):
        codes += [unlock(tablet, app, pin="9999", username=f"dr.n{n}").status_code
                  for _ in range(4)]
    assert codes[:10] == [401] * 10 and set(codes[10:]) == {429}
    refused = unlock(tablet, app)  # even the right PIN of a physician not yet tried
    assert refused.status_code == 429 and "Too many wrong PINs" in refused.get_data(as_text=True)


@pytest.mark.parametrize("pin, message", [
    ("123", "4 to 6 digits"), ("1234567", "4 to 6 digits"), ("12a4", "4 to 6 digits"),
    ("0000", "same digit"), ("1234", "run of digits"), ("98765", "run of digits"),
])
def test_the_pin_policy_is_explained_next_to_the_field(app, pin, message):
    physician = app.test_client()
    login(physician, "dr.lee")
    response = physician.post("/account/pin", data={
        "csrf_token": csrf(physician, "/account/pin"), "password": PASSWORD, "pin": pin,
        "pin_again": pin})
    assert response.status_code == 422
    assert re.search(rf'class="field-error">PIN: [^<]*{message}', response.get_data(as_text=True))
    with db(app) as session:
        assert session.scalar(select(UserPin)) is None


def test_setting_a_pin_needs_the_password_and_admins_may_set_one(app):
    physician = app.test_client()
    login(physician, "dr.lee")
    response = physician.post("/account/pin", data={
        "csrf_token": csrf(physician, "/account/pin"), "password": "not my password",
        "pin": "4711", "pin_again": "4711"})
    assert response.status_code == 422 and "current password" in response.get_data(as_text=True)
    admin = app.test_client()
    token = login(admin, "admin.kim")
    assert admin.post("/admin/tablets/pins", data={
        "csrf_token": token, "physician": physician_id(app), "pin": "8642"}).status_code == 302
    assert admin.post("/admin/tablets/pins", data={
        "csrf_token": token, "physician": physician_id(app, "ma.jones"),
        "pin": "8642"}).status_code == 422  # only physicians
    with db(app) as session:
        row = session.scalars(select(UserPin)).one()
    assert row.pin_hash.startswith("$argon2id$") and "8642" not in row.pin_hash
    assert [e.username for e in audit_events(app, action="pin_set")] == ["admin.kim"]
    tablet = paired_tablet(app)
    roomed(app)
    assert unlock(tablet, app, pin="8642").status_code == 302


def test_only_admins_pair_tablets_and_only_physicians_set_pins(app):
    for username, path, allowed in (("ma.jones", "/admin/tablets/", False),
                                    ("dr.lee", "/admin/tablets/", False),
                                    ("admin.kim", "/admin/tablets/", True),
                                    ("ma.jones", "/account/pin", False),
                                    ("admin.kim", "/account/pin", False),
                                    ("dr.lee", "/account/pin", True)):
        client = app.test_client()
        login(client, username)
        assert client.get(path).status_code == (200 if allowed else 403), (username, path)


def test_a_logged_in_user_is_not_a_tablet(app):
    roomed(app)
    physician = app.test_client()
    login(physician, "dr.lee")
    for path in ("/tablet/", "/tablet/body", "/tablet/events"):
        assert physician.get(path).status_code == 401, path
    with db(app) as session:
        assert session.scalar(select(Encounter.id)) is not None
