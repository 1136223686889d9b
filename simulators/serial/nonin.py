"""A virtual Nonin pulse oximeter: binary Data Formats 2, 7, 8 and 13, and the ASCII line of
the handhelds, with the 9560's set-format and time commands.

Encoded from the Onyx II 9560 OEM specification (6470-000-01 rev A; PDF in
github:mattjlewis/NoninPulseOx) as summarised in ../shared/reference/serial-protocols.md
section 1, and the handheld manuals for the ASCII line (Nonin 9847 p.37, 8500 p.15):

* DF2 ``01 STATUS PLETH FLOAT CHK`` / DF7 ``STATUS PLETH-MSB PLETH-LSB FLOAT CHK``: 75 frames
  a second, 25 frames a packet, SYNC (status bit 0) on frame 1, CHK = sum of 4 bytes mod 256;
  the float byte carries HR MSB/LSB (frames 1-2), SpO2 (3), SREV (4), timer (6-7), STAT2 (8),
  SpO2-D (9), ..., HR-D MSB/LSB (20-21). STATUS: bit7 1, 5 ARTF, 4 OOT, 3 SNSA, 2 RPRF,
  1 GPRF. Missing: HR 511, SpO2 127. Recording values go missing at once when the finger is
  removed; display values (-D) hold the last reading for 10 s with SNSA set.
* DF8: 4 bytes once a second ``STATUS(1 R OOT LPRF MPRF ARTF HR8 HR7) HR-D SpO2-D
  STATUS2(0 R SPA R SNSA R R LOWBAT)``.
* DF13: one SmartPoint spot-check record ``00 02 00 0D 00 0E`` + BCD ``20 YY MM DD hh mm ss
  00`` + status MSB/LSB + HR MSB/LSB + reserved + SpO2 + CHK (sum of the data) + ``03``;
  records taken while the link is down are kept and sent oldest first, with MEM set, when it
  returns.
* ASCII: ``SPO2=098 HR=072`` CR LF once a second (``SPO2=--- HR=---`` without data); the
  9847 puts the device time ``HH:MM:SS`` in front.
* Commands (9560): set format ``02 70 02 02 ZZ 03`` -> ACK ``06`` (format supported) or NAK
  ``15``, only in the first 5 s after the connection; set time ``02 72 06 YY MM DD hh mm ss
  03`` (binary), no reply; get time ``02 72 00 03`` -> ``02 F2 06 YY MM DD hh mm ss 03``.
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta

from simulators.serial.device import Oximetry, SimulatedDevice

STX, ETX, ACK, NAK = 0x02, 0x03, 0x06, 0x15
MISSING_HR, MISSING_SPO2 = 511, 127
HOLD_DISPLAY_S = 10.0
SET_FORMAT_WINDOW_S = 5.0
FORMATS = {2: "df2", 7: "df7", 8: "df8", 13: "df13"}
SPOT_CHECK_S = 3.0
"""A DF13 SmartPoint record is taken once the finger has been in this long."""


def checksum(data: bytes) -> int:
    return sum(data) & 0xFF


def _bcd(value: int) -> int:
    return ((value // 10) << 4) | (value % 10)


class NoninOximeter(SimulatedDevice):
    """``data_format``: 2, 7, 8, 13 or ``"ascii"``; ``supported``: formats the model accepts."""

    name = "nonin"

    def __init__(
        self,
        port,
        state: Oximetry | None = None,
        *,
        data_format: int | str = 7,
        supported: frozenset[int] = frozenset(FORMATS),
        ascii_clock: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(port, state or Oximetry(), **kwargs)
        self.supported = supported
        self.ascii_clock = ascii_clock
        self.clock_offset = timedelta(0)
        self.set_format_window = SET_FORMAT_WINDOW_S
        self.spot_check_s = SPOT_CHECK_S
        self.stored: list[bytes] = []
        self.acks: list[int] = []
        """Every ACK (0x06) or NAK (0x15) sent, in order."""
        self._input = bytearray()
        self._connected_at = time.monotonic()
        self._packets = 0
        self._display: tuple[int, int] | None = None
        self._finger_out_at: float | None = None
        self._finger_in_at: float | None = None
        self._spot_done = False
        self.data_format = data_format  # sets the period too

    @property
    def data_format(self) -> int | str:
        return self._format

    @data_format.setter
    def data_format(self, value: int | str) -> None:
        if value not in FORMATS and value != "ascii":
            raise ValueError(f"Nonin data format must be 2, 7, 8, 13 or 'ascii', not {value!r}")
        self._format = value
        self.period = {2: 1 / 3, 7: 1 / 3, 8: 1.0, 13: 0.25, "ascii": 1.0}[value]

    @property
    def spot_taken(self) -> bool:
        """A DF13 spot check was taken for the finger now in the probe."""
        return self._spot_done

    def now(self) -> datetime:
        return datetime.now() + self.clock_offset

    # connection and commands -------------------------------------------------------------
    def connected(self) -> None:
        self._connected_at = time.monotonic()
        self._input.clear()
        if self._format == 13 and self.stored:
            # Stored spot checks go out oldest first as soon as the link is back (spec p.6).
            for record in self.stored:
                self.send(record)
            self.stored.clear()

    def receive(self, data: bytes) -> None:
        self._input += data
        while True:
            start = self._input.find(bytes([STX]))
            if start < 0:
                self._input.clear()
                return
            del self._input[:start]
            if len(self._input) < 3:
                return
            opcode, length = self._input[1], self._input[2]
            total = 3 + length + 1
            if opcode not in (0x70, 0x72) or length > 8:
                del self._input[0]
                continue
            if len(self._input) < total:
                return
            command = bytes(self._input[:total])
            del self._input[:total]
            if command[-1] != ETX:
                continue
            self.commands.append(command)
            self._command(opcode, command[3:-1])

    def _command(self, opcode: int, data: bytes) -> None:
        if opcode == 0x70 and len(data) == 2 and data[0] == 0x02:
            if time.monotonic() - self._connected_at > self.set_format_window:
                return  # outside its window the 9560 does not listen for set-format
            wanted = data[1]
            if wanted in self.supported:
                self.data_format = wanted
                self._answer(ACK)
            else:
                self._answer(NAK)
        elif opcode == 0x72 and len(data) == 6:
            year, month, day, hour, minute, second = data
            try:
                wanted = datetime(2000 + year, month, day, hour, minute, second)
            except ValueError:
                return
            self.clock_offset = wanted - datetime.now()
        elif opcode == 0x72 and not data:
            t = self.now()
            fields = [t.year - 2000, t.month, t.day, t.hour, t.minute, t.second]
            self.send(bytes([STX, 0xF2, 0x06, *fields, ETX]))

    def _answer(self, byte: int) -> None:
        self.acks.append(byte)
        self.send(bytes([byte]))

    # values -------------------------------------------------------------------------------
    def _values(self) -> tuple[int, int, int, int]:
        """(HR, SpO2, HR-D, SpO2-D) now, with the missing markers the spec gives."""
        s = self.state
        now = time.monotonic()
        if s.finger and not s.out_of_track and not s.searching:
            self._finger_out_at = None
            self._display = (s.pulse, s.spo2)
            return s.pulse, s.spo2, s.pulse, s.spo2
        if not s.finger:
            self._finger_out_at = self._finger_out_at or now
            held = self._display is not None and now - self._finger_out_at < HOLD_DISPLAY_S
            if held:
                return MISSING_HR, MISSING_SPO2, *self._display  # type: ignore[misc]
            self._display = None
        return MISSING_HR, MISSING_SPO2, MISSING_HR, MISSING_SPO2

    def _status(self, frame: int) -> int:
        s = self.state
        status = 0x80
        if frame == 0:
            status |= 0x01  # SYNC
        if not s.finger:
            status |= 0x08  # SNSA
        if s.out_of_track:
            status |= 0x10  # OOT
        if s.finger and frame < 12:  # the pulse bits last 12 frames (160 ms) per pulse
            if s.artifact:
                status |= 0x20  # ARTF
            status |= {"good": 0x02, "marginal": 0x06, "low": 0x04}[s.perfusion]
        return status

    # encoders -----------------------------------------------------------------------------
    def offline(self) -> None:
        if self._format == 13:
            self._spot_check()  # the spot check happens; the record waits for the link

    def emit(self) -> list[bytes]:
        if self._format in (2, 7):
            return [self.packet()]
        if self._format == 8:
            return [self.df8_frame()]
        if self._format == "ascii":
            return [self.ascii_line()]
        record = self._spot_check()
        return [record] if record else []

    def packet(self) -> bytes:
        """One 25-frame DF2 or DF7 packet."""
        hr, spo2, hr_d, spo2_d = self._values()
        s = self.state
        timer = self._packets & 0x3FFF
        self._packets += 1
        stat2 = (0x20 if s.finger and not s.artifact and s.perfusion == "good" else 0) | (
            0x01 if s.low_battery else 0
        )
        floats = [0] * 25
        floats[0], floats[1] = (hr >> 7) & 0x03, hr & 0x7F
        floats[2] = spo2 & 0x7F
        floats[3] = 0x31  # SREV
        floats[5], floats[6] = (timer >> 7) & 0x7F, timer & 0x7F
        floats[7] = stat2
        floats[8] = floats[9] = floats[10] = spo2_d & 0x7F  # SpO2-D, fast, beat-to-beat
        floats[13], floats[14] = (hr >> 7) & 0x03, hr & 0x7F  # E-HR
        floats[15] = floats[16] = spo2 & 0x7F  # E-SpO2, E-SpO2-D
        floats[19], floats[20] = (hr_d >> 7) & 0x03, hr_d & 0x7F  # HR-D
        floats[21], floats[22] = (hr_d >> 7) & 0x03, hr_d & 0x7F  # E-HR-D
        out = bytearray()
        for n in range(25):
            pleth = self._pleth(n) if s.finger else 0
            status = self._status(n)
            if self._format == 2:
                head = bytes([0x01, status, pleth >> 8, floats[n]])
            else:
                head = bytes([status, pleth >> 8, pleth & 0xFF, floats[n]])
            out += head + bytes([checksum(head)])
        return bytes(out)

    def _pleth(self, frame: int) -> int:
        phase = (self._packets * 25 + frame) / 75 * self.state.pulse / 60
        return int(32768 + 20000 * math.sin(2 * math.pi * phase)) & 0xFFFF

    def df8_frame(self) -> bytes:
        _hr, _spo2, hr_d, spo2_d = self._values()
        s = self.state
        status = 0x80 | ((hr_d >> 7) & 0x03)
        if s.out_of_track:
            status |= 0x20
        if s.finger:
            status |= {"good": 0, "marginal": 0x08, "low": 0x10}[s.perfusion]
            if s.artifact:
                status |= 0x04
        status2 = (0x08 if not s.finger else 0) | (0x01 if s.low_battery else 0)
        if s.finger and not s.artifact and s.perfusion == "good":
            status2 |= 0x20
        return bytes([status, hr_d & 0x7F, spo2_d & 0x7F, status2])

    def ascii_line(self) -> bytes:
        hr, spo2, _hr_d, _spo2_d = self._values()
        spo2_text = "---" if spo2 == MISSING_SPO2 else f"{spo2:03d}"
        hr_text = "---" if hr == MISSING_HR else f"{hr:03d}"
        prefix = self.now().strftime("%H:%M:%S ") if self.ascii_clock else ""
        return f"{prefix}SPO2={spo2_text} HR={hr_text}\r\n".encode("ascii")

    def _spot_check(self) -> bytes | None:
        s = self.state
        now = time.monotonic()
        if not s.finger:
            self._finger_in_at, self._spot_done = None, False
            return None
        if s.artifact or s.out_of_track or self._spot_done:
            return None
        self._finger_in_at = self._finger_in_at or now
        if now - self._finger_in_at < self.spot_check_s:
            return None
        self._spot_done = True
        if self.port.plugged:
            return self.df13_record(s.pulse, s.spo2, self.now())
        self.stored.append(self.df13_record(s.pulse, s.spo2, self.now(), from_memory=True))
        return None

    def df13_record(
        self, hr: int | None, spo2: int | None, when: datetime, *, from_memory: bool = False
    ) -> bytes:
        hr_value = MISSING_HR if hr is None else hr
        spo2_value = MISSING_SPO2 if spo2 is None else spo2
        no_measurement = hr is None and spo2 is None
        status_msb = 0x01 if no_measurement else 0x02  # NOMS, else SPA
        status_lsb = (0x10 if from_memory else 0) | (0x01 if self.state.low_battery else 0)
        data = bytes(
            [
                _bcd(when.year // 100),
                _bcd(when.year % 100),
                _bcd(when.month),
                _bcd(when.day),
                _bcd(when.hour),
                _bcd(when.minute),
                _bcd(when.second),
                0x00,
                status_msb,
                status_lsb,
                (hr_value >> 8) & 0x01,
                hr_value & 0xFF,
                0x00,
                spo2_value & 0x7F,
            ]
        )
        header = bytes([0x00, 0x02, 0x00, 0x0D, 0x00, len(data)])
        return header + data + bytes([checksum(data), ETX])

    def noise(self) -> bytes:
        if self._format == 8:
            # DF8 has no checksum: noise that could look like a frame cannot be rejected by
            # any reader, so line noise here is bytes with bit 7 set (each a cut-off frame).
            return bytes(0x80 | self.rng.randrange(128) for _ in range(self.rng.randrange(1, 6)))
        if self._format == "ascii":
            return super().noise().replace(b"=", b"") + b"\r\n"
        return super().noise()
