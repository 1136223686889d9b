"""The audit trail's admin page: search, page through, export (CSV) and verify the chain.

Searching by user, patient (MRN), action, record and time range; every search, export and
chain check is itself appended to the trail (who looked at whose access history is itself
an access to patient data). The CSV export is the current search, all pages.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import Blueprint, Response, render_template, request, url_for
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from dashboard import audit
from dashboard.auth import actor, db_session, roles_required
from dashboard.models import AuditEvent, Patient

bp = Blueprint("audit_admin", __name__, url_prefix="/admin/audit")
PAGE_SIZE = 50
EXPORT_LIMIT = 200_000
CSV_COLUMNS = ("id", "at", "username", "user_id", "role", "action", "record_type", "record_id",
               "patient_id", "patient_mrn", "remote_addr", "detail", "prev_hash", "hash")
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection, OWASP).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Search:
    """The filters of one search, validated; ``errors`` name the field of each problem."""

    user: str = ""
    mrn: str = ""
    action: str = ""
    record_type: str = ""
    record_id: str = ""
    since: str = ""
    until: str = ""
    patient_id: int | None = None
    since_at: datetime | None = None
    until_at: datetime | None = None
    errors: dict[str, str] = field(default_factory=dict)

    def args(self) -> dict[str, str]:
        """The filters as they came, for links (pages, export) that keep the search."""
        names = ("user", "mrn", "action", "record_type", "record_id", "since", "until")
        return {name: getattr(self, name) for name in names if getattr(self, name)}

    def recorded(self) -> dict[str, Any]:
        """The filters as the audit entry of the search keeps them: the patient by id."""
        kept = {k: v for k, v in self.args().items() if k != "mrn"}
        if self.patient_id is not None:
            kept["patient_id"] = self.patient_id
        return kept


def _instant(text: str, *, end_of_day: bool) -> datetime:
    """``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM`` in the clinic's local time, as UTC. A bare date
    as the end of a range means the whole day."""
    text = text.strip()
    if len(text) == 10:
        day = date.fromisoformat(text)
        moment = datetime.combine(day + timedelta(days=1), time()) if end_of_day else (
            datetime.combine(day, time()))
    else:
        moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.astimezone()  # the server's local zone
    return moment.astimezone(UTC)


def parse_search(db: Session, source: Any) -> Search:
    search = Search(**{name: str(source.get(name, "")).strip()[:100] for name in (
        "user", "mrn", "action", "record_type", "record_id", "since", "until")})
    for name, end in (("since", False), ("until", True)):
        text = getattr(search, name)
        if not text:
            continue
        try:
            setattr(search, f"{name}_at", _instant(text, end_of_day=end))
        except ValueError:
            search.errors[name] = "A date (2026-11-27) or a date and time (2026-11-27T09:30)."
    if search.since_at and search.until_at and search.since_at >= search.until_at:
        search.errors["until"] = "The end must be after the start."
    if search.mrn:
        search.patient_id = db.scalar(select(Patient.id).where(Patient.mrn == search.mrn))
        if search.patient_id is None:
            search.errors["mrn"] = "No patient has this MRN."
    return search


def _query(search: Search) -> Select:
    query = select(AuditEvent, Patient.mrn).outerjoin(Patient, Patient.id == AuditEvent.patient_id)
    if search.user:
        query = query.where(func.lower(AuditEvent.username) == search.user.lower())
    if search.patient_id is not None:
        query = query.where(AuditEvent.patient_id == search.patient_id)
    if search.action:
        query = query.where(AuditEvent.action == search.action)
    if search.record_type:
        query = query.where(AuditEvent.record_type == search.record_type)
    if search.record_id:
        query = query.where(AuditEvent.record_id == search.record_id)
    if search.since_at is not None:
        query = query.where(AuditEvent.at >= search.since_at)
    if search.until_at is not None:
        query = query.where(AuditEvent.at < search.until_at)
    return query


def _choices(db: Session) -> tuple[list[str], list[str]]:
    actions = list(db.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))
    types = list(db.scalars(
        select(AuditEvent.record_type).distinct().order_by(AuditEvent.record_type)))
    return actions, types


def _page_number() -> int:
    raw = request.args.get("page", "1")
    return max(1, min(int(raw), 10**6)) if raw.isdigit() and len(raw) < 8 else 1


def _render(search: Search, verified: list[int] | None = None, checked: int = 0) -> Any:
    db = db_session()
    page = _page_number()
    rows: list[Any] = []
    total = 0
    if not search.errors:
        query = _query(search)
        total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = db.execute(
            query.order_by(AuditEvent.id.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
        ).all()
        audit.append(db, actor(), "view", "audit", "search",
                     patient_id=search.patient_id,
                     detail={"filters": search.recorded(), "page": page, "shown": len(rows)})
        db.commit()
    actions, types = _choices(db)
    pages = max(1, -(-total // PAGE_SIZE))
    return render_template(
        "admin/audit.html", search=search, rows=rows, total=total, page=page, pages=pages,
        actions=actions, record_types=types, verified=verified, checked=checked,
        page_url=lambda n: url_for("audit_admin.index", **search.args(), page=n),
        export_url=url_for("audit_admin.export", **search.args()),
        as_json=lambda value: json.dumps(value, sort_keys=True, default=str),
    ), (422 if search.errors else 200)


@bp.get("/")
@roles_required("admin")
def index() -> Any:
    return _render(parse_search(db_session(), request.args))


@bp.post("/verify")
@roles_required("admin")
def verify() -> Any:
    """Run ``verify_chain`` over the whole trail and show the result on the page."""
    db = db_session()
    checked = db.scalar(select(func.count()).select_from(AuditEvent)) or 0
    broken = audit.verify_chain(db)
    audit.append(db, actor(), "verify", "audit", "chain",
                 detail={"entries": checked, "broken": broken[:20]})
    db.commit()
    return _render(parse_search(db, request.form), verified=broken, checked=checked)


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_rows(rows: list[Any]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_COLUMNS)
    yield flush()
    for event, mrn in rows:
        at = event.at if event.at.tzinfo else event.at.replace(tzinfo=UTC)
        writer.writerow([_cell(v) for v in (
            event.id, at.astimezone(UTC).isoformat(), event.username, event.user_id, event.role,
            event.action, event.record_type, event.record_id, event.patient_id, mrn,
            event.remote_addr, json.dumps(event.detail, sort_keys=True, default=str),
            event.prev_hash, event.hash)])
        yield flush()


@bp.get("/export.csv")
@roles_required("admin")
def export() -> Any:
    """The current search as CSV (every page, oldest first); the export is audited."""
    db = db_session()
    search = parse_search(db, request.args)
    if search.errors:
        return _render(search)
    rows = db.execute(_query(search).order_by(AuditEvent.id).limit(EXPORT_LIMIT)).all()
    audit.append(db, actor(), "export", "audit", "search", patient_id=search.patient_id,
                 detail={"filters": search.recorded(), "rows": len(rows), "format": "csv"})
    db.commit()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Response(
        _csv_rows(rows),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'},
    )
