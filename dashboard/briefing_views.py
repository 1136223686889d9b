"""The physician's briefing: the room-tablet page, its live updates (SSE) and a print view.

- ``/briefing/<id>``: one screen for a 10-inch tablet; ``static/briefing.js`` listens to
  ``/briefing/<id>/events`` and, when the encounter's revision changes (the assistant accepted
  a reading, answered triage, ...), fetches ``/briefing/<id>/body`` and swaps it in.
- ``/briefing/room/<room>``: a room tablet's fixed address: the briefing of whoever is in it.
- ``/briefing/<id>/print``: the same content for paper, no script.

The event stream and the body refresh are *passive*: they are not someone using the tablet,
so they do not extend the login session's idle time (``_passive``). A briefing left open on a
tablet nobody touches still logs out after ``SESSION_IDLE_MINUTES``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import select

from dashboard import audit, briefing, events
from dashboard.assistant import units_system
from dashboard.auth import actor, db_session, roles_required
from dashboard.models import Encounter, Room

bp = Blueprint("briefing", __name__, url_prefix="/briefing")
READERS = ("physician", "assistant")
_PASSIVE = frozenset({"briefing.events", "briefing.body"})


@bp.url_value_preprocessor
def _remember_last_activity(endpoint: str | None, _values: dict[str, Any] | None) -> None:
    # URL value preprocessors run before the app's before_request hooks, so this sees the
    # session's last activity before auth refreshes it for this request.
    if endpoint in _PASSIVE:
        g.briefing_last_seen = session.get("last_seen")


def _passive() -> float | None:
    """Undo this request's refresh of the idle clock; returns the idle deadline (epoch s)."""
    last_seen = g.get("briefing_last_seen")
    if last_seen is None:
        return None
    session["last_seen"] = last_seen
    return float(last_seen) + current_app.config["SESSION_IDLE_MINUTES"] * 60


@bp.app_template_filter("briefing_time")
def briefing_time(value: datetime | None, fmt: str = "%H:%M") -> str:
    """A stored instant in the clinic's local time (SQLite returns UTC without its offset)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone().strftime(fmt)


def _today() -> date:
    return date.today()


def _site_encounter(encounter_id: int) -> Encounter:
    encounter = db_session().get(Encounter, encounter_id)
    if encounter is None or encounter.site != current_app.config["SITE"]:
        abort(404)
    return encounter


def _assembled(encounter_id: int, page: str) -> briefing.Briefing:
    db = db_session()
    found = briefing.assemble(db, encounter_id, units=units_system(), today=_today())
    if found is None or db.get(Encounter, encounter_id).site != current_app.config["SITE"]:
        abort(404)
    audit.append(db, actor(), "view", "briefing", encounter_id, patient_id=found.patient_id,
                 detail={"page": page, "revision": found.revision})
    db.commit()
    return found


def _context(found: briefing.Briefing) -> dict[str, Any]:
    return {
        "b": found,
        "now": datetime.now(UTC),
        "events_url": url_for("briefing.events", encounter_id=found.encounter_id),
        "body_url": url_for("briefing.body", encounter_id=found.encounter_id),
    }


@bp.get("/<int:encounter_id>")
@roles_required(*READERS)
def page(encounter_id: int) -> str:
    found = _assembled(encounter_id, "briefing")
    return render_template("briefing/page.html", **_context(found))


@bp.get("/<int:encounter_id>/body")
@roles_required(*READERS)
def body(encounter_id: int) -> str:
    _passive()
    found = _assembled(encounter_id, "briefing update")
    return render_template("briefing/_body.html", **_context(found))


@bp.get("/<int:encounter_id>/print")
@roles_required(*READERS)
def print_view(encounter_id: int) -> str:
    found = _assembled(encounter_id, "print")
    return render_template("briefing/print.html", **_context(found))


@bp.get("/<int:encounter_id>/events", endpoint="events")
@roles_required(*READERS)
def events_stream(encounter_id: int) -> Response:
    expires_at = _passive()
    _site_encounter(encounter_id)
    known = request.args.get("revision", type=int)
    # Nothing below touches the request's session: the stream opens its own short sessions,
    # and the request's connection goes back to the pool when this view returns.
    read_state = events.EncounterRevisions(current_app.extensions["roomvitals.sessions"])
    settings = events.StreamSettings(
        poll_seconds=float(current_app.config.get("SSE_POLL_SECONDS", 1.0)),
        heartbeat_seconds=float(current_app.config.get("SSE_HEARTBEAT_SECONDS", 15.0)),
        lifetime_seconds=float(current_app.config.get("SSE_LIFETIME_SECONDS", 300.0)),
    )
    stream = events.revision_stream(
        lambda: read_state(encounter_id), known, settings, expires_at=expires_at
    )
    return Response(
        stream,
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@bp.get("/room/<name>")
@roles_required(*READERS)
def room(name: str) -> Any:
    """A room tablet's bookmark: the briefing of the room's open encounter, or a wait page."""
    db = db_session()
    found = db.scalar(
        select(Room).where(Room.site == current_app.config["SITE"], Room.name == name)
    )
    if found is None:
        abort(404)
    encounter = db.scalar(
        select(Encounter).where(Encounter.room_id == found.id, Encounter.ended_at.is_(None))
    )
    if encounter is not None:
        return redirect(url_for("briefing.page", encounter_id=encounter.id))
    return render_template("briefing/empty_room.html", room=found)
