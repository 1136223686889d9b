"""One serial port: open it with pyserial, talk to the device as its protocol asks, feed the
parser.

One thread per port (a clinic gateway has a handful; blocking pyserial reads with a short
timeout keep each loop simple and a slow device cannot stall another). After opening, the
link sends the protocol's start command (Nonin set-format, repeated in its window until the
oximeter answers; CMS50 start real-time), then polls (scale ``W``, ESC request, DINAMAP
``NA``/``RC``) and sends keep-alives (CMS50 every 5 s) as its profile says. A streaming
oximeter's samples go to ``steady.SteadyStream``: live values, and one reading when steady.

A port that cannot be opened or disappears (USB unplug) is retried with backoff until it
returns; each change is reported through ``on_status`` so the device-status topic says so.
Two identical devices are told apart by their port path: configure each by its
``/dev/serial/by-id/`` name, which includes the USB adapter's serial number (e.g.
``usb-Silicon_Labs_CP2102_USB_to_UART_Bridge_Controller_0001-if00-port0``), so each device
keeps its own name whichever USB socket it is plugged into and whatever order they enumerate.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from functools import partial

import serial

from device_gateway.config import DeviceConfig
from device_gateway.serial_profiles import LineSettings, profile
from device_gateway.steady import SteadyRule, SteadyStream
from drivers.measurements import Measurement
from drivers.serial import parser as make_parser

log = logging.getLogger(__name__)

RETRY_MIN_S = 0.5
RETRY_MAX_S = 5.0
START_REPEAT_S = 1.0


class _WrongSettings(Exception):
    """Nothing decoded on a streaming port for a while: try the protocol's next settings."""


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
        self._settings = self._line_settings()
        self._settings_index = 0
        self.steady: SteadyStream | None = None
        if self.profile.streaming:
            rule = SteadyRule.from_options(device.options, f"device {device.id}: ")
            self.steady = SteadyStream(
                rule,
                partial(on_live, device) if on_live is not None else None,
                partial(on_measurement, device),
                time.monotonic,
            )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"serial-{device.id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    @property
    def line(self) -> LineSettings:
        """The line settings in use now."""
        return self._settings[self._settings_index]

    def _line_settings(self) -> list[LineSettings]:
        options = self.device.options
        base = self.profile.line
        explicit = self.device.baudrate is not None or any(
            k in options for k in ("bytesize", "parity", "stopbits")
        )
        try:
            first = LineSettings(
                baudrate=int(self.device.baudrate or base.baudrate),
                bytesize=int(options.get("bytesize", base.bytesize)),
                parity=str(options.get("parity", base.parity)).upper(),
                stopbits=float(options.get("stopbits", base.stopbits)),
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"device {self.device.id}: bad line setting: {exc}") from None
        # Settings given in the config are the device's: no probing of others.
        return [first] if explicit else [first, *self.profile.alternates]

    def _open(self) -> serial.Serial:
        line = self.line
        return serial.Serial(
            self.device.port,
            baudrate=line.baudrate,
            bytesize=line.bytesize,
            parity=line.parity,
            stopbits=line.stopbits,
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
            log.info("device %s: opened %s (%s)", self.device.id, self.device.port, self.line)
            self._on_status(self.device, "connected", "")
            try:
                self._read(port)
            except _WrongSettings:
                self._settings_index = (self._settings_index + 1) % len(self._settings)
                log.info("device %s: nothing decoded, trying %s", self.device.id, self.line)
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
                if self.steady is not None:
                    self.steady.reset()  # a new connection is a new placement

    def _read(self, port: serial.Serial) -> None:
        p = self.profile
        opened = time.monotonic()
        next_poll = next_keep_alive = next_start = 0.0
        answered = False  # the device sends data in the format asked for (or the window ended)
        refused = False
        last_decoded = opened
        while not self._stop.is_set():
            now = time.monotonic()
            if p.start is not None and not answered and now >= next_start:
                if next_start == 0.0 or now - opened < p.start_window_s:
                    port.write(p.start)
                    next_start = now + START_REPEAT_S
                elif refused:
                    self._refused()
                    answered = True
                else:
                    answered = True  # the window has passed: the device keeps its format
            if p.poll is not None and now >= next_poll:
                port.write(p.poll)
                next_poll = now + self.device.poll_interval
            if p.keep_alive is not None and now >= next_keep_alive:
                if next_keep_alive:
                    port.write(p.keep_alive)
                next_keep_alive = now + p.keep_alive_s
            data = port.read(max(1, port.in_waiting))
            # ACK/NAK arrive between data frames whose bytes may take any value, so only a
            # NAK with nothing decoded in the window counts as a refusal (see below).
            if data and p.nak is not None and not answered and p.nak in data:
                refused = True
            if p.streaming and time.monotonic() - last_decoded > p.probe_s:
                if len(self._settings) > 1:
                    raise _WrongSettings
                if p.start is not None and not p.start_window_s:
                    # Silent (switched on after the port opened, or stopped for want of a
                    # keep-alive): ask again, as on a new connection.
                    port.write(p.start)
                    last_decoded = time.monotonic()
            if not data:
                continue
            measurements = self.parser.feed(data)
            if measurements:
                last_decoded = time.monotonic()
                answered = True  # it sends the format the start command asked for
            for measurement in measurements:
                if self.steady is not None:
                    self.steady.feed(measurement)
                else:
                    self._on_measurement(self.device, measurement)

    def _refused(self) -> None:
        error = "the device refused the data format (NAK); select it on the device"
        log.warning("device %s: %s", self.device.id, error)
        self._on_status(self.device, "connected", error)


def _reason(exc: BaseException) -> str:
    return str(exc).split(": ", 1)[-1] if str(exc) else type(exc).__name__
