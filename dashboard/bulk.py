"""Many rows in few statements, on SQLite and PostgreSQL (the ingest's batches).

- ``insert_ignore`` / ``insert_ignore_many``: INSERT ... ON CONFLICT DO NOTHING, telling which
  rows went in (exactly-once filing rests on it); ``insert_many``: a plain multi-row INSERT.
- PostgreSQL: ``INSERT ... SELECT FROM unnest(<one array per column>)`` with the arrays sent in
  psycopg's binary format (``_unnest_insert``).
- SQLite: ``DriverInsert``, rows made into the driver's parameters before the write lock is
  taken, ``present``/``begin_immediate`` for exactly-once with the lock held, and
  ``WriterTurn``, the queue in which the ingest's writers of one file wait for that lock.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import JSON, Dialect, Engine, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_ignore(
    session: Session, table: Table, values: dict[str, Any] | list[dict[str, Any]], keys: list[str]
) -> int:
    """INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL; returns rows inserted."""
    dialect = session.get_bind().dialect.name
    builder = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}.get(dialect)
    if builder is None:
        raise RuntimeError(f"database {dialect!r} is not supported (SQLite or PostgreSQL)")
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT ... ON CONFLICT DO NOTHING.
    statement = (
        builder(table)
        .values(values)
        .on_conflict_do_nothing(index_elements=keys)
        .returning(table.c[keys[0]])
    )
    return len(session.execute(statement).all())


def insert_ignore_many(
    session: Session, table: Table, rows: list[dict[str, Any]], keys: list[str]
) -> set[Any]:
    """Multi-row INSERT ... ON CONFLICT DO NOTHING; the first key of the rows inserted."""
    if not rows:
        return set()
    dialect = session.get_bind().dialect.name
    builder = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}.get(dialect)
    if builder is None:
        raise RuntimeError(f"database {dialect!r} is not supported (SQLite or PostgreSQL)")
    if dialect == "postgresql":
        result = session.connection().exec_driver_sql(*_unnest_insert(table, rows, keys))
        return {key for (key,) in result}
    # One statement executed for many parameter sets: SQLAlchemy compiles it once and sends
    # multi-row VALUES batches ("insertmanyvalues"); a .values(list) statement would be
    # compiled anew for every batch size, which cost more than the database round trips.
    statement = (
        builder(table).on_conflict_do_nothing(index_elements=keys).returning(table.c[keys[0]])
    )
    inserted: set[Any] = set(session.scalars(statement, rows))
    return inserted


def insert_many(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """A plain multi-row INSERT (every row has the same keys)."""
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.connection().exec_driver_sql(*_unnest_insert(table, rows))
    else:
        session.execute(table.insert(), rows)


def _unnest_insert(
    table: Table, rows: list[dict[str, Any]], keys: list[str] | None = None
) -> tuple[str, dict[str, list[Any]]]:
    """PostgreSQL: ``INSERT ... SELECT * FROM unnest(<one array per column>)``, for
    ``exec_driver_sql``.

    The statement text depends only on the table and the columns, so psycopg converts it
    once and reuses it, and the values travel as a few arrays. The multi-row VALUES that
    SQLAlchemy builds for ``executemany`` with RETURNING is new text for every batch, longer
    than psycopg caches: parsing it cost a quarter of the ingest's CPU (bench/ingest.py).
    The arrays go in psycopg's binary format (``%(name)b``): its text format quotes every
    element with regular expressions and the server parses the text back, 2-10 times the cost
    per element (measured on this machine: 4.6 vs 0.4 us per timestamp), which was a third of
    the ingest's CPU per reading on PostgreSQL.
    """
    given = tuple(rows[0])
    defaults = scalar_defaults(table, given)
    statement = _unnest_statement(table, given, tuple(defaults), tuple(keys or ()))
    params: dict[str, list[Any]] = {}
    for index, name in enumerate(given):
        json_column = isinstance(table.c[name].type, JSON)
        params[f"c{index}"] = [
            json.dumps(row[name]) if json_column and row[name] is not None else row[name]
            for row in rows
        ]
    for index, value in enumerate(defaults.values(), start=len(given)):
        params[f"c{index}"] = [value] * len(rows)
    return statement, params


@cache
def _unnest_statement(
    table: Table, given: tuple[str, ...], defaulted: tuple[str, ...], keys: tuple[str, ...]
) -> str:
    dialect = postgresql.dialect()
    names = given + defaulted
    arrays = ", ".join(
        f"CAST(%(c{index})b AS {table.c[name].type.compile(dialect)}[])"
        for index, name in enumerate(names)
    )
    columns = ", ".join(f'"{name}"' for name in names)
    sql = f'INSERT INTO "{table.name}" ({columns}) SELECT * FROM unnest({arrays})'
    if keys:
        conflict = ", ".join(f'"{key}"' for key in keys)
        sql += f' ON CONFLICT ({conflict}) DO NOTHING RETURNING "{keys[0]}"'
    return sql


def scalar_defaults(table: Table, given: Iterable[str]) -> dict[str, Any]:
    """The scalar Python defaults of the columns not ``given``: what an ORM insert fills in
    and a statement written out column by column must send itself."""
    given = set(given)
    return {
        c.name: c.default.arg  # type: ignore[union-attr]
        for c in table.columns
        if c.name not in given and c.default is not None and c.default.is_scalar
    }


# SQLite ---------------------------------------------------------------------------------
# SQLite has one write lock per database, so what an ingest worker does while holding it is
# what a second worker cannot overlap. SQLAlchemy's executemany turns every row into the
# driver's parameters (dates to text, JSON to text) at execution time, that is inside the
# lock; DriverInsert does that conversion beforehand, with SQLAlchemy's own bind processors
# for the dialect (so the stored text is exactly what an ORM insert stores), and leaves only
# sqlite3's executemany for the locked part. Exactly-once needs to know which readings were
# new: BEGIN IMMEDIATE takes the write lock at the start of the transaction, so the ids that
# ``present`` finds cannot change until the commit and the plain inserts of the others
# cannot collide. Measured in-process (bench/ingest.py's readings, batches of 400): the
# locked part of a batch went from ~97 to ~48 us per reading.

_MAX_VARIABLES = 900
"""Ids per ``IN (...)``: below 999, SQLite's limit before version 3.32."""


@dataclass(frozen=True)
class DriverInsert:
    """An INSERT's SQL and its rows as driver parameters, keyed for filtering."""

    sql: str
    params: list[tuple[Any, ...]]
    key_position: int
    """the parameter that ``run`` filters on (the reading id)"""

    def run(self, session: Session, skip: set[Any] | frozenset[Any] = frozenset()) -> None:
        rows = (
            self.params
            if not skip
            else [p for p in self.params if p[self.key_position] not in skip]
        )
        if rows:
            session.connection().exec_driver_sql(self.sql, rows)


def driver_insert(
    table: Table, rows: list[dict[str, Any]], key: str, dialect: Dialect
) -> DriverInsert:
    """``rows`` (all with the same keys) as parameters of a plain INSERT into ``table``.

    Columns the rows leave out get their scalar Python defaults, as an ORM insert would.
    """
    given = tuple(rows[0])
    sql, names, processors, defaults = _plan(table, given, dialect)
    params = []
    for row in rows:
        values = [row[name] for name in given]
        values += defaults
        params.append(
            tuple(
                value if process is None or value is None else process(value)
                for value, process in zip(values, processors, strict=True)
            )
        )
    return DriverInsert(sql, params, names.index(key))


@cache
def _plan(
    table: Table, given: tuple[str, ...], dialect: Dialect
) -> tuple[str, list[str], list[Callable[[Any], Any] | None], list[Any]]:
    defaulted = scalar_defaults(table, given)
    names = [*given, *defaulted]
    processors = [
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    ]
    columns = ", ".join(f'"{name}"' for name in names)
    marks = ", ".join("?" for _ in names)
    sql = f'INSERT INTO "{table.name}" ({columns}) VALUES ({marks})'
    return sql, names, processors, list(defaulted.values())


def begin_immediate(session: Session) -> None:
    """Start the session's transaction holding the write lock (the busy timeout applies)."""
    session.connection().exec_driver_sql("BEGIN IMMEDIATE")


def present(session: Session, table: Table, column: str, keys: Iterable[Any]) -> set[Any]:
    """Which of ``keys`` are in ``table.column`` already."""
    keys = list(keys)
    found: set[Any] = set()
    for start in range(0, len(keys), _MAX_VARIABLES):
        chunk = keys[start : start + _MAX_VARIABLES]
        marks = ", ".join("?" for _ in chunk)
        found.update(
            key
            for (key,) in session.connection().exec_driver_sql(
                f'SELECT "{column}" FROM "{table.name}" WHERE "{column}" IN ({marks})',
                tuple(chunk),
            )
        )
    return found


class WriterTurn:
    """Writers of one SQLite file wait here for its write lock: each gets in the moment the
    one before it is done, instead of at SQLite's next retry.

    SQLite's busy handler sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100 ms between
    tries (``sqliteDefaultBusyCallback`` in sqlite3.c), so an ingest worker that met the
    other one's batch (~25 ms under the lock) woke up to ~10 ms after the lock was free,
    its core idle meanwhile. An ``flock`` on a file beside the database wakes the waiter
    when the holder lets go. Only filers take the turn; whoever holds it waits for SQLite's
    lock like any writer, and nobody holding SQLite's lock waits for the turn, so it cannot
    deadlock. On PostgreSQL, and on an in-memory SQLite, entering it does nothing. One per
    writing thread (a Filer's): threads entering the same instance would share its lock.
    """

    def __init__(self, engine: Engine) -> None:
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        self.path = f"{database}-writer.lock" if database and database != ":memory:" else None
        self._file: Any = None

    def __enter__(self) -> WriterTurn:
        if self.path is not None:
            if self._file is None:
                self._file = open(self.path, "a")  # kept open: the lock is on it
            fcntl.flock(self._file, fcntl.LOCK_EX)  # releases the GIL while it waits
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
