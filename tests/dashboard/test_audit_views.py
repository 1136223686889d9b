"""The audit trail's admin page: search by user, patient, action, record and time; pages; the
CSV export of a search (audited); the chain check finding an edited row. SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dashboard import audit
from dashboard.audit_views import PAGE_SIZE
from dashboard.models import AuditEvent, Patient
from tests.dashboard.workflow_helpers import audit_events, login, make_app


@pytest.fixture
def app(database_url):
    app = make_app(database_url)
    yield app
    app.extensions["roomvitals.engine"].dispose()


@pytest.fixture
def admin(app):
    client = app.test_client()
    token = login(client, "admin.kim")
    return client, token


def patient(app, mrn: str) -> Patient:
    with Session(app.extensions["roomvitals.engine"]) as db:
        found = db.scalar(select(Patient).where(Patient.mrn == mrn))
        db.expunge(found)
        return found


def record(app, *entries: tuple[str, str, str, str, int | None]) -> list[int]:
    """Append (username, action, record_type, record_id, patient_id) entries; their ids."""
    ids = []
    with Session(app.extensions["roomvitals.engine"]) as db, db.begin():
        for username, action, record_type, record_id, patient_id in entries:
            who = audit.Actor(None, username, "assistant", "10.0.0.7")
            ids.append(audit.append(db, who, action, record_type, record_id,
                                    patient_id=patient_id).id)
    return ids


def shown_ids(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-audit-id="(\d+)"', page)]


def test_only_admins_see_the_audit_trail(app):
    for username in ("ma.jones", "dr.lee"):
        client = app.test_client()
        token = login(client, username)
        assert client.get("/admin/audit/").status_code == 403
        assert client.get("/admin/audit/export.csv").status_code == 403
        assert client.post("/admin/audit/verify", data={"csrf_token": token}).status_code == 403
    assert app.test_client().get("/admin/audit/").status_code == 302


def test_search_by_user_patient_action_and_record(app, admin):
    client, _ = admin
    mia, leo = patient(app, "DEMO-1001"), patient(app, "DEMO-1002")
    ids = record(app,
                 ("ma.jones", "view", "encounter", "7", mia.id),
                 ("ma.jones", "change", "reading", "r-1", mia.id),
                 ("dr.lee", "view", "briefing", "7", mia.id),
                 ("dr.lee", "view", "briefing", "8", leo.id))
    page = client.get("/admin/audit/?user=dr.lee").get_data(as_text=True)
    assert set(shown_ids(page)) >= {ids[2], ids[3]} and ids[0] not in shown_ids(page)
    page = client.get("/admin/audit/?mrn=DEMO-1001").get_data(as_text=True)
    assert set(shown_ids(page)) == {ids[0], ids[1], ids[2]}
    assert "DEMO-1001" in page  # the patient column
    page = client.get("/admin/audit/?mrn=DEMO-1001&action=view&user=MA.JONES")
    assert shown_ids(page.get_data(as_text=True)) == [ids[0]]
    page = client.get("/admin/audit/?record_type=briefing&record_id=8").get_data(as_text=True)
    assert shown_ids(page) == [ids[3]]
    # Each search is itself in the trail, with the patient's id (not the MRN in the detail).
    searches = audit_events(app, action="view", record_type="audit")
    assert searches[1].patient_id == mia.id
    assert searches[1].detail["filters"] == {"patient_id": mia.id}
    assert searches[0].username == "admin.kim"


def test_search_by_time_range(app, admin):
    client, _ = admin
    ids = record(app, *[("ma.jones", "view", "encounter", str(n), None) for n in range(3)])
    engine = app.extensions["roomvitals.engine"]
    with Session(engine) as db, db.begin():
        # Rewriting "at" breaks the chain, which is fine here: this test is about searching.
        for event_id, when in zip(ids, ("2026-03-01T10:00:00", "2026-03-02T10:00:00",
                                        "2026-03-03T10:00:00"), strict=True):
            at = datetime.fromisoformat(when).astimezone().astimezone(UTC)
            db.execute(update(AuditEvent).where(AuditEvent.id == event_id).values(at=at))
    page = client.get("/admin/audit/?since=2026-03-02&until=2026-03-02").get_data(as_text=True)
    assert shown_ids(page) == [ids[1]]
    page = client.get("/admin/audit/?since=2026-03-01T12:00&until=2026-03-03T09:00")
    assert shown_ids(page.get_data(as_text=True)) == [ids[1]]
    page = client.get("/admin/audit/?until=2026-03-02").get_data(as_text=True)
    assert shown_ids(page) == [ids[1], ids[0]]


@pytest.mark.parametrize("query, field, message", [
    ("since=yesterday", "since", "A date"),
    ("until=2026-13-40", "until", "A date"),
    ("since=2026-03-05&until=2026-03-01", "until", "after the start"),
    ("mrn=NO-SUCH-MRN", "mrn", "No patient has this MRN"),
])
def test_bad_filters_are_explained_next_to_the_field(admin, query, field, message):
    client, _ = admin
    response = client.get(f"/admin/audit/?{query}")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert re.search(rf'id="{field}"[^>]*>\s*<span class="field-error">[^<]*{message}', page)
    assert client.get(f"/admin/audit/export.csv?{query}").status_code == 422


def test_results_are_paginated_newest_first(app, admin):
    client, _ = admin
    ids = record(app, *[("ma.jones", "view", "room", str(n), None)
                        for n in range(PAGE_SIZE + 5)])
    first = client.get("/admin/audit/?user=ma.jones&record_type=room").get_data(as_text=True)
    assert shown_ids(first) == ids[::-1][:PAGE_SIZE]
    assert "page 1 of 2" in first
    older = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    assert "user=ma.jones" in older and "page=2" in older
    second = client.get(older).get_data(as_text=True)
    assert shown_ids(second) == ids[::-1][PAGE_SIZE:]
    assert client.get("/admin/audit/?page=999").status_code == 200
    assert client.get("/admin/audit/?page=-3").status_code == 200


def test_the_export_is_the_current_search_as_csv_and_is_audited(app, admin):
    client, _ = admin
    mia = patient(app, "DEMO-1001")
    ids = record(app, ("ma.jones", "view", "encounter", "=HYPERLINK(\"x\")", mia.id),
                 ("dr.lee", "view", "briefing", "9", None))
    page = client.get("/admin/audit/?user=ma.jones&mrn=DEMO-1001").get_data(as_text=True)
    href = re.search(r'id="export" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    response = client.get(href)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [int(r["id"]) for r in rows] == [ids[0]]
    assert rows[0]["patient_mrn"] == "DEMO-1001" and rows[0]["username"] == "ma.jones"
    assert rows[0]["record_id"] == "'=HYPERLINK(\"x\")"  # no formula for a spreadsheet
    assert len(rows[0]["hash"]) == 64
    [export] = audit_events(app, action="export", record_type="audit")
    assert export.username == "admin.kim" and export.patient_id == mia.id
    assert export.detail["rows"] == 1 and export.detail["filters"]["user"] == "ma.jones"


def test_verify_chain_reports_an_intact_trail_then_the_edited_row(app, admin):
    client, token = admin
    ids = record(app, *[("ma.jones", "view", "encounter", str(n), None) for n in range(4)])
    response = client.post("/admin/audit/verify", data={"csrf_token": token})
    assert response.status_code == 200
    assert "Chain intact" in response.get_data(as_text=True)
    with Session(app.extensions["roomvitals.engine"]) as db, db.begin():
        db.execute(update(AuditEvent).where(AuditEvent.id == ids[2])
                   .values(username="someone.else"))
    page = client.post("/admin/audit/verify", data={"csrf_token": token}).get_data(as_text=True)
    assert "Chain broken" in page
    assert re.search(rf"entries {ids[2]}\b", page)
    checks = audit_events(app, action="verify")
    assert [c.detail["broken"] for c in checks] == [[], [ids[2]]]
    # The check needs the CSRF token like every state-changing request.
    assert client.post("/admin/audit/verify").status_code == 400


def test_the_search_page_shows_what_happened_in_the_app(app, admin):
    client, _ = admin
    since = (datetime.now().astimezone() - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")
    page = client.get(f"/admin/audit/?action=login&since={since}").get_data(as_text=True)
    assert "admin.kim" in page and "login" in page
