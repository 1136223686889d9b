"""Logins, sessions, CSRF, security headers and the audit trail, on SQLite and PostgreSQL."""

import re

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dashboard import create_app
from dashboard.audit import verify_chain
from dashboard.auth import MAX_FAILED_LOGINS, create_user
from dashboard.models import AuditEvent, Room, User
from roomvitals.cli import main as roomvitals

PASSWORD = "correct horse battery"


@pytest.fixture
def app(database_url):
    app = create_app({"DATABASE_URL": database_url, "TESTING": True})
    with Session(app.extensions["roomvitals.engine"]) as db, db.begin():
        create_user(db, "ma.jones", "assistant", PASSWORD, "MA Jones")
        db.add(Room(site="main", name="exam-1"))
    yield app
    app.extensions["roomvitals.engine"].dispose()


def csrf(client, path="/login") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def login(client, username="ma.jones", password=PASSWORD):
    return client.post("/login", data={"csrf_token": csrf(client), "username": username,
                                       "password": password})


def events(app, action=None):
    with Session(app.extensions["roomvitals.engine"]) as db:
        query = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            query = query.where(AuditEvent.action == action)
        return db.scalars(query).all()


@pytest.mark.parametrize("path", ["/", "/rooms/main/exam-1"])
def test_pages_need_a_login(app, path):
    response = app.test_client().get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_health_check_and_login_page_are_public(app):
    client = app.test_client()
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/login").status_code == 200


def test_login_then_the_room_page_is_served_and_audited(app):
    client = app.test_client()
    response = login(client)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    page = client.get("/rooms/main/exam-1")
    assert page.status_code == 200 and "MA Jones" in page.get_data(as_text=True)
    [view] = events(app, "view")
    assert (view.username, view.record_type, view.remote_addr) == ("ma.jones", "room", "127.0.0.1")
    assert [e.action for e in events(app)] == ["login", "view"]


def test_login_redirects_only_to_local_paths(app):
    client = app.test_client()
    token = csrf(client)
    response = client.post("/login?next=//evil.example/x", data={
        "csrf_token": token, "username": "ma.jones", "password": PASSWORD})
    assert response.headers["Location"] == "/"


def test_wrong_password_is_shown_next_to_the_field(app):
    response = login(app.test_client(), password="wrong password!!")
    assert response.status_code == 401
    assert re.search(r'class="field-error"[^>]*>Wrong username or password', response.get_data(
        as_text=True))
    assert events(app, "login_failed")


def test_unknown_user_gets_the_same_answer(app):
    response = login(app.test_client(), username="nobody")
    assert response.status_code == 401
    assert "Wrong username or password" in response.get_data(as_text=True)


def test_lockout_after_repeated_failures(app):
    client = app.test_client()
    for _ in range(MAX_FAILED_LOGINS):
        response = login(client, password="wrong password!!")
    assert "locked" in response.get_data(as_text=True)
    # Even the right password is refused while the account is locked.
    response = login(client)
    assert response.status_code == 401
    assert "locked after repeated failed logins" in response.get_data(as_text=True)
    assert events(app, "lockout")


def test_missing_or_wrong_csrf_token_is_rejected(app):
    client = app.test_client()
    client.get("/login")
    response = client.post("/login", data={"username": "ma.jones", "password": PASSWORD})
    assert response.status_code == 400
    response = client.post("/login", data={"csrf_token": "forged", "username": "ma.jones",
                                           "password": PASSWORD})
    assert response.status_code == 400
    login(client)
    assert client.post("/logout").status_code == 400  # logout is CSRF-protected too


def test_session_expires_after_inactivity(app):
    client = app.test_client()
    login(client)
    assert client.get("/").status_code == 200
    with client.session_transaction() as session:
        session["last_seen"] -= app.config["SESSION_IDLE_MINUTES"] * 60 + 1
    response = client.get("/")
    assert response.status_code == 302 and "expired=1" in response.headers["Location"]
    assert client.get("/").status_code == 302  # and it stays logged out


def test_logout_ends_the_session(app):
    client = app.test_client()
    login(client)
    assert client.post("/logout", data={"csrf_token": csrf(client, "/")}).status_code == 302
    assert client.get("/").status_code == 302


def test_disabled_account_loses_its_session(app):
    client = app.test_client()
    login(client)
    with Session(app.extensions["roomvitals.engine"]) as db, db.begin():
        db.execute(update(User).values(active=False))
    assert client.get("/").status_code == 302


def test_security_headers(app):
    client = app.test_client()
    login(client)
    headers = client.get("/").headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "Strict-Transport-Security" not in headers  # plain HTTP: HSTS would be ignored
    secure = client.get("/", base_url="https://localhost").headers
    assert "max-age=" in secure["Strict-Transport-Security"]


def test_audit_chain_detects_an_edited_row(app):
    client = app.test_client()
    login(client)
    for _ in range(3):
        client.get("/rooms/main/exam-1")
    engine = app.extensions["roomvitals.engine"]
    with Session(engine) as db:
        assert verify_chain(db) == []
        second = db.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()[1]
    with Session(engine) as db, db.begin():
        db.execute(update(AuditEvent).where(AuditEvent.id == second.id)
                   .values(username="someone-else"))
    with Session(engine) as db:
        assert verify_chain(db) == [second.id]


def test_production_refuses_the_default_secret(database_url, monkeypatch):
    from dashboard import InsecureConfigError

    with pytest.raises(InsecureConfigError, match="ROOMVITALS_SECRET_KEY"):
        create_app({"DATABASE_URL": database_url, "PRODUCTION": True})


def test_user_command(database_url, capsys):
    assert roomvitals(["user", "--database", database_url, "add", "dr.lee", "--role",
                       "physician"]) == 0
    password = re.search(r"login: dr.lee / (\S+)", capsys.readouterr().out).group(1)
    app = create_app({"DATABASE_URL": database_url})
    assert login(app.test_client(), "dr.lee", password).status_code == 302
    assert roomvitals(["user", "--database", database_url, "add", "ops.admin", "--role", "admin",
                       "--password", "short"]) == 2
    assert "at least 12 characters" in capsys.readouterr().err
    assert roomvitals(["user", "--database", database_url, "disable", "dr.lee"]) == 0
    assert login(app.test_client(), "dr.lee", password).status_code == 401
    app.extensions["roomvitals.engine"].dispose()


def test_failed_logins_are_rate_limited_per_address(app):
    from dashboard.auth import ADDRESS_FAILURES_ALLOWED

    client = app.test_client()
    for n in range(ADDRESS_FAILURES_ALLOWED):
        # different unknown accounts, so no single account locks
        assert login(client, username=f"guess{n}", password="wrong password!!").status_code == 401
    response = login(client)  # even the right password, from this address, for now
    assert response.status_code == 429
    assert "Too many failed logins from this address" in response.get_data(as_text=True)
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "127.0.0.2"
    assert login(other).status_code == 302  # another address is not affected
