"""Benchmark 4, the briefing: ``python bench/briefing.py [--rebuild]``.

A physician's briefing page rendered (the real Flask app, in process) with 1 million readings
in PostgreSQL (10,000 patients x 20 visits x 5 readings), p50/p95 over repeated requests, and
the number of SQL queries one render makes; baseline, same run: the same patient's page on a
database that holds only that patient. The big database (``roomvitals_bench_briefing_10000``)
is generated once with COPY and reused by later runs (``--rebuild`` makes it again; ``--quick``
uses it when it is there, else 100,000 readings). Goal:
p95 <= 2x the empty-database render, and no query per reading.
Without PostgreSQL, SQLite with 100,000 readings stands in (said in the result's note).
"""

from __future__ import annotations

import argparse
import io
import re
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Result, percentile, postgres_available, postgres_database, report, say
from bench.stack import PASSWORD, PHYSICIAN, SITE

VISITS = 20
PER_VISIT = 5
KINDS = [  # kind, unit, value, canonical unit, mdc, loinc
    ("weight", "kg", "72.4", "kg", 188736, "29463-7"),
    ("systolic", "mm[Hg]", "124", "mm[Hg]", 150021, "8480-6"),
    ("diastolic", "mm[Hg]", "78", "mm[Hg]", 150022, "8462-4"),
    ("pulse_rate", "/min", "72", "/min", 149546, "8867-4"),
    ("spo2", "%", "97", "%", 150456, "59408-5"),
]


def _copy_rows(patients: int, first_encounter: int) -> tuple[str, str, str, str]:
    """COPY text for patients, encounters, readings and observations; patient 1 is ours."""
    start = datetime(2020, 1, 1, tzinfo=UTC)
    p_rows, e_rows, r_rows, o_rows = io.StringIO(), io.StringIO(), io.StringIO(), io.StringIO()
    encounter = first_encounter
    for patient in range(1, patients + 1):
        p_rows.write(f"{patient}\tBENCH-{patient}\tBench\tP{patient}\t1970-01-01\tF\t[]\t"
                     f"{start.isoformat()}\n")
        for visit in range(VISITS):
            at = start + timedelta(days=visit * 30, minutes=patient % 600)
            end = at + timedelta(minutes=30)
            e_rows.write(f"{encounter}\t{SITE}\t{patient}\t1\tdone\t{end.isoformat()}\t\t"
                         f"{at.isoformat()}\t{at.isoformat()}\t{end.isoformat()}\t1\n")
            for n in range(PER_VISIT):
                kind, unit, value, canon, mdc, loinc = KINDS[n]
                rid = uuid.uuid4()
                r_rows.write(f"{rid}\t1\t{at.isoformat()}\tgateway\t{at.isoformat()}\t"
                             f"{at.isoformat()}\t[]\t\t{encounter}\taccepted\tdevice\t"
                             f"{at.isoformat()}\t{at.isoformat()}\n")
                o_rows.write(f"{rid}\t0\t{kind}\t{value}\t{unit}\t{value}\t{canon}\t{mdc}\t"
                             f"{loinc}\n")
            encounter += 1
    return p_rows.getvalue(), e_rows.getvalue(), r_rows.getvalue(), o_rows.getvalue()


def generate(url: str, patients: int) -> int:
    """Fill the database (PostgreSQL COPY or SQLite executemany); returns the open encounter
    of patient 1 (today's visit, with 5 pending readings)."""
    from sqlalchemy import select, text
    from sqlalchemy.orm import Session

    from dashboard.auth import create_user
    from dashboard.db import make_engine
    from dashboard.models import Encounter, Room

    engine = make_engine(url)
    tables = {
        "patients": "id, mrn, family_name, given_name, date_of_birth, sex, allergies, "
                    "created_at",
        "encounters": "id, site, patient_id, room_id, status, status_changed_at, "
                      "reason_for_visit, identity_confirmed_at, started_at, ended_at, revision",
        "readings": "id, room_id, measured_at, measured_at_source, received_at, filed_at, "
                    "flags, raw, encounter_id, state, source, accepted_at, state_changed_at",
        "reading_observations": "reading_id, position, kind, value, unit, canonical_value, "
                                "canonical_unit, mdc, loinc",
    }
    with Session(engine) as db, db.begin():
        create_user(db, PHYSICIAN, "physician", PASSWORD, "Dr Bench")
        db.add(Room(id=1, site=SITE, name="room-0"))
    chunk = 500
    for first in range(1, patients + 1, chunk):
        count = min(chunk, patients - first + 1)
        texts = _copy_rows(count, (first - 1) * VISITS + 1)
        # Patient numbers of this chunk: shift them (the generator counts from 1).
        texts = tuple(_shift(t, name, first - 1) for t, name in zip(texts, tables, strict=True))
        _load(engine, tables, texts)
        if first % 2000 == 1:
            say(f"briefing: generated {first - 1 + count} of {patients} patients")
    now = datetime.now(UTC)
    with Session(engine) as db, db.begin():
        if engine.dialect.name == "postgresql":
            for table in ("patients", "encounters", "rooms"):
                db.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                f"(SELECT max(id) FROM {table}))"))
        encounter = Encounter(site=SITE, patient_id=1, room_id=1, status="rooming",
                              status_changed_at=now, identity_confirmed_at=now, started_at=now,
                              revision=0)
        db.add(encounter)
        db.flush()
        eid = encounter.id
    from bench.stack import bp_payload
    from dashboard.filing import Filer

    filer = Filer(engine)
    for n in range(PER_VISIT):
        filer.file_message(*bp_payload("room-0", "bp-1", 120 + n))
    with Session(engine) as db:
        assert db.scalar(select(Encounter.revision).where(Encounter.id == eid)) == PER_VISIT
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
    engine.dispose()
    return eid


def _shift(text_rows: str, table: str, offset: int) -> str:
    if offset == 0 or table in ("readings", "reading_observations"):
        return text_rows
    out = []
    for line in text_rows.splitlines():
        cols = line.split("\t")
        if table == "patients":
            n = int(cols[0]) + offset
            cols[0], cols[1], cols[3] = str(n), f"BENCH-{n}", f"P{n}"
        else:  # encounters: id already global, patient id shifted
            cols[2] = str(int(cols[2]) + offset)
        out.append("\t".join(cols))
    return "\n".join(out) + "\n"


def _load(engine, tables: dict[str, str], texts: tuple[str, ...]) -> None:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for (table, columns), data in zip(tables.items(), texts, strict=True):
            if engine.dialect.name == "postgresql":
                with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    copy.write(data)
            else:
                names = columns.split(", ")
                rows = [[None if v == "" else v for v in line.split("\t")]
                        for line in data.splitlines()]
                marks = ", ".join("?" for _ in names)
                cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)
        raw.commit()
    finally:
        raw.close()


def prepared(url: str, patients: int, rebuild: bool) -> int:
    """The open encounter of patient 1 in a database with ``patients`` patients."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from dashboard.db import make_engine, upgrade
    from dashboard.models import Encounter, Reading

    if not rebuild:
        upgrade(url)  # a new migration (e.g. an index) applies to the kept database too
        engine = make_engine(url)
        try:
            with Session(engine) as db:
                count = db.scalar(select(func.count()).select_from(Reading))
                eid = db.scalar(select(Encounter.id).where(Encounter.patient_id == 1,
                                                           Encounter.ended_at.is_(None)))
        except Exception:  # not there or not migrated: make it
            count, eid = None, None
        finally:
            engine.dispose()
        if count == patients * VISITS * PER_VISIT + PER_VISIT and eid is not None:
            say(f"briefing: reusing the database with {count} readings")
            return eid
    return None


def _url(name: str, pg: bool, *, fresh: bool) -> str:
    if pg:
        return postgres_database(name, fresh=fresh)
    path = Path(tempfile.gettempdir()) / f"{name}.sqlite3"
    if fresh:
        path.unlink(missing_ok=True)
    return f"sqlite:///{path}"


def render_times(url: str, encounter_id: int, requests: int) -> tuple[list[float], int]:
    """Seconds per GET /briefing/<id>, and the SQL statements one render executes."""
    from sqlalchemy import event

    from dashboard import create_app

    app = create_app({"DATABASE_URL": url, "SITE": SITE, "TESTING": True})
    engine = app.extensions["roomvitals.engine"]
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"csrf_token": token, "username": PHYSICIAN,
                                           "password": PASSWORD})
    assert response.status_code == 302, "the bench physician cannot log in"
    path = f"/briefing/{encounter_id}"
    for _ in range(3):  # warm caches (templates, connections, the server's buffers)
        assert client.get(path).status_code == 200
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    client.get(path)
    event.remove(engine, "before_cursor_execute", listener)
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200
    engine.dispose()
    return times, len(statements)


def run(quick: bool = False, rebuild: bool = False, patients: int | None = None) -> list[Result]:
    from dashboard.db import upgrade

    requests = 20 if quick else 60
    pg = postgres_available()
    where = "PostgreSQL" if pg else "SQLite"
    patients = patients or (10_000 if pg else 1_000)
    big_url = _url(f"roomvitals_bench_briefing_{patients}", pg, fresh=False)
    empty_url = _url("roomvitals_bench_briefing_empty", pg, fresh=True)
    eid = prepared(big_url, patients, rebuild)
    if eid is None and quick:
        # --quick stays under two minutes: a smaller database unless the big one is there.
        patients = 1_000
        big_url = _url(f"roomvitals_bench_briefing_{patients}", pg, fresh=False)
        eid = prepared(big_url, patients, rebuild)
    if eid is None:
        say(f"briefing: generating {patients * VISITS * PER_VISIT} readings ({where})")
        big_url = _url(f"roomvitals_bench_briefing_{patients}", pg, fresh=True)
        upgrade(big_url)
        started = time.monotonic()
        eid = generate(big_url, patients)
        say(f"briefing: generated in {time.monotonic() - started:.0f} s")
    upgrade(empty_url)
    empty_eid = generate(empty_url, 1)
    say(f"briefing: {requests} renders on the empty and the big database")
    empty, empty_queries = render_times(empty_url, empty_eid, requests)
    big, big_queries = render_times(big_url, eid, requests)
    readings = patients * VISITS * PER_VISIT
    p95, base95 = percentile(big, 95) * 1000, percentile(empty, 95) * 1000
    p50, base50 = percentile(big, 50) * 1000, percentile(empty, 50) * 1000
    note = f"{readings} readings in {where} vs one patient's"
    return [
        Result("briefing_render_p50", p50, base50, "ms", "-", None, note),
        Result("briefing_render_p95", p95, base95, "ms", "ratio <= 2", p95 / base95 <= 2, note),
        Result("briefing_queries", big_queries, empty_queries, "queries", "same count (no "
               "query per reading)", big_queries == empty_queries,
               f"SQL statements per render; the patient has {VISITS * PER_VISIT + PER_VISIT} "
               "readings"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rebuild", action="store_true", help="generate the big database again")
    parser.add_argument("--patients", type=int, default=None)
    args = parser.parse_args()
    report(run(args.quick, args.rebuild, args.patients))
    return 0


if __name__ == "__main__":
    sys.exit(main())
