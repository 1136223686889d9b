"""Capture files: a device's raw traffic with timestamps, and playing it back.

Format (JSON lines, UTF-8; docs/writing-a-driver.md, "Captures"): the first line is the
header, every other line one chunk of traffic as it was read::

    {"format": "roomvitals-capture", "version": 1, "transport": "serial",
     "protocol": "healthometer-esc", "line": {"baudrate": 9600, "bytesize": 8, "parity": "N",
     "stopbits": 1}, "source": "...", "recorded_at": "2025-01-01T09:00:00",
     "patient_ids": "stripped: ESC I (10-character patient ID) removed",
     "readings": ["Weight(weight=72.4, unit='kg', ...)"]}
    {"t": 0.512, "dir": "tx", "hex": "1b521b45"}
    {"t": 0.530, "dir": "rx", "hex": "1b521b57303037322e341b4e6d1b45"}

``t`` is seconds since the recording began (monotonic clock), ``dir`` ``rx`` for bytes from
the device and ``tx`` for bytes the host sent it. A BLE capture has ``"transport": "ble"``
and records ``{"t": ..., "char": "00002a35-0000-1000-8000-00805f9b34fb", "op": "indicate",
"hex": "..."}``, its header a ``gatt`` object (simulators/ble/capture.py; replayed by
simulators/ble/replay.py). Captures hold no patient identifiers: the recorder strips the
fields the protocol marks as patient ID and says so in ``patient_ids``.

``SerialReplay`` plays the device side back on a pseudo-terminal behind a stable path: it
waits until a host opens the port (a host that has not opened it would lose the bytes,
pyserial flushes its input on open), then writes each ``rx`` chunk at its original offset
divided by ``speed``. Host bytes are not waited for: the device's answers come at the times
they came, which is what a request/response protocol's parser sees either way.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import threading
import time
import tty
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

FORMAT = "roomvitals-capture"
VERSION = 1


class CaptureError(ValueError):
    """A capture file that cannot be read; the text says which line and why."""


@dataclass(frozen=True)
class CaptureHeader:
    transport: str
    protocol: str
    source: str
    patient_ids: str
    line: dict[str, Any] = field(default_factory=dict)
    recorded_at: str = ""
    readings: list[str] = field(default_factory=list)
    """What the live parser made of the device's bytes while recording (one line each, as
    ``roomvitals.testing.describe`` writes them): a replay must give exactly these."""
    format: str = FORMAT
    version: int = VERSION
    gatt: dict[str, Any] = field(default_factory=dict)
    """BLE only: the recorded device's GATT database, advertisement and Device Information
    (``simulators.ble.capture``); left out of serial headers."""


def header_json(header: CaptureHeader) -> str:
    data = asdict(header)
    if not data["gatt"]:
        del data["gatt"]  # serial headers stay as they were
    return json.dumps(data)


@dataclass(frozen=True)
class Record:
    t: float
    data: bytes
    direction: str = "rx"
    """``rx`` from the device, ``tx`` from the host (serial)."""
    char: str = ""
    """BLE: the characteristic's 128-bit UUID."""
    op: str = ""
    """BLE: ``notify`` or ``indicate`` (sent by the device), ``read`` or ``write`` (by the
    host); simulators/ble/capture.py."""

    def to_json(self) -> str:
        if self.char:
            return json.dumps({"t": round(self.t, 4), "char": self.char, "op": self.op,
                               "hex": self.data.hex()})
        return json.dumps({"t": round(self.t, 4), "dir": self.direction, "hex": self.data.hex()})


class CaptureWriter:
    """Appends records to a capture file as they come (a crash keeps what was recorded)."""

    def __init__(self, path: str | Path, header: CaptureHeader) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO = self.path.open("w", encoding="utf-8")
        self._file.write(header_json(header) + "\n")
        self._file.flush()
        self._lock = threading.Lock()
        self.records = 0

    def write(self, record: Record) -> None:
        with self._lock:
            self._file.write(record.to_json() + "\n")
            self._file.flush()
            self.records += 1

    def close(self, header: CaptureHeader | None = None) -> None:
        """Close; with ``header``, rewrite the first line (e.g. with the readings seen)."""
        with self._lock:
            self._file.close()
        if header is not None:
            lines = self.path.read_text("utf-8").splitlines(keepends=True)
            lines[0] = header_json(header) + "\n"
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_text("".join(lines), "utf-8")
            tmp.replace(self.path)


def read_capture(path: str | Path) -> tuple[CaptureHeader, list[Record]]:
    lines = Path(path).read_text("utf-8").splitlines()
    if not lines:
        raise CaptureError(f"{path}: empty file")
    try:
        head = json.loads(lines[0])
        if head.get("format") != FORMAT or head.get("version") != VERSION:
            raise CaptureError(f"{path}: line 1 is not a {FORMAT} version {VERSION} header")
        header = CaptureHeader(**head)
    except (json.JSONDecodeError, TypeError) as exc:
        raise CaptureError(f"{path}: line 1: bad header: {exc}") from None
    records = []
    for number, text in enumerate(lines[1:], start=2):
        if not text.strip():
            continue
        try:
            item = json.loads(text)
            records.append(Record(float(item["t"]), bytes.fromhex(item["hex"]),
                                  item.get("dir", "rx"), item.get("char", ""), item.get("op", "")))
        except (json.JSONDecodeError, KeyError, ValueError, TypeError) as exc:
            raise CaptureError(f"{path}: line {number}: {exc}") from None
    return header, records


class SerialReplay:
    """The device side of a serial capture on a pty behind ``path`` (a stable symlink)."""

    def __init__(self, path: str | Path, records: list[Record], *, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be above 0")
        self.path = Path(path)
        self.records = [r for r in records if r.direction == "rx"]
        self.speed = speed
        self.sent = 0
        """rx chunks written so far."""
        self.done = threading.Event()
        self._stop = threading.Event()
        self._master, slave = os.openpty()
        tty.setraw(slave)
        tty.setraw(self._master)
        # Never block on the master: select() can report it readable (a hang-up, a host
        # closing) when a read would then wait, which stalled a replay for good.
        os.set_blocking(self._master, False)
        self.tty_name = os.ttyname(slave)
        # Only the host holds the slave open: reading the master fails (EIO) while no host
        # has the port open, which is how the replay knows when to begin.
        os.close(slave)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".new")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.symlink(self.tty_name, tmp)
        os.replace(tmp, self.path)
        self._thread = threading.Thread(target=self._run, name="capture-replay", daemon=True)

    def start(self) -> SerialReplay:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        with contextlib.suppress(OSError):
            os.close(self._master)

    def host_connected(self) -> bool:
        """True while a host has the port open (bytes it sent are read and dropped)."""
        try:
            ready, _, _ = select.select([self._master], [], [], 0)
            if ready:
                os.read(self._master, 4096)
            return True
        except BlockingIOError:
            return True  # a host is there and sent nothing
        except OSError:
            return False

    def _run(self) -> None:
        while not self.host_connected():
            if self._stop.wait(0.05):
                return
        time.sleep(0.2)  # the host configures the line after opening it
        begun = time.monotonic()
        first = self.records[0].t if self.records else 0.0
        for record in self.records:
            due = begun + (record.t - first) / self.speed
            while (wait := due - time.monotonic()) > 0:
                self.host_connected()  # keep draining the host's requests
                if self._stop.wait(min(wait, 0.05)):
                    return
            if not self._write(record.data):
                return
            self.sent += 1
        self.done.set()

    def _write(self, data: bytes) -> bool:
        """All of ``data`` to the host, waiting while the pty's buffer is full."""
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self._master, view):]
            except BlockingIOError:
                if self._stop.wait(0.01):
                    return False
            except OSError:
                return False
        return True
