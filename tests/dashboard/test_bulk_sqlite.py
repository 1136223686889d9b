"""SQLite inserts made ready before the write lock, and the writers' turn for that lock
(dashboard.bulk), on a real file."""

import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from dashboard.bulk import WriterTurn, begin_immediate, driver_insert, present
from dashboard.db import make_engine, upgrade
from dashboard.filing import Filer
from dashboard.models import Device, Reading, Room
from tests.test_message import make_reading
from vitals import topics
from vitals.message import encode_reading


@pytest.fixture
def sqlite_engine(tmp_path):
    url = f"sqlite:///{tmp_path / 'batch.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def _device(engine) -> tuple[int, int]:
    with Session(engine) as session, session.begin():
        room = Room(site="main", name="exam-1")
        session.add(room)
        session.flush()
        device = Device(site="main", device_id="bp-1", kind="bp_monitor", transport="serial",
                        room_id=room.id)
        session.add(device)
        session.flush()
        return room.id, device.id


def _row(reading_id: str, room_id: int, device_pk: int) -> dict:
    # An offset other than UTC, a JSON list and a float: each goes through a bind processor.
    measured = datetime(2026, 11, 27, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=-5)))
    return {
        "id": reading_id,
        "device_pk": device_pk,
        "room_id": room_id,
        "measured_at": measured,
        "measured_at_source": "device",
        "received_at": measured + timedelta(seconds=1),
        "filed_at": datetime(2026, 11, 27, 14, 30, 17, tzinfo=UTC),
        "flags": ["irregular_pulse", "device_clock_not_set"],
        "raw": "1b52",
        "clock_offset_s": -1.5,
        "encounter_id": None,
        "state": "unassigned",
        "state_changed_at": datetime(2026, 11, 27, 14, 30, 17, tzinfo=UTC),
        # "source" left out: its Python default ("device") must be stored by both paths.
    }


def test_driver_parameters_store_exactly_what_a_sqlalchemy_insert_stores(sqlite_engine):
    room_id, device_pk = _device(sqlite_engine)
    table = Reading.__table__
    with Session(sqlite_engine) as session, session.begin():
        session.execute(table.insert(), [_row("a" * 36, room_id, device_pk)])
        driver_insert(table, [_row("b" * 36, room_id, device_pk)], "id",
                      sqlite_engine.dialect).run(session)
    path = sqlite_engine.url.database
    with sqlite3.connect(path) as raw:
        raw.row_factory = sqlite3.Row
        by_core, by_driver = (
            dict(row) for row in raw.execute("SELECT * FROM readings ORDER BY id")
        )
    assert by_driver.pop("id") == "b" * 36 and by_core.pop("id") == "a" * 36
    assert by_driver == by_core
    assert by_core["source"] == "device"
    with Session(sqlite_engine) as session:
        read_back = session.get(Reading, "b" * 36)
        assert read_back.flags == ["irregular_pulse", "device_clock_not_set"]
        assert read_back.clock_offset_s == -1.5


def test_run_leaves_out_the_rows_whose_key_it_is_told_to_skip(sqlite_engine):
    room_id, device_pk = _device(sqlite_engine)
    ids = [f"{n:036d}" for n in range(5)]
    insert = driver_insert(Reading.__table__, [_row(i, room_id, device_pk) for i in ids], "id",
                           sqlite_engine.dialect)
    with Session(sqlite_engine) as session, session.begin():
        insert.run(session, skip={ids[1], ids[3]})
    with Session(sqlite_engine) as session:
        assert present(session, Reading.__table__, "id", ids) == {ids[0], ids[2], ids[4]}


def test_present_looks_up_more_ids_than_one_statement_may_carry(sqlite_engine):
    room_id, device_pk = _device(sqlite_engine)
    stored = [f"{n:036d}" for n in range(0, 2500, 2)]
    with Session(sqlite_engine) as session, session.begin():
        driver_insert(Reading.__table__, [_row(i, room_id, device_pk) for i in stored], "id",
                      sqlite_engine.dialect).run(session)
    asked = [f"{n:036d}" for n in range(2500)]  # 2,500 ids: several IN (...) chunks
    with Session(sqlite_engine) as session:
        assert present(session, Reading.__table__, "id", asked) == set(stored)


def test_begin_immediate_holds_the_write_lock_before_the_first_write(sqlite_engine):
    # Exactly-once rests on this: the ids found absent cannot be inserted by another writer
    # before this transaction's own inserts.
    _device(sqlite_engine)
    other = sqlite3.connect(sqlite_engine.url.database, timeout=0)
    try:
        with Session(sqlite_engine) as session, session.begin():
            begin_immediate(session)
            present(session, Reading.__table__, "id", ["x"])
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("UPDATE rooms SET name = name")
        other.execute("UPDATE rooms SET name = name")  # free again after the commit
        other.commit()
    finally:
        other.close()


def _turn_free_for_another_process(path: str) -> bool:
    # A process of its own, as the second ingest worker is: flock excludes across processes.
    probe = (
        "import fcntl, sys\n"
        "f = open(sys.argv[1], 'a')\n"
        "try:\n"
        "    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        "except BlockingIOError:\n"
        "    sys.exit(3)\n"
    )
    code = subprocess.run([sys.executable, "-c", probe, path], timeout=30).returncode
    assert code in (0, 3)
    return code == 0


def test_the_writer_turn_is_held_from_enter_to_exit_against_other_processes(sqlite_engine):
    turn = WriterTurn(sqlite_engine)
    assert turn.path == f"{sqlite_engine.url.database}-writer.lock"
    with turn:
        assert not _turn_free_for_another_process(turn.path)
    assert _turn_free_for_another_process(turn.path)
    with turn:  # taken again on the same handle
        assert not _turn_free_for_another_process(turn.path)
    turn.close()


def test_a_filer_writes_only_in_its_turn_and_lets_go_after_the_commit(sqlite_engine):
    filer = Filer(sqlite_engine)
    message = (topics.reading_topic("main", "exam-1", "scale-1"), encode_reading(make_reading()))
    other_worker = WriterTurn(sqlite_engine)
    outcomes = []
    with other_worker:
        filing = threading.Thread(target=lambda: outcomes.append(filer.file_message(*message)))
        filing.start()
        filing.join(1.0)  # a one-reading batch takes milliseconds when not kept waiting
        assert filing.is_alive() and not outcomes
        with Session(sqlite_engine) as session:
            assert session.scalar(select(func.count()).select_from(Reading)) == 0
    filing.join(30)
    assert [o.status for o in outcomes] == ["filed"]
    assert _turn_free_for_another_process(other_worker.path)
    other_worker.close()


def test_there_is_no_writer_turn_without_a_database_file():
    assert WriterTurn(create_engine("sqlite://")).path is None
    # Not connected: only the dialect is looked at.
    assert WriterTurn(create_engine("postgresql+psycopg://nobody@127.0.0.1/none")).path is None
    with WriterTurn(create_engine("sqlite://")):
        pass
