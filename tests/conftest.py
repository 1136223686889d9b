"""Shared fixtures: real Mosquitto processes, SQLite and PostgreSQL databases."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from roomvitals.broker import Mosquitto

PG_URL = os.environ.get(
    "ROOMVITALS_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _need_mosquitto() -> None:
    if shutil.which("mosquitto") is None:
        pytest.fail("mosquitto is not installed: the README's test command installs it")


@pytest.fixture(scope="session")
def mosquitto() -> Iterator[Mosquitto]:
    """One broker for the test session, on a free loopback port."""
    _need_mosquitto()
    broker = Mosquitto().start()
    yield broker
    broker.cleanup()


@pytest.fixture
def own_mosquitto() -> Iterator[Mosquitto]:
    """A broker of this test's own, for tests that stop or kill it."""
    _need_mosquitto()
    broker = Mosquitto().start()
    yield broker
    broker.cleanup()


_pg_reason: str | None = None


def _postgres_available() -> str | None:
    """None if PostgreSQL answers, else why not (for a visible skip reason)."""
    global _pg_reason
    if _pg_reason is None:
        try:
            engine = create_engine(PG_URL)
            with engine.connect() as conn:
                conn.execute(text("select 1"))
            engine.dispose()
            _pg_reason = ""
        except Exception as exc:  # any failure to connect means: skip, and say why
            _pg_reason = f"PostgreSQL at {PG_URL.split('@')[-1]} does not answer: {exc}"[:300]
    return _pg_reason or None


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> Iterator[str]:
    """An empty, migrated database: a SQLite file, and a fresh PostgreSQL schema."""
    from dashboard.db import upgrade

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'roomvitals.sqlite3'}"
        upgrade(url)
        yield url
        return
    reason = _postgres_available()
    if reason:
        pytest.skip(reason)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{separator}options=-csearch_path%3D{schema}"
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def engine(database_url):
    """A SQLAlchemy engine on ``database_url`` (each database), disposed after the test."""
    from dashboard.db import make_engine

    engine = make_engine(database_url)
    yield engine
    engine.dispose()


# The machines tests run on are shared and noisy: no per-example deadline (a deadline is a
# wall-clock threshold), but the usual number of examples.
from hypothesis import settings  # noqa: E402

settings.register_profile("roomvitals", deadline=None)
settings.load_profile("roomvitals")
