"""Nonin binary real-time data formats DF #2, DF #7 and DF #8 (incremental, sans-IO).

Source: Nonin Onyx II 9560 OEM Specification (6470-000-01 rev A, 2008; PDF in
github:mattjlewis/NoninPulseOx), "Serial Data Format #2" pp.8-11, "#7" pp.12-15,
"#8" pp.16-17. The OEM III module and Xpod send the same DF #2 layout (pufferfish-software
OEM III driver); on them status bit 6 is SNSD "sensor disconnected" (reserved on the 9560).

DF #2 / DF #7: 5-byte frames, 75 per second, 25 frames per packet. Frame 1 of a packet has
the SYNC bit (status bit 0) set; CHK = (byte1 + byte2 + byte3 + byte4) mod 256. The fourth
byte ("float") carries one value per frame number (HR MSB/LSB, SpO2, ... table on p.8).

Choice of values: a packet yields one ``PulseOximetry`` (three per second) with the display
values HR-D (frames 20-21) and SpO2-D (frame 9). They are the numbers on the device screen
and the same values DF #8 sends, so DF #2, #7 and #8 agree; the spec (p.10) says they hold
the last reading for 10 s with SNSA set after the finger is removed, which reaches the
gateway as the ``sensor_alarm`` flag. Missing data (HR 511, SpO2 127) and any value in a
packet with the out-of-track bit set become ``None``.

Status flags are the union over the 25 frames: the perfusion bits and ARTF are only set for
the 12 frames around a pulse (p.9), so a single frame would miss them.
"""

from __future__ import annotations

from collections import deque

from drivers.measurements import PulseOximetry

FRAME_LENGTH = 5
FRAMES_PER_PACKET = 25
MISSING_HR = 511
MISSING_SPO2 = 127

# STATUS byte bits (DF2 byte 2, DF7 byte 1; 9560 spec pp.9 and 13).
_SYNC = 0x01
_GPRF = 0x02
_RPRF = 0x04
_SNSA = 0x08
_OOT = 0x10
_ARTF = 0x20
_SNSD = 0x40  # OEM III / Xpod "sensor disconnected"; reserved on the 9560
_ALWAYS_SET = 0x80

# STAT2 (float byte of frame 8, 9560 spec p.10) and DF8 STATUS2 (p.16).
_STAT2_SPA = 0x20
_STAT2_LOW_BAT = 0x01

# Frame numbers (0-based) of the float bytes used (9560 spec p.8).
_F_STAT2 = 7
_F_SPO2_D = 8
_F_HR_D_MSB = 19
_F_HR_D_LSB = 20


def heart_rate(msb: int, lsb: int) -> int | None:
    """9-bit HR from the MSB (bits 0-1 = HR8, HR7) and LSB (bits 0-6) bytes; 511 = missing."""
    value = ((msb & 0x03) << 7) | (lsb & 0x7F)
    return None if value == MISSING_HR else value


def spo2(byte: int) -> int | None:
    """7-bit SpO2; 127 = missing, and anything above 100 % cannot be a reading."""
    value = byte & 0x7F
    return None if value == MISSING_SPO2 or value > 100 else value


def _checksum_ok(frame: bytes) -> bool:
    return (frame[0] + frame[1] + frame[2] + frame[3]) & 0xFF == frame[4]


class _PacketParser:
    """Shared DF #2 / DF #7 framing: sync on a SYNC frame, collect 25 good frames."""

    _STATUS = 0  # index of the STATUS byte in a frame
    _FLOAT = 3

    def __init__(self) -> None:
        self.errors = 0
        self._buf = bytearray()
        self._frames: list[bytes] = []
        self._dropping = False

    def _frame_ok(self, frame: bytes) -> bool:
        return bool(frame[self._STATUS] & _ALWAYS_SET) and _checksum_ok(frame)

    def feed(self, data: bytes) -> list[PulseOximetry]:
        out: list[PulseOximetry] = []
        pending = deque(data)
        while pending:
            self._buf.append(pending.popleft())
            if len(self._buf) < FRAME_LENGTH:
                continue
            if not self._frames:
                self._hunt()
                continue
            frame = bytes(self._buf)
            self._buf.clear()
            if not self._frame_ok(frame):
                # Bad checksum or status: drop the packet and search for a SYNC frame again
                # from the second byte of the packet on, so a false sync cannot swallow the
                # start of a real packet.
                replay = b"".join(self._frames)[1:] + frame
                self._frames = []
                self._drop()
                pending.extendleft(reversed(replay))
                continue
            if frame[self._STATUS] & _SYNC:
                # A new packet started before this one had 25 frames: frames were lost.
                self.errors += 1
                self._dropping = False
                self._frames = [frame]
                continue
            self._frames.append(frame)
            if len(self._frames) == FRAMES_PER_PACKET:
                out.append(self._decode(self._frames))
                self._frames = []
        return out

    def _drop(self) -> None:
        """Count one error per run of skipped bytes or abandoned packet."""
        if not self._dropping:
            self.errors += 1
            self._dropping = True

    def _hunt(self) -> None:
        candidate = bytes(self._buf)
        if self._frame_ok(candidate) and candidate[self._STATUS] & _SYNC:
            self._frames = [candidate]
            self._buf.clear()
            self._dropping = False
        else:
            del self._buf[0]
            self._drop()

    def _decode(self, frames: list[bytes]) -> PulseOximetry:
        floats = [frame[self._FLOAT] for frame in frames]
        flags: set[str] = set()
        for frame in frames:
            status = frame[self._STATUS]
            if status & _ARTF:
                flags.add("artifact")
            if status & _OOT:
                flags.add("out_of_track")
            if status & _SNSA:
                flags.add("sensor_alarm")
            if status & _SNSD:
                flags.add("sensor_off")
            perfusion = status & (_RPRF | _GPRF)
            if perfusion == _RPRF:  # red: low/no pulse signal
                flags.add("low_perfusion")
            elif perfusion == _RPRF | _GPRF:  # yellow: low/marginal signal
                flags.add("marginal_perfusion")
        stat2 = floats[_F_STAT2]
        if stat2 & _STAT2_SPA:
            flags.add("smart_point")
        if stat2 & _STAT2_LOW_BAT:
            flags.add("low_battery")
        rate = heart_rate(floats[_F_HR_D_MSB], floats[_F_HR_D_LSB])
        saturation = spo2(floats[_F_SPO2_D])
        if "out_of_track" in flags:
            rate = saturation = None
        return PulseOximetry(
            spo2=saturation,
            pulse_rate=rate,
            flags=frozenset(flags),
            raw=b"".join(frames),
        )


class NoninDF2Parser(_PacketParser):
    """DF #2: ``01 STATUS PLETH FLOAT CHK`` (9560 spec p.8; OEM III, Xpod, 3150)."""

    _STATUS = 1

    def _frame_ok(self, frame: bytes) -> bool:
        return frame[0] == 0x01 and super()._frame_ok(frame)


class NoninDF7Parser(_PacketParser):
    """DF #7: ``STATUS PLETH-MSB PLETH-LSB FLOAT CHK`` (9560 spec p.12)."""

    _STATUS = 0


# DF #8 STATUS byte bits (9560 spec p.16).
_DF8_ARTF = 0x04
_DF8_MPRF = 0x08
_DF8_LPRF = 0x10
_DF8_OOT = 0x20
# DF #8 STATUS2 bit 3: SNSA.
_DF8_SNSA = 0x08

_DF8_LENGTH = 4
# Bits the spec reserves (STATUS bit 6; STATUS2 bits 6, 4, 2, 1): a frame that sets one is
# not DF #8 — typically a DF #7 stream read with the wrong format, whose bytes would
# otherwise decode as nonsense rates (DF #8 has no checksum to catch it).
_DF8_STATUS_RESERVED = 0x40
_DF8_STATUS2_RESERVED = 0x56


def _df8_plausible(frame: bytes) -> bool:
    status, hr_lsb, spo2_byte, status2 = frame
    if status & _DF8_STATUS_RESERVED or status2 & _DF8_STATUS2_RESERVED:
        return False
    rate = ((status & 0x03) << 7) | hr_lsb
    # 9560 spec p.16: SpO2 0-100 or 127 (missing), pulse 18-321 or 511 (missing); 0 while
    # searching.
    return (spo2_byte <= 100 or spo2_byte == 127) and (rate <= 321 or rate == 511)


class NoninDF8Parser:
    """DF #8: 4 bytes once per second, no checksum (9560 spec pp.16-17).

    A frame is reported when the next frame's STATUS byte arrives (one frame, a second, late).

    ``STATUS(1 R OOT LPRF MPRF ARTF HR8 HR7) HR-D(0 HR6..HR0) SpO2-D(0 SP6..SP0)
    STATUS2(0 R SPA R SNSA R R LOWBAT)``. The STATUS byte is the only one with bit 7 set, so
    it marks the frame boundary.
    """

    def __init__(self) -> None:
        self.errors = 0
        self._frame = bytearray()
        self._dropping = False
        # A complete frame is held until the next byte shows it was really DF #8: the next
        # STATUS byte (bit 7 set). In a DF #7 stream read as DF #8 the fifth byte is DF #7's
        # checksum, half the time without bit 7: those frames are dropped, not decoded as
        # nonsense (with the reserved-bit and range checks, most of such a stream is).
        self._held: bytes | None = None

    def _drop(self) -> None:
        if not self._dropping:
            self.errors += 1
            self._dropping = True

    def feed(self, data: bytes) -> list[PulseOximetry]:
        out: list[PulseOximetry] = []
        for byte in data:
            if byte & 0x80:
                if self._held is not None:
                    out.append(self._decode(self._held))
                    self._held = None
                if self._frame:
                    # A new STATUS byte before the frame was complete: bytes were lost.
                    self.errors += 1
                self._frame = bytearray([byte])
                self._dropping = False
            elif self._frame:
                self._frame.append(byte)
                if len(self._frame) == _DF8_LENGTH:
                    frame = bytes(self._frame)
                    self._frame.clear()
                    if _df8_plausible(frame):
                        self._held = frame
                    else:
                        self.errors += 1
            else:
                if self._held is not None:
                    self.errors += 1  # a fifth byte: the held frame was not DF #8
                    self._held = None
                self._drop()
        return out

    @staticmethod
    def _decode(frame: bytes) -> PulseOximetry:
        status, hr_lsb, spo2_byte, status2 = frame
        flags: set[str] = set()
        if status & _DF8_ARTF:
            flags.add("artifact")
        if status & _DF8_OOT:
            flags.add("out_of_track")
        if status & _DF8_LPRF:
            flags.add("low_perfusion")
        if status & _DF8_MPRF:
            flags.add("marginal_perfusion")
        if status2 & _DF8_SNSA:
            flags.add("sensor_alarm")
        if status2 & _STAT2_SPA:
            flags.add("smart_point")
        if status2 & _STAT2_LOW_BAT:
            flags.add("low_battery")
        # HR8 and HR7 are status bits 1 and 0, so the same 9-bit assembly as DF #2 applies
        # (combined with OR: a reader that ANDs them, as one published Android port does,
        # gets 0 for every rate).
        rate = heart_rate(status, hr_lsb)
        saturation = spo2(spo2_byte)
        if "out_of_track" in flags:
            rate = saturation = None
        return PulseOximetry(spo2=saturation, pulse_rate=rate, flags=frozenset(flags), raw=frame)


PROTOCOLS: dict[str, type] = {
    "nonin-df2": NoninDF2Parser,
    "nonin-df7": NoninDF7Parser,
    "nonin-df8": NoninDF8Parser,
}
# Verification level (drivers/plugins.py LEVELS): 9560 spec and OEM III test packet.
VERIFICATION = {"nonin-df2": "published examples", "nonin-df7": "published examples",
                "nonin-df8": "published examples"}
