"""A batch's inserts into SQLite, made ready before the write lock and run with it held.

SQLite has one write lock per database, so what an ingest worker does while holding it is
what a second worker cannot overlap. SQLAlchemy's ``executemany`` turns every row into the
driver's parameters (dates to text, JSON to text) at execution time, that is inside the
lock; ``DriverInsert`` does that conversion beforehand, with SQLAlchemy's own bind
processors for the dialect (so the stored text is exactly what an ORM insert stores), and
leaves only ``sqlite3``'s ``executemany`` for the locked part.

Exactly-once needs to know which readings were new. ``BEGIN IMMEDIATE`` takes the write lock
at the start of the transaction, so the ids found present by ``present`` cannot change until
the commit, and the plain inserts of the others cannot collide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Dialect, Table
from sqlalchemy.orm import Session

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
    defaulted = {
        c.name: c.default.arg  # type: ignore[union-attr]
        for c in table.columns
        if c.name not in given and c.default is not None and c.default.is_scalar
    }
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
