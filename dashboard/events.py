"""Server-Sent Events for live views: "this encounter changed", from the database itself.

The source of truth is ``encounters.revision``, bumped in the same transaction as every change
under an encounter (docs/data-model.md). Each open stream polls that one integer with a
short-lived session, so:

- it works with any number of web processes and ingest workers (no in-process bus: the
  change may have been committed by another process, or by the ingest);
- no database connection is held while the stream is idle (the session is closed between
  polls and its connection goes back to the pool);
- a stream ends by itself after ``lifetime`` seconds (the browser's EventSource reconnects
  after the ``retry`` delay), so a worker thread is never held forever, and at the session's
  idle deadline with an ``expired`` event (a passive stream is no user activity).

The events carry no patient data: only the revision number.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dashboard.models import Encounter


@dataclass(frozen=True)
class EncounterState:
    revision: int
    ended: bool


class EncounterRevisions:
    """Reads an encounter's revision with a fresh session each time (one small query)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def __call__(self, encounter_id: int) -> EncounterState | None:
        with self.sessions() as db:
            row = db.execute(
                select(Encounter.revision, Encounter.ended_at).where(Encounter.id == encounter_id)
            ).first()
        if row is None:
            return None
        return EncounterState(revision=row.revision, ended=row.ended_at is not None)


def message(event: str, data: str = "") -> str:
    """One SSE message (``event:`` and a single ``data:`` line)."""
    return f"event: {event}\ndata: {data}\n\n"


@dataclass(frozen=True)
class StreamSettings:
    poll_seconds: float = 1.0
    heartbeat_seconds: float = 15.0
    """A comment line this often, so proxies keep the stream and a gone client is noticed."""
    lifetime_seconds: float = 300.0
    retry_ms: int = 2000


def revision_stream(
    read: Callable[[], EncounterState | None],
    known_revision: int | None,
    settings: StreamSettings,
    *,
    expires_at: float | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[str]:
    """Yield SSE text: ``revision`` (data: the new number) whenever it differs from the last one
    the client saw, ``ended`` once the encounter is closed, ``gone`` if it disappears, and
    ``expired`` at ``expires_at`` (wall-clock seconds, the login session's idle deadline)."""
    yield f"retry: {settings.retry_ms}\n\n"
    started = last_beat = clock()
    known = known_revision
    ended_sent = False
    while True:
        state = read()
        if state is None:
            yield message("gone")
            return
        if state.revision != known:
            known = state.revision
            yield message("revision", str(known))
        if state.ended and not ended_sent:
            ended_sent = True
            yield message("ended", str(known))
        now = clock()
        if expires_at is not None and now >= expires_at:
            yield message("expired")
            return
        if now - started >= settings.lifetime_seconds:
            return  # the client reconnects with the revision it has
        if now - last_beat >= settings.heartbeat_seconds:
            last_beat = now
            yield ": keep-alive\n\n"
        sleep(settings.poll_seconds)
