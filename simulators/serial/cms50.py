"""A virtual Contec CMS50 pulse oximeter: the 9-byte protocol V7.0 or the legacy 5-byte one.

Encoded from ../shared/reference/serial-protocols.md section 2 (Contec *Communication
protocol of pulse oximeter V7.0*, 2010, PDF in github:vats28/Contec-CMS50EW; legacy layout
from github:atbrask/CMS50Dplus and the Apnea Board wiki):

* V7.0 (115200 8N1): byte 0 = packet type (bit 7 clear), byte 1 = the bit 7 of each
  following byte (bit 0 -> byte 2 ...), every later byte has bit 7 set on the wire.
  Real-time packet 0x01, 60 a second, after restoring bit 7: byte 2 signal strength (0-3),
  searching too long (4), low SpO2 (5), beep (6), probe error (7); byte 3 pleth (0-6),
  searching pulse (7); byte 4 bar graph (0-3), PI invalid (4); byte 5 PR (0xFF invalid);
  byte 6 SpO2 (0x7F invalid); bytes 7-8 PI x100 (0xFFFF invalid). With the finger out the
  waveform is 0x40. Host commands are 9-byte packets ``7D 81 CC 80 ...``; the device streams
  only after A1 (start real-time), stops on A2 (answering ``0C 80``), and stops after
  ``keepalive_timeout`` seconds without a command (the spec asks for AF "device being
  connected" every 5 s; some units stop after ~30 s without it).
* Legacy (19200 8O1): 5-byte frames, 60 a second, byte 1 the only one with bit 7 set
  (beep 6, SpO2 dropping 5, searching too long 4, signal 0-3), byte 2 pleth, byte 3 PR bit 7
  (6), searching (5), probe error (4), bar graph (0-3), byte 4 PR bits 0-6, byte 5 SpO2.
  Any byte from the host turns streaming on.
"""

from __future__ import annotations

import math
import time

from simulators.serial.device import Oximetry, SimulatedDevice

COMMAND_TYPE = 0x7D
START, STOP, KEEP_ALIVE = 0xA1, 0xA2, 0xAF
PACKETS_PER_SECOND = 60
TICK = 0.1


def encode_v7(packet_type: int, values: list[int]) -> bytes:
    """A V7.0 packet: type, high byte, then the values with bit 7 moved to the high byte."""
    high = 0x80
    for i, value in enumerate(values):
        if value & 0x80:
            high |= 1 << i
    return bytes([packet_type & 0x7F, high, *(0x80 | (v & 0x7F) for v in values)])


class CMS50Oximeter(SimulatedDevice):
    """``generation``: ``"v7"`` or ``"legacy"``."""

    name = "cms50"
    period = TICK

    def __init__(
        self,
        port,
        state: Oximetry | None = None,
        *,
        generation: str = "v7",
        keepalive_timeout: float = 30.0,
        **kwargs,
    ) -> None:
        if generation not in ("v7", "legacy"):
            raise ValueError(f"CMS50 generation must be 'v7' or 'legacy', not {generation!r}")
        super().__init__(port, state or Oximetry(), **kwargs)
        self.generation = generation
        self.keepalive_timeout = keepalive_timeout
        self.streaming = False
        self._input = bytearray()
        self._last_command = time.monotonic()
        self._sample = 0

    def connected(self) -> None:
        self.streaming = False  # a fresh connection waits for the host's start command
        self._input.clear()

    def receive(self, data: bytes) -> None:
        self._last_command = time.monotonic()
        if self.generation == "legacy":
            self.streaming = True  # any byte turns the legacy stream on
            self.commands.append(data)
            return
        self._input += data
        while len(self._input) >= 9:
            start = self._input.find(bytes([COMMAND_TYPE]))
            if start < 0:
                self._input.clear()
                return
            del self._input[:start]
            if len(self._input) < 9:
                return
            packet = bytes(self._input[:9])
            del self._input[:9]
            if packet[1] & 0x80 == 0 or any(b & 0x80 == 0 for b in packet[2:]):
                continue
            code = (packet[2] & 0x7F) | ((packet[1] & 0x01) << 7)
            self.commands.append(packet)
            if code == START:
                self.streaming = True
            elif code == STOP:
                self.streaming = False
                self.send(bytes([0x0C, 0x80]))

    def emit(self) -> list[bytes]:
        if self.generation == "v7" and (
            time.monotonic() - self._last_command > self.keepalive_timeout
        ):
            self.streaming = False  # nobody said "device being connected" for too long
        if not self.streaming:
            return []
        count = round(PACKETS_PER_SECOND * TICK)
        encode = self._v7 if self.generation == "v7" else self._legacy
        return [b"".join(encode() for _ in range(count))]

    def _wave(self) -> int:
        self._sample += 1
        phase = self._sample / PACKETS_PER_SECOND * self.state.pulse / 60
        return int(64 + 50 * math.sin(2 * math.pi * phase))

    def _values(self) -> tuple[int | None, int | None, bool, bool]:
        """(PR, SpO2, probe error, searching); None where the device sends no value."""
        s = self.state
        if not s.finger:
            return None, None, True, False
        if s.searching or s.out_of_track:
            return None, None, False, True
        return s.pulse, s.spo2, False, False

    def _v7(self) -> bytes:
        pr, spo2, probe_error, searching = self._values()
        s = self.state
        signal = 0 if probe_error else {"good": 7, "marginal": 4, "low": 1}[s.perfusion]
        b2 = signal | (0x80 if probe_error else 0) | (0x40 if self._sample % 50 == 0 else 0)
        b2 |= 0x20 if spo2 is not None and spo2 < 90 else 0
        wave = 0x40 if probe_error else self._wave() & 0x7F
        b3 = wave | (0x80 if searching else 0)
        pi = (
            None
            if probe_error or searching
            else {"good": 512, "marginal": 150, "low": 30}[s.perfusion]
        )
        b4 = (wave >> 3) & 0x0F | (0x10 if pi is None else 0)
        pi_raw = 0xFFFF if pi is None else pi
        return encode_v7(
            0x01,
            [
                b2,
                b3,
                b4,
                0xFF if pr is None else pr,
                0x7F if spo2 is None else spo2,
                pi_raw & 0xFF,
                pi_raw >> 8,
            ],
        )

    def _legacy(self) -> bytes:
        pr, spo2, probe_error, searching = self._values()
        s = self.state
        signal = 0 if probe_error else {"good": 7, "marginal": 4, "low": 1}[s.perfusion]
        wave = 0 if probe_error else self._wave() & 0x7F
        rate = pr or 0
        b1 = 0x80 | signal | (0x10 if searching else 0)
        b3 = ((rate >> 1) & 0x40) | (0x20 if searching else 0) | (0x10 if probe_error else 0)
        b3 |= (wave >> 3) & 0x0F
        return bytes([b1, wave, b3, rate & 0x7F, (spo2 or 0) & 0x7F])

    def noise(self) -> bytes:
        # No checksum in either generation: noise is bytes the framing rejects on its own
        # (V7: stray bytes with bit 7 set outside a packet; legacy: bytes with bit 7 clear).
        n = self.rng.randrange(2, 12)
        if self.generation == "v7":
            return bytes(0x80 | self.rng.randrange(128) for _ in range(n))
        return bytes(self.rng.randrange(128) for _ in range(n))
