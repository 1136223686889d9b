"""A virtual serial port: a pseudo-terminal behind a stable path.

Real USB-serial devices are configured by a stable name (``/dev/serial/by-id/...``) that
comes back when the device is replugged, while the kernel's ``/dev/ttyUSBn`` may change. A
``PtyPort`` gives a simulator the same: ``path`` is a symlink to the current pty's slave, the
gateway opens it with real pyserial, ``unplug()`` closes the pty (the gateway's reads fail
as with a pulled cable) and removes the link, ``plug()`` makes a new pty behind the same path.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import tty
from pathlib import Path


class PtyPort:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._master: int | None = None
        self._slave: int | None = None
        self._lock = threading.Lock()

    @property
    def plugged(self) -> bool:
        return self._master is not None

    @property
    def tty_name(self) -> str | None:
        return os.ttyname(self._slave) if self._slave is not None else None

    def plug(self) -> None:
        with self._lock:
            if self._master is not None:
                return
            master, slave = os.openpty()
            # Raw mode: no echo, no CR/LF translation, every byte passes as on a real UART.
            tty.setraw(slave)
            tty.setraw(master)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(self.path.name + ".new")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            os.symlink(os.ttyname(slave), tmp)
            os.replace(tmp, self.path)
            self._master, self._slave = master, slave

    def unplug(self) -> None:
        with self._lock:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            for fd in (self._master, self._slave):
                if fd is not None:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            self._master = self._slave = None

    def write(self, data: bytes) -> bool:
        """Send bytes to the host; False when unplugged (the bytes are lost, as on a wire)."""
        master = self._master
        if master is None:
            return False
        view = memoryview(data)
        try:
            while view:
                written = os.write(master, view)
                view = view[written:]
        except OSError:
            return False
        return True

    def read(self, timeout: float) -> bytes:
        """Bytes the host sent, or b"" after ``timeout`` seconds or when unplugged."""
        master = self._master
        if master is None:
            return b""
        try:
            ready, _, _ = select.select([master], [], [], timeout)
            return os.read(master, 4096) if ready else b""
        except (OSError, ValueError):
            return b""

    def close(self) -> None:
        self.unplug()
