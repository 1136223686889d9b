"""Server-Sent Events for live views: "this encounter changed", from the database itself.

The source of truth is ``encounters.revision``, bumped in the same transaction as every change
under an encounter (docs/data-model.md). Each open stream polls that one integer with a
short-lived session, so:

- it works with any number of web processes and ingest workers (no in-process bus: the
  change may have been committed by another process, or by the ingest);
- one watcher thread per process reads the revisions of all the encounters its open streams
  show, in one query, and wakes the streams when one changed, so many tablets cost no more
  queries than one. On PostgreSQL it reads when the database says something changed: a
  trigger on ``encounters`` (migration 0005) sends ``NOTIFY roomvitals_encounters`` with
  every committed update, which the watcher LISTENs for on a connection of its own, and it
  reads every ``WATCH_FALLBACK_S`` besides, in case a notification cannot arrive (a pooling
  proxy in transaction mode drops LISTEN). On SQLite, which has no notifications, it reads
  every ``WATCH_TICK_S``;
- no database connection is held while the stream is idle (the session is closed between
  polls and its connection goes back to the pool);
- a stream ends by itself after ``lifetime`` seconds (the browser's EventSource reconnects
  after the ``retry`` delay), so a worker thread is never held forever, and at the session's
  idle deadline with an ``expired`` event (a passive stream is no user activity).

The events carry no patient data: only the revision number.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, Select, select, text
from sqlalchemy.orm import Session, sessionmaker

from dashboard.models import Encounter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EncounterState:
    revision: int
    ended: bool


WATCH_TICK_S = 0.02
"""How often a process's watcher reads the revisions of the encounters its streams show,
where the database cannot notify it (SQLite, or a PostgreSQL listener that failed)."""
WATCH_FALLBACK_S = 1.0
"""How often it reads them anyway while it listens for notifications (PostgreSQL)."""
LISTEN_RETRY_S = 5.0
"""After a listening connection failed, how long the watcher polls before opening another."""
NOTIFY_CHANNEL = "roomvitals_encounters"
"""The channel migration 0005's trigger notifies on every committed update of encounters."""
WATCH_IDLE_S = 30.0
"""An encounter no stream has asked about for this long is no longer watched."""
_any_change = threading.Condition()
"""Notified by every watcher of the process when a revision it watches changed."""
_changes = 0
"""How many times ``_any_change`` was notified (under its lock)."""
_seen = threading.local()


class _Watcher:
    """One thread per process (per session factory) that reads the revisions of every
    encounter an open stream shows, in one query, when PostgreSQL notifies a change (else
    every ``WATCH_TICK_S``), and wakes the streams when one changed. Streams then answer from
    its cache: 200 tablets on one briefing cost one small query per change, not 200 a second,
    and see a change at once instead of within their own poll interval (bench/sse_fanout.py
    and bench/latency.py measure it)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self._states: dict[int, EncounterState | None] = {}
        self._asked: dict[int, float] = {}
        self._thread: threading.Thread | None = None
        self._thread_lock = threading.Lock()
        self.listener: _Listener | None = None
        """The PostgreSQL connection it listens on, while it has one."""

    def state(self, encounter_id: int) -> EncounterState | None:
        self._asked[encounter_id] = time.monotonic()
        if encounter_id not in self._states:
            state = self._read([encounter_id]).get(encounter_id)
            # The watcher may have read it meanwhile, later than this thread did.
            self._states.setdefault(encounter_id, state)
        self._ensure_thread()
        return self._states.get(encounter_id)

    def _ensure_thread(self) -> None:
        with self._thread_lock:  # streams open together: one thread, not one each
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="sse-watcher", daemon=True
                )
                self._thread.start()

    def _read(self, ids: list[int]) -> dict[int, EncounterState | None]:
        with self.sessions() as db:
            return _revisions(db.execute(_revisions_query(ids)).all(), ids)

    def _run(self) -> None:
        listener: _Listener | None = None
        listen_after = 0.0
        try:
            while True:
                just_opened = False
                if listener is None and time.monotonic() >= listen_after:
                    listener = self.listener = _Listener.open(self.sessions)
                    listen_after = time.monotonic() + LISTEN_RETRY_S
                    just_opened = listener is not None
                try:
                    if just_opened:
                        pass  # read at once: a change may have come before it listened
                    elif listener is not None:
                        listener.wait(WATCH_FALLBACK_S)
                    else:
                        time.sleep(WATCH_TICK_S)
                    ids = self._still_asked()
                    if not ids:
                        with self._thread_lock:
                            if not self._asked:  # else a stream came just now: go on
                                return  # started again by the next stream
                        continue
                    fresh = listener.read(ids) if listener is not None else self._read(ids)
                except Exception:  # the database is away: the streams keep their last state
                    log.warning("SSE watcher cannot read encounter revisions", exc_info=True)
                    if listener is not None:
                        listener.close()
                        listener = self.listener = None  # poll until the next try to listen
                    time.sleep(1)
                    continue
                if any(self._states.get(i) != state for i, state in fresh.items()):
                    self._states.update(fresh)
                    _notify_all()
        finally:
            with self._thread_lock:
                if self._thread is threading.current_thread():
                    self._thread = None
                    self.listener = None
            if listener is not None:
                listener.close()

    def _still_asked(self) -> list[int]:
        """The encounters a stream asked about lately (the others are forgotten)."""
        now = time.monotonic()
        for encounter_id, asked in list(self._asked.items()):
            if now - asked > WATCH_IDLE_S:
                self._asked.pop(encounter_id, None)
                self._states.pop(encounter_id, None)
        return sorted(self._asked)


def _revisions_query(ids: list[int]) -> Select:
    return select(Encounter.id, Encounter.revision, Encounter.ended_at).where(
        Encounter.id.in_(ids)
    )


def _revisions(rows, ids: list[int]) -> dict[int, EncounterState | None]:
    found: dict[int, EncounterState | None] = dict.fromkeys(ids)
    for row in rows:
        found[row.id] = EncounterState(revision=row.revision, ended=row.ended_at is not None)
    return found


class _Listener:
    """PostgreSQL: two connections of the watcher's own, one LISTENing on ``NOTIFY_CHANNEL``
    and nothing else (its socket carries only notifications, so waiting on it cannot
    overlook one that came in with a query's reply), one reading the revisions (autocommit:
    each read sees every commit notified before it). Both are taken out of the pool for
    good: they hold no pool slot and are not pinged on checkout."""

    def __init__(self, listening: Connection, reading: Connection) -> None:
        self.listening = listening
        self.reading = reading

    @classmethod
    def open(cls, sessions: sessionmaker[Session]) -> _Listener | None:
        engine = sessions.kw.get("bind")
        if not isinstance(engine, Engine) or engine.dialect.name != "postgresql":
            return None
        opened: list[Connection] = []
        try:
            for _ in range(2):
                connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
                connection.detach()
                opened.append(connection)
            opened[0].execute(text(f"LISTEN {NOTIFY_CHANNEL}"))
        except Exception:
            log.warning("SSE watcher cannot listen for changes; polling", exc_info=True)
            for connection in opened:
                with contextlib.suppress(Exception):
                    connection.close()
            return None
        return cls(*opened)

    @property
    def backend_pid(self) -> int:
        """The listening connection's server process."""
        return self.listening.connection.dbapi_connection.info.backend_pid

    def wait(self, timeout: float) -> bool:
        """Until a notification arrives (True) or ``timeout`` passes (False)."""
        notified = False
        driver = self.listening.connection.dbapi_connection
        for _ in driver.notifies(timeout=timeout, stop_after=1):
            notified = True
        return notified

    def read(self, ids: list[int]) -> dict[int, EncounterState | None]:
        return _revisions(self.reading.execute(_revisions_query(ids)).all(), ids)

    def close(self) -> None:
        for connection in (self.listening, self.reading):
            with contextlib.suppress(Exception):
                connection.close()


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
