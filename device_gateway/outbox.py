"""The durable outbox: a reading is on disk before it is published, and leaves after PUBACK.

SQLite in WAL mode with ``synchronous=FULL``: a committed row survives ``kill -9`` and power
loss. Rows are published oldest first (by ``seq``), and a reading id is stored once.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


class OutboxError(RuntimeError):
    """The outbox file cannot be written (disk full, corrupt file, permissions)."""


@dataclass(frozen=True)
class Pending:
    seq: int
    topic: str
    payload: bytes


class Outbox:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS outbox ("
                " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                " reading_id TEXT NOT NULL UNIQUE,"
                " topic TEXT NOT NULL,"
                " payload BLOB NOT NULL)"
            )
        except sqlite3.DatabaseError as exc:
            raise OutboxError(f"outbox {self.path}: {exc}") from exc

    def put(self, reading_id: str, topic: str, payload: bytes) -> bool:
        """Store a reading; False if that id is already waiting (a re-sent record)."""
        return self.put_many([(reading_id, topic, payload)]) == 1

    def put_many(self, rows: Iterable[tuple[str, str, bytes]]) -> int:
        with self._lock:
            try:
                before = self._db.total_changes
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(
                    "INSERT OR IGNORE INTO outbox (reading_id, topic, payload) VALUES (?, ?, ?)",
                    list(rows),
                )
                self._db.execute("COMMIT")
                return self._db.total_changes - before
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise OutboxError(f"outbox {self.path}: cannot store reading: {exc}") from exc

    def after(self, seq: int, limit: int) -> list[Pending]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, topic, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                (seq, limit),
            ).fetchall()
        return [Pending(s, t, bytes(p)) for s, t, p in rows]

    def remove(self, seqs: Iterable[int]) -> None:
        with self._lock:
            try:
                self._db.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs])
            except sqlite3.Error as exc:
                raise OutboxError(
                    f"outbox {self.path}: cannot remove sent readings: {exc}"
                ) from exc

    def depth(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM outbox").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
