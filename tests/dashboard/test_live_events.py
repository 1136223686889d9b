"""How a web process learns that an encounter changed (dashboard/events.py).

On PostgreSQL, migration 0005's trigger sends NOTIFY on every committed update of
``encounters`` and each process's watcher LISTENs on a connection of its own; on SQLite the
watcher polls. Both on the real databases: a change committed by another connection (as the
ingest or another web process would) must reach the watcher.
"""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import text, update
from sqlalchemy.orm import Session, sessionmaker

from dashboard import events
from dashboard.db import alembic_config, upgrade
from dashboard.models import Encounter
from tests.helpers import open_encounter, wait_until


def _encounter(engine) -> int:
    return open_encounter(engine, "live", "room-1")


def _bump(engine, encounter_id: int) -> None:
    with Session(engine) as db, db.begin():
        db.execute(update(Encounter).where(Encounter.id == encounter_id)
                   .values(revision=Encounter.revision + 1))


def _stop(watcher: events._Watcher, engine, encounter_id: int) -> None:
    """Let the watcher's thread end: every stream gone quiet long ago, and a change to wake
    it (it forgets encounters nobody asked about for ``WATCH_IDLE_S``)."""
    thread = watcher._thread
    assert thread is not None and thread.is_alive()
    for encounter in watcher._asked:
        watcher._asked[encounter] = float("-inf")
    _bump(engine, encounter_id)
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert watcher._thread is None and watcher.listener is None


@pytest.fixture
def postgres(engine):
    assert engine.dialect.name == "postgresql"
    return engine


# Each case on the database it is about (the fixture runs every test on both by default).
on_postgres = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
on_sqlite = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@on_postgres
def test_the_trigger_notifies_a_listener_of_a_committed_change_and_only_then(postgres):
    encounter_id = _encounter(postgres)
    listener = events._Listener.open(sessionmaker(postgres))
    assert listener is not None
    try:
        assert listener.wait(0.05) is False  # nothing changed yet
        with Session(postgres) as db:
            db.execute(update(Encounter).where(Encounter.id == encounter_id)
                       .values(revision=5))
            assert listener.wait(0.2) is False  # not before the commit
            db.commit()
        assert listener.wait(30) is True
        assert listener.read([encounter_id, 999_999]) == {
            encounter_id: events.EncounterState(revision=5, ended=False), 999_999: None}
    finally:
        listener.close()


@on_sqlite
def test_no_listener_on_sqlite(engine):
    assert events._Listener.open(sessionmaker(engine)) is None


@on_postgres
def test_the_watcher_wakes_on_the_notification_not_on_its_fallback_poll(postgres, monkeypatch):
    monkeypatch.setattr(events, "WATCH_FALLBACK_S", 3600.0)
    monkeypatch.setattr(events, "WATCH_TICK_S", 3600.0)
    encounter_id = _encounter(postgres)
    watcher = events._Watcher(sessionmaker(postgres))
    assert watcher.state(encounter_id) == events.EncounterState(0, False)
    wait_until(lambda: watcher.listener is not None, timeout=30)
    _bump(postgres, encounter_id)
    wait_until(lambda: watcher.state(encounter_id) == events.EncounterState(1, False), timeout=30)
    _stop(watcher, postgres, encounter_id)


@on_postgres
def test_a_lost_listening_connection_falls_back_to_polling_and_listens_again(
    postgres, monkeypatch
):
    monkeypatch.setattr(events, "WATCH_FALLBACK_S", 3600.0)
    monkeypatch.setattr(events, "LISTEN_RETRY_S", 0.5)
    encounter_id = _encounter(postgres)
    watcher = events._Watcher(sessionmaker(postgres))
    watcher.state(encounter_id)
    wait_until(lambda: watcher.listener is not None, timeout=30)
    first = watcher.listener.backend_pid
    with postgres.connect() as conn:  # as a database restart or an idle-session killer would
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    _bump(postgres, encounter_id)
    wait_until(lambda: watcher.state(encounter_id) == events.EncounterState(1, False), timeout=30)
    wait_until(lambda: watcher.listener is not None and watcher.listener.backend_pid != first,
               timeout=30)
    _bump(postgres, encounter_id)
    wait_until(lambda: watcher.state(encounter_id) == events.EncounterState(2, False), timeout=30)
    _stop(watcher, postgres, encounter_id)


@on_sqlite
def test_sqlite_watcher_polls_and_restarts_for_a_later_stream(engine):
    encounter_id = _encounter(engine)
    watcher = events._Watcher(sessionmaker(engine))
    watcher.state(encounter_id)
    _bump(engine, encounter_id)
    wait_until(lambda: watcher.state(encounter_id) == events.EncounterState(1, False), timeout=30)
    assert watcher.listener is None
    _stop(watcher, engine, encounter_id)
    # A stream that comes after the thread ended starts it again.
    assert watcher.state(encounter_id) == events.EncounterState(2, False)
    _bump(engine, encounter_id)
    wait_until(lambda: watcher.state(encounter_id) == events.EncounterState(3, False), timeout=30)
    _stop(watcher, engine, encounter_id)


@on_postgres
def test_migration_0005_installs_and_removes_the_trigger(postgres, database_url):
    def triggers() -> list[str]:
        with postgres.connect() as conn:
            return list(conn.scalars(text(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'encounters'::regclass "
                "AND NOT tgisinternal")))

    assert triggers() == ["encounters_notify_change"]
    with postgres.begin() as conn:
        config = alembic_config(database_url)
        config.attributes["connection"] = conn
        command.downgrade(config, "0004")
    assert triggers() == []
    upgrade(database_url)
    assert triggers() == ["encounters_notify_change"]


def test_migrations_0005_and_0006_go_down_and_up(engine, database_url):
    from sqlalchemy import inspect

    def columns() -> set[str]:
        return {c["name"] for c in inspect(engine).get_columns("encounters")}

    added = {"consciousness", "on_oxygen", "spo2_scale"}
    assert added <= columns()
    with engine.begin() as conn:
        config = alembic_config(database_url)
        config.attributes["connection"] = conn
        command.downgrade(config, "0004")
    engine.dispose()  # SQLite's batch mode rebuilt the table: no cached reflection
    assert not added & columns()
    upgrade(database_url)
    engine.dispose()
    assert added <= columns()
