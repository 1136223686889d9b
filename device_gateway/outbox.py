"""The durable outbox: a reading is on disk before it is published, and leaves after PUBACK.

SQLite in WAL mode with ``synchronous=FULL``: a committed row survives ``kill -9`` and power
loss. Rows are published oldest first (by ``seq``), and a reading id is stored once.

Group commit: one writer thread takes every row that arrived while the previous commit was
syncing and writes them in one transaction, so an fsync per reading does not cap the
throughput. ``put`` returns only when its row is durable; ``submit`` returns at once and
calls back when it is (the gateway's links use it: no device is ever told that a reading
arrived, so waiting for the disk there would only stall the link, see
bench/gateway_throughput.py). Either way a row is published only once it is committed.
Acknowledged rows are deleted by the same thread, in the same transactions (``remove`` only
hands their sequence numbers over), and the publisher reads waiting rows on a connection of
its own: WAL lets it read while the writer syncs, and the writer is the only one ever to
take the write lock.

A disk problem never stops the gateway. A file that is not a database (or is corrupt) is
moved aside as ``outbox.sqlite3.broken-<time>`` after saving the rows that can still be
read, and a fresh outbox takes its place. Where the outbox cannot be written at all (disk
full, read-only or missing directory), readings are held in memory, ``put`` raises
``OutboxUnavailable`` saying so, ``error`` says why, and the writer retries every few
seconds; the held readings are written, in order, as soon as it works again.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)

RETRY_S = 2.0
"""How often a broken outbox is tried again."""
MAX_HELD = 100_000
"""Readings kept in memory while the outbox cannot be written (about 100 MB at most)."""
MAX_SUBMITTED = 10_000
"""Submitted rows not yet committed beyond which ``submit`` waits for the disk."""
_CORRUPT = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB


class OutboxError(RuntimeError):
    """The outbox file cannot be written (disk full, corrupt file, permissions)."""


class OutboxUnavailable(OutboxError):
    """The reading is held in memory, not yet durable; it is written once the disk works."""


Row = tuple[str, str, bytes]


@dataclass(frozen=True)
class Pending:
    seq: int
    topic: str
    payload: bytes


Stored = Callable[["OutboxError | None", int], None]
"""Called by the writer thread once a submitted row is committed (error None; the count
inserted, 0 for an id already waiting) or could not be (the error; held in memory if
``OutboxUnavailable``)."""


@dataclass
class _Request:
    rows: list[Row]
    done: threading.Event | None = None  # for a caller that waits (not ``submit``)
    inserted: int = 0
    error: OutboxError | None = None
    stored: Stored | None = None


@dataclass
class _Removal:
    seqs: list[int]


class Outbox:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.error = ""
        """What is wrong with the outbox right now ("" when it works)."""
        self.notice = ""
        """Something the operator must know that is not wrong any more (a file moved aside)."""
        self.commits = 0
        self._lock = threading.Lock()  # the connection and the held rows
        self._db: sqlite3.Connection | None = None
        self._generation = 0  # a new file (a broken one moved aside) means a new reader
        self._read_lock = threading.Lock()
        self._reader: tuple[int, sqlite3.Connection] | None = None
        self._held: list[Row] = []
        self._max_seq = 0
        self._last_attempt = 0.0
        self._requests: queue.SimpleQueue[_Request | _Removal | None] = queue.SimpleQueue()
        with self._lock:
            self._try_open()
        self._writer = threading.Thread(target=self._write_loop, name="outbox-writer", daemon=True)
        self._writer.start()

    # public API ------------------------------------------------------------------------
    @property
    def problem(self) -> str:
        """The current error, else the last notice; for the gateway status."""
        return self.error or self.notice

    @property
    def held(self) -> int:
        return len(self._held)

    def put(self, reading_id: str, topic: str, payload: bytes) -> bool:
        """Store a reading; False if that id is already waiting (a re-sent record)."""
        return self.put_many([(reading_id, topic, payload)]) == 1

    def put_many(self, rows: Iterable[Row]) -> int:
        """Store readings durably (one commit with whatever else is waiting)."""
        request = _Request(list(rows), done=threading.Event())
        if not request.rows:
            return 0
        self._requests.put(request)
        request.done.wait()
        if request.error is not None:
            raise request.error
        return request.inserted

    def submit(self, reading_id: str, topic: str, payload: bytes,
               stored: Stored | None = None) -> None:
        """Store a reading without waiting for the disk; ``stored`` is called once it is
        durable (or why it is not). Waits only when the disk has fallen far behind."""
        self._requests.put(_Request([(reading_id, topic, payload)], stored=stored))
        if self._requests.qsize() > MAX_SUBMITTED:
            self.flush()

    def flush(self) -> None:
        """Wait until every row submitted so far is committed (or held in memory)."""
        request = _Request([], done=threading.Event())
        self._requests.put(request)
        request.done.wait()

    def after(self, seq: int, limit: int) -> list[Pending]:
        """Waiting rows after ``seq``, oldest first (never one still being committed)."""
        with self._read_lock:
            reader = self._read_connection()
            if reader is None:
                return []
            try:
                rows = reader.execute(
                    "SELECT seq, topic, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                    (seq, limit),
                ).fetchall()
            except sqlite3.Error as exc:
                log.error("outbox %s: cannot read waiting readings: %s", self.path, exc)
                self._close_reader()
                return []
        if rows:
            self._max_seq = max(self._max_seq, rows[-1][0])
        return [Pending(s, t, bytes(p)) for s, t, p in rows]

    def remove(self, seqs: Iterable[int]) -> None:
        """Delete acknowledged rows, in the writer's next transaction (this does not wait).

        The delete is not synced on its own: a delete lost in a crash or power cut only
        means the reading is sent again, which the ingest files once. A separate delete
        transaction per PUBACK batch, with its own commit, capped the gateway near 800
        readings/s (bench/gateway_throughput.py)."""
        seqs = list(seqs)
        if seqs:
            self._requests.put(_Removal(seqs))

    def depth(self) -> int:
        with self._lock:
            held = len(self._held)
            if self._db is None:
                return held
            try:
                return held + self._db.execute("SELECT count(*) FROM outbox").fetchone()[0]
            except sqlite3.Error:
                return held

    def recover(self) -> bool:
        """Try a broken outbox again now (the writer also does so every few seconds)."""
        with self._lock:
            self._last_attempt = 0.0
            return self._recover()

    def close(self) -> None:
        self._requests.put(None)
        self._writer.join(timeout=10)
        with self._lock:
            if self._db is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._db.close()
                self._db = None
        with self._read_lock:
            self._close_reader()
        if self._held:
            log.error(
                "outbox %s: %d reading(s) held in memory were never written: %s",
                self.path,
                len(self._held),
                self.error,
            )

    # the writer thread -----------------------------------------------------------------
    def _write_loop(self) -> None:
        while True:
            try:
                first = self._requests.get(timeout=RETRY_S)
            except queue.Empty:
                with self._lock:
                    self._recover()
                continue
            if first is None:
                return
            batch = [first]
            # Everything that arrived while the last commit was syncing goes in this one.
            while True:
                try:
                    more = self._requests.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._requests.put(None)  # close() after this batch
                    break
                batch.append(more)
            puts = [r for r in batch if isinstance(r, _Request)]
            removed = [s for r in batch if isinstance(r, _Removal) for s in r.seqs]
            with self._lock:
                if puts:
                    self._commit(puts, removed)
                elif removed:
                    self._delete(removed)
            for request in puts:
                if request.done is not None:
                    request.done.set()
                if request.stored is not None:
                    try:
                        request.stored(request.error, request.inserted)
                    except Exception:  # the writer must outlive a failing callback
                        log.exception("outbox %s: a stored-callback failed", self.path)

    def _commit(self, batch: list[_Request], removed: list[int]) -> None:
        if self._recover():
            try:
                self._write([r.rows for r in batch], batch, removed)
                return
            except sqlite3.Error as exc:
                self._failed("cannot store reading", exc)
        # Not durable: hold the rows in memory, in order, and say so to every caller.
        for request in batch:
            if len(self._held) + len(request.rows) > MAX_HELD:
                request.error = OutboxError(
                    f"outbox {self.path}: {self.error}; {len(self._held)} readings already "
                    "held in memory, this one is dropped"
                )
                continue
            self._held.extend(request.rows)
            request.inserted = len(request.rows)
            request.error = OutboxUnavailable(
                f"outbox {self.path}: {self.error}; reading held in memory "
                f"({len(self._held)} waiting) until the outbox can be written"
            )

    def _delete(self, seqs: list[int]) -> None:
        """Only deletes to write: a transaction without a sync of its own (see ``remove``)."""
        if self._db is None or self.error:
            return  # they are sent again after a restart; the ingest files them once
        try:
            self._db.execute("PRAGMA synchronous=NORMAL")
            try:
                self._write([], removed=seqs)
            finally:
                self._db.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as exc:
            log.error("outbox %s: cannot remove sent readings: %s", self.path, exc)

    def _write(
        self,
        groups: list[list[Row]],
        batch: list[_Request] | None = None,
        removed: list[int] | None = None,
    ) -> None:
        """One transaction: delete the acknowledged ``removed`` rows, insert ``groups``."""
        assert self._db is not None
        self._db.execute("BEGIN IMMEDIATE")
        try:
            if removed:
                self._db.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in removed])
            for index, rows in enumerate(groups):
                before = self._db.total_changes
                self._db.executemany(
                    "INSERT OR IGNORE INTO outbox (reading_id, topic, payload) VALUES (?, ?, ?)",
                    rows,
                )
                if batch is not None:
                    batch[index].inserted = self._db.total_changes - before
            self._db.execute("COMMIT")
            self.commits += 1
        except sqlite3.Error:
            if self._db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
            raise

    # opening, failing and recovering (all with self._lock held) ------------------------
    def _recover(self) -> bool:
        """True when the outbox works (again), with the held readings written first."""
        if self._db is not None and not self.error:
            return True
        if time.monotonic() - self._last_attempt < RETRY_S:
            return False
        self._last_attempt = time.monotonic()
        if self._db is None and not self._try_open():
            return False
        if self._held:
            try:
                self._write([self._held])
            except sqlite3.Error as exc:
                self._failed("cannot store held readings", exc)
                return False
            log.warning("outbox %s: wrote %d held reading(s)", self.path, len(self._held))
            self._held = []
        if self.error:
            log.warning("outbox %s works again (was: %s)", self.path, self.error)
        self.error = ""
        return True

    def _try_open(self) -> bool:
        self._last_attempt = time.monotonic()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self._set_error(f"cannot create directory {self.path.parent}: {exc.strerror or exc}")
            return False
        salvaged: list[Row] = []
        self._generation += 1
        try:
            self._db = self._connect()
        except sqlite3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorcode", None) not in _CORRUPT:
                self._set_error(f"cannot open: {exc}")
                return False
            salvaged = self._quarantine(exc)
            try:
                self._db = self._connect()
            except sqlite3.Error as again:
                self._set_error(f"cannot create a fresh outbox: {again}")
                return False
        if salvaged:
            try:
                self._write([salvaged])
            except sqlite3.Error as exc:
                self._held[:0] = salvaged  # they go first once the disk works
                self._failed("cannot store salvaged readings", exc)
                return False
        return True

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS outbox ("
                " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                " reading_id TEXT NOT NULL UNIQUE,"
                " topic TEXT NOT NULL,"
                " payload BLOB NOT NULL)"
            )
            check = db.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                error = sqlite3.DatabaseError(f"database disk image is malformed ({check})")
                error.sqlite_errorcode = 11  # type: ignore[attr-defined]
                raise error
            # Sequence numbers never go back, even after a fresh file replaced a broken one,
            # so the publisher's position stays meaningful.
            current = db.execute("SELECT max(seq) FROM outbox").fetchone()[0] or 0
            if self._max_seq > current:
                db.execute("INSERT INTO outbox (seq, reading_id, topic, payload) "
                           "VALUES (?, '', '', x'')", (self._max_seq,))
                db.execute("DELETE FROM outbox WHERE seq = ?", (self._max_seq,))
        except sqlite3.Error:
            db.close()
            raise
        return db

    def _read_connection(self) -> sqlite3.Connection | None:
        """The publisher's own connection (``_read_lock`` held), reopened for a new file."""
        generation = self._generation
        if self._db is None:
            return None
        if self._reader is not None and self._reader[0] != generation:
            self._close_reader()
        if self._reader is None:
            try:
                reader = sqlite3.connect(self.path, check_same_thread=False,
                                         isolation_level=None)
            except sqlite3.Error as exc:
                log.error("outbox %s: cannot open for reading: %s", self.path, exc)
                return None
            self._reader = (generation, reader)
        return self._reader[1]

    def _close_reader(self) -> None:
        if self._reader is not None:
            with contextlib.suppress(sqlite3.Error):
                self._reader[1].close()
            self._reader = None

    def _quarantine(self, exc: sqlite3.Error) -> list[Row]:
        """Move a broken file aside (keeping it for inspection); return the rows it still had."""
        salvaged: list[Row] = []
        with contextlib.suppress(sqlite3.Error):
            old = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
            try:
                for row in old.execute(
                    "SELECT reading_id, topic, payload FROM outbox ORDER BY seq"
                ):
                    salvaged.append((row[0], row[1], bytes(row[2])))
            finally:
                old.close()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        aside = self.path.with_name(f"{self.path.name}.broken-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{self.path}{suffix}")
            if source.exists():
                source.replace(Path(f"{aside}{suffix}"))
        self.notice = (
            f"outbox {self.path} was broken ({exc}); moved aside to {aside.name}, "
            f"{len(salvaged)} reading(s) saved from it"
        )
        log.error("%s", self.notice)
        return salvaged

    def _failed(self, what: str, exc: sqlite3.Error) -> None:
        if getattr(exc, "sqlite_errorcode", None) in _CORRUPT and self._db is not None:
            # Broken while running: reopen (and so move the file aside) on the next attempt.
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None
        self._set_error(f"{what}: {exc}")

    def _set_error(self, error: str) -> None:
        if error != self.error:
            log.error("outbox %s: %s", self.path, error)
        self.error = error
