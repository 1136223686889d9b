"""Server-Sent Events for live views: "this encounter changed", from the database itself.

The source of truth is ``encounters.revision``, bumped in the same transaction as every change
under an encounter (docs/data-model.md). Each open stream polls that one integer with a
short-lived session, so:

- it works with any number of web processes and ingest workers (no in-process bus: the
  change may have been committed by another process, or by the ingest);
- one watcher thread per process reads the revisions of all the encounters its open streams
  show, in one query every ``WATCH_TICK_S``, and wakes the streams when one changed, so a
  change reaches every tablet within a tick and many tablets cost no more queries than one;
- no database connection is held while the stream is idle (the session is closed between
  polls and its connection goes back to the pool);
- a stream ends by itself after ``lifetime`` seconds (the browser's EventSource reconnects
  after the ``retry`` delay), so a worker thread is never held forever, and at the session's
  idle deadline with an ``expired`` event (a passive stream is no user activity).

The events carry no patient data: only the revision number.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dashboard.models import Encounter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EncounterState:
    revision: int
    ended: bool


WATCH_TICK_S = 0.02
"""How often a process's watcher reads the revisions of the encounters its streams show."""
WATCH_IDLE_S = 30.0
"""An encounter no stream has asked about for this long is no longer watched."""
_any_change = threading.Condition()
"""Notified by every watcher of the process when a revision it watches changed."""
_changes = 0
"""How many times ``_any_change`` was notified (under its lock)."""
_seen = threading.local()


class _Watcher:
    """One thread per process (per session factory) that reads, every ``WATCH_TICK_S``, the
    revisions of every encounter an open stream shows, in one query, and wakes the streams
    when one changed. Streams then answer from its cache: 200 tablets on one briefing cost
    one small query per tick, not 200 a second, and see a change within a tick instead of
    within their own poll interval (bench/sse_fanout.py measures it)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self._states: dict[int, EncounterState | None] = {}
        self._asked: dict[int, float] = {}
        self._thread: threading.Thread | None = None

    def state(self, encounter_id: int) -> EncounterState | None:
        self._asked[encounter_id] = time.monotonic()
        if encounter_id not in self._states:
            self._states[encounter_id] = self._read([encounter_id]).get(encounter_id)
            self._ensure_thread()
        return self._states.get(encounter_id)

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="sse-watcher", daemon=True)
            self._thread.start()

    def _read(self, ids: list[int]) -> dict[int, EncounterState | None]:
        with self.sessions() as db:
            rows = db.execute(
                select(Encounter.id, Encounter.revision, Encounter.ended_at).where(
                    Encounter.id.in_(ids)
                )
            ).all()
        found: dict[int, EncounterState | None] = dict.fromkeys(ids)
        for row in rows:
            found[row.id] = EncounterState(revision=row.revision, ended=row.ended_at is not None)
        return found

    def _run(self) -> None:
        while True:
            time.sleep(WATCH_TICK_S)
            now = time.monotonic()
            for encounter_id, asked in list(self._asked.items()):
                if now - asked > WATCH_IDLE_S:
                    self._asked.pop(encounter_id, None)
                    self._states.pop(encounter_id, None)
            ids = sorted(self._asked)
            if not ids:
                return  # started again by the next stream
            try:
                fresh = self._read(ids)
            except Exception:  # the database is away: the streams keep their last state
                log.warning("SSE watcher cannot read encounter revisions", exc_info=True)
                time.sleep(1)
                continue
            if any(self._states.get(i) != state for i, state in fresh.items()):
                self._states.update(fresh)
                _notify_all()


def _notify_all() -> None:
    global _changes
    with _any_change:
        _changes += 1
        _any_change.notify_all()


_watchers: dict[int, _Watcher] = {}
_watchers_lock = threading.Lock()


def _watcher(sessions: sessionmaker[Session]) -> _Watcher:
    with _watchers_lock:
        found = _watchers.get(id(sessions))
        if found is None or found.sessions is not sessions:
            found = _watchers[id(sessions)] = _Watcher(sessions)
        return found


class EncounterRevisions:
    """An encounter's revision, from the process's shared watcher (one query per tick for
    all streams); ``revision_stream`` wakes when any watched revision changed."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self._watcher = _watcher(sessions)

    def __call__(self, encounter_id: int) -> EncounterState | None:
        return self._watcher.state(encounter_id)


def _wait_for_any_change(timeout: float) -> None:
    """Sleep ``timeout`` seconds, or until a watcher of this process saw a change."""
    with _any_change:
        # A change noticed between this thread's last wake and now is not missed: the
        # stream reads again at once instead of sleeping through it.
        if getattr(_seen, "changes", None) != _changes:
            _seen.changes = _changes
            return
        _any_change.wait(timeout)
        _seen.changes = _changes


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
    sleep: Callable[[float], None] | None = None,
) -> Iterator[str]:
    """Yield SSE text: ``revision`` (data: the new number) whenever it differs from the last one
    the client saw, ``ended`` once the encounter is closed, ``gone`` if it disappears, and
    ``expired`` at ``expires_at`` (wall-clock seconds, the login session's idle deadline).

    Between reads it waits ``poll_seconds``, or less: by default it wakes as soon as any
    watcher of this process saw a revision change (``EncounterRevisions``)."""
    if sleep is None:
        sleep = _wait_for_any_change
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
