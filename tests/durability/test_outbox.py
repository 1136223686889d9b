"""The outbox under load and on a bad disk: group commit, a corrupt file, a directory that
cannot be written, a full disk. The gateway keeps running and says what is wrong."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import threading

import pytest

from device_gateway.outbox import Outbox, OutboxUnavailable
from tests.durability.harness import feed, filed_weights, weight
from tests.helpers import wait_until


def test_concurrent_puts_share_commits_and_each_is_durable(tmp_path):
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    results: list[bool] = []

    def writer(k: int) -> None:
        for i in range(200):
            results.append(outbox.put(f"{k}-{i}", "t", b"x" * 500))

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True] * 1600
    assert outbox.depth() == 1600
    assert outbox.commits < 1600  # puts that arrived together were committed together
    assert outbox.put("0-0", "t", b"again") is False  # a reading id is stored once
    outbox.close()
    # Every put had returned only after its commit: a fresh connection sees all of them.
    reopened = Outbox(tmp_path / "outbox.sqlite3")
    assert reopened.depth() == 1600
    assert [p.seq for p in reopened.after(0, 3)] == [1, 2, 3]  # oldest first
    reopened.close()


def test_submitted_rows_are_reported_once_committed_and_only_then_published(tmp_path):
    path = tmp_path / "outbox.sqlite3"
    outbox = Outbox(path)
    stored: list[tuple[object, int, int]] = []

    def on_stored(index: int):
        def callback(error, inserted) -> None:
            # By the time it is called, another connection sees the row: it is committed.
            with sqlite3.connect(path) as check:
                seen = check.execute("SELECT count(*) FROM outbox WHERE reading_id = ?",
                                     (f"r{index}",)).fetchone()[0]
            stored.append((error, inserted, seen))
        return callback

    for index in range(300):
        outbox.submit(f"r{index}", "t", b"x" * 100, on_stored(index))
    outbox.submit("r0", "t", b"again", on_stored(0))  # an id already waiting
    outbox.flush()
    assert stored[:300] == [(None, 1, 1)] * 300
    assert stored[300] == (None, 0, 1)
    assert outbox.commits < 300  # submitted together, committed together
    assert [p.payload for p in outbox.after(0, 1)] == [b"x" * 100]
    outbox.remove([p.seq for p in outbox.after(0, 1000)])
    outbox.flush()  # removals go through the same writer
    assert outbox.depth() == 0
    outbox.close()


def test_a_corrupt_outbox_is_moved_aside_and_the_gateway_keeps_working(
        secure_broker, pki, gateways, ingests, engine, tmp_path):
    state = tmp_path / "gateway-0"  # where the gateways fixture puts the first gateway
    state.mkdir()
    (state / "outbox.sqlite3").write_bytes(b"this is not an SQLite database\n" * 200)
    ingests(secure_broker, pki, "ingest-corrupt")
    gateway = gateways(secure_broker, pki)
    problem = gateway.status()["outbox_error"]
    assert "was broken" in problem and "moved aside to outbox.sqlite3.broken-" in problem
    assert len(list(state.glob("outbox.sqlite3.broken-*"))) == 1
    feed(gateway, gateway.config.devices[0], range(5))
    wait_until(lambda: len(filed_weights(engine)) == 5)
    assert filed_weights(engine) == [weight(i) for i in range(5)]


def test_an_unwritable_state_directory_holds_readings_until_it_works(
        secure_broker, pki, gateways, ingests, engine, tmp_path):
    # A plain file where the state directory should be: the outbox cannot be created
    # (the same for root and other users, unlike a read-only directory).
    blocker = tmp_path / "gateway-0"
    blocker.write_text("not a directory")
    ingests(secure_broker, pki, "ingest-unwritable")
    state = blocker / "state"
    from device_gateway.config import parse_config
    from device_gateway.gateway import Gateway
    from tests.durability.harness import gateway_settings

    settings = gateway_settings(tmp_path / "elsewhere", secure_broker, pki)
    settings["state_dir"] = str(state)
    gateway = Gateway(parse_config(settings))  # does not raise: no crash loop
    gateway.start()
    try:
        assert "cannot create directory" in gateway.status()["outbox_error"]
        feed(gateway, gateway.config.devices[0], range(3))  # held in memory, said so
        assert gateway.counters.outbox_errors == 3
        assert gateway.status()["outbox_depth"] == 3
        blocker.unlink()  # the operator fixes the disk
        wait_until(lambda: gateway.status()["outbox_error"] == "", timeout=20)
        wait_until(lambda: len(filed_weights(engine)) == 3)
        assert filed_weights(engine) == [weight(i) for i in range(3)]
    finally:
        gateway.stop()


def test_a_full_disk_is_an_error_and_nothing_is_lost(tmp_path):
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a small tmpfs as a full disk")
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode()[:200]}")
    try:
        outbox = Outbox(disk / "outbox.sqlite3")
        assert outbox.put("first", "t", b"x")
        filler = disk / "filler"
        try:
            with open(filler, "wb") as handle:  # fill the disk to the last byte
                while True:
                    handle.write(b"\0" * 65536)
                    handle.flush()
        except OSError:
            pass
        errors: list[str] = []
        for i in range(200):  # the WAL has some room left; it runs out soon
            try:
                outbox.put(f"r{i}", "t", b"y" * 4000)
            except OutboxUnavailable as exc:
                errors.append(str(exc))
        assert errors and "full" in errors[0] and "held in memory" in errors[0]
        assert "full" in outbox.error
        assert outbox.held == len(errors) and outbox.depth() == 201
        filler.unlink()
        assert outbox.recover()
        assert outbox.error == "" and outbox.held == 0
        ids = [p.payload for p in outbox.after(0, 1000)]
        assert len(ids) == outbox.depth() == 201  # every reading, none lost
        outbox.close()
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
