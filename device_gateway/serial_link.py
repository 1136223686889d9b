"""One serial port: open it with pyserial, poll if the protocol asks, feed the parser.

A port that cannot be opened or disappears (USB unplug) is retried with backoff until it
returns; each change is reported through ``on_status`` so the device-status topic says so.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable

import serial

from device_gateway.config import DeviceConfig
from device_gateway.serial_profiles import profile
from drivers.measurements import Measurement
from drivers.serial import parser as make_parser

log = logging.getLogger(__name__)

RETRY_MIN_S = 0.5
RETRY_MAX_S = 5.0


class SerialLink:
    def __init__(
        self,
        device: DeviceConfig,
        on_measurement: Callable[[DeviceConfig, Measurement], None],
        on_status: Callable[[DeviceConfig, str, str], None],
        on_live: Callable[[DeviceConfig, Measurement], None] | None = None,
    ) -> None:
        self.device = device
        self.profile = profile(device.protocol)
        self.parser = make_parser(device.protocol)
        self.frames_dropped = 0
        self._on_measurement = on_measurement
        self._on_status = on_status
        self._on_live = on_live
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"serial-{device.id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _open(self) -> serial.Serial:
        return serial.Serial(
            self.device.port,
            baudrate=self.device.baudrate or self.profile.baudrate,
            bytesize=self.profile.bytesize,
            parity=self.profile.parity,
            stopbits=self.profile.stopbits,
            timeout=0.1,
            exclusive=True,
        )

    def _run(self) -> None:
        delay = RETRY_MIN_S
        last_error = ""
        while not self._stop.is_set():
            try:
                port = self._open()
            except (serial.SerialException, OSError, ValueError) as exc:
                error = f"cannot open {self.device.port}: {_reason(exc)}"
                if error != last_error:
                    log.warning("device %s: %s", self.device.id, error)
                    self._on_status(self.device, "disconnected", error)
                    last_error = error
                self._stop.wait(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            delay = RETRY_MIN_S
            last_error = ""
            log.info("device %s: opened %s", self.device.id, self.device.port)
            self._on_status(self.device, "connected", "")
            try:
                self._read(port)
            except (serial.SerialException, OSError) as exc:
                last_error = f"port {self.device.port} lost: {_reason(exc)}"
                log.warning("device %s: %s", self.device.id, last_error)
                self._on_status(self.device, "disconnected", last_error)
            finally:
                with contextlib.suppress(serial.SerialException, OSError):
                    port.close()
                # A fresh parser: half a frame from before the unplug must not join the next.
                self.frames_dropped += self.parser.errors
                self.parser = make_parser(self.device.protocol)

    def _read(self, port: serial.Serial) -> None:
        next_poll = 0.0
        while not self._stop.is_set():
            if self.profile.poll is not None and time.monotonic() >= next_poll:
                port.write(self.profile.poll)
                next_poll = time.monotonic() + self.device.poll_interval
            data = port.read(max(1, port.in_waiting))
            if not data:
                continue
            for measurement in self.parser.feed(data):
                self._on_measurement(self.device, measurement)


def _reason(exc: BaseException) -> str:
    return str(exc).split(": ", 1)[-1] if str(exc) else type(exc).__name__
