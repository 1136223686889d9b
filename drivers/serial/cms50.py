"""Contec CMS50 family pulse oximeters: protocol V7.0 (9-byte) and the legacy 5-byte stream.

V7.0 source: Contec *Communication protocol of pulse oximeter V7.0* (2010-07-08; PDF in
github:vats28/Contec-CMS50EW), captures in github:MarkMLl/Contec_cms50dplus (CMS50D+ fw 4.6)
and github:titinho11/CMS50E-raw-ppg-data. 115200 8N1. Every packet: byte 0 = type with
bit 7 clear; byte 1 = "high byte" holding bit 7 of bytes 2..8 (bit 0 -> byte 2, ...); every
byte after the type has bit 7 set on the wire. No checksum. Real-time packet type 0x01,
9 bytes, 60 per second (after restoring bit 7):

    byte 2: bits 0-3 signal strength, 4 searching too long, 5 low SpO2, 6 beep, 7 probe error
    byte 3: bits 0-6 pleth, 7 searching pulse
    byte 4: bits 0-3 bar graph, 4 PI invalid
    byte 5: pulse rate, valid 1..254, 0xFF invalid
    byte 6: SpO2, valid 1..100, 0x7F invalid
    bytes 7, 8: PI x 100 (low, high), 0xFFFF invalid

A CMS50D+ v4.6 with no finger sends PR 0 / SpO2 0 with the probe-error bit (MarkMLl capture
``01 E1 84 C0 90 80 80 FF FF``), so anything outside the valid ranges is ``None``.
Other uplink types (identifiers, storage data, command feedback ...) are recognised and
skipped without counting an error: stored records carry no time of their own here and must
not pass for live readings.

Legacy source: github:atbrask/CMS50Dplus, Apnea Board wiki "Contec CMS50X Data Format",
tranzoa.net blog p=371. 19200 8O1 (or 4800 8N1), 60 frames per second, no checksum:

    byte 1 (bit 7 set): 0-3 signal strength, 4 searching too long, 5 SpO2 dropping, 6 beep
    byte 2: pleth;  byte 3: 0-3 bar graph, 4 probe error, 5 searching, 6 = PR bit 7
    byte 4: PR bits 0-6;  byte 5: SpO2

Flags: probe error -> ``probe_error``; searching / searching too long -> ``searching``.
The beep, "low SpO2" and "SpO2 dropping" bits are about the patient's value, not the
quality of the signal, and are not flags. PI (V7) goes to ``pulse_amplitude_index`` in %.
"""

from __future__ import annotations

from decimal import Decimal

from drivers.measurements import PulseOximetry

# --- V7.0 host commands ------------------------------------------------------------------
# Commands are 9-byte packets of type 0x7D; the command byte has bit 7 set, so the high byte
# is 0x81, and the unused bytes (0x00) go out as 0x80 (V7.0 spec; MarkMLl USB capture
# "7d 81 a2 80 80 80 80 80 80").

_COMMAND_TYPE = 0x7D


def command(code: int) -> bytes:
    """The 9-byte V7.0 command packet for command byte ``code`` (0x80-0xFF)."""
    if not 0x80 <= code <= 0xFF:
        raise ValueError("CMS50 V7 command bytes are 0x80-0xFF")
    return bytes([_COMMAND_TYPE, 0x81, code, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80])


START_REALTIME = command(0xA1)
STOP_REALTIME = command(0xA2)
# "Device being connected": the spec asks for it every 5 s; some units stop streaming after
# ~30 s without it.
KEEP_ALIVE = command(0xAF)

# --- V7.0 real-time packets ---------------------------------------------------------------

V7_REALTIME = 0x01
V7_REALTIME_LENGTH = 9
# Uplink packet types of V7.0 (0x01-0x15; 0x02, 0x03, 0x13, 0x14 seen in the MarkMLl capture).
_V7_KNOWN_TYPES = frozenset(range(0x01, 0x16))
# Longest non-real-time packet we wait for before calling the run garbage.
_V7_MAX_OTHER = 32


def _restore_high_bits(packet: bytes) -> bytes:
    """Bytes 2.. with bit 7 taken from the high byte (bit i-2 of byte 1 belongs to byte i)."""
    high = packet[1]
    return bytes((b & 0x7F) | (((high >> i) & 1) << 7) for i, b in enumerate(packet[2:]))


def _pulse_rate(value: int) -> int | None:
    return value if 1 <= value <= 254 else None


def _spo2(value: int) -> int | None:
    return value if 1 <= value <= 100 else None


def decode_v7_realtime(packet: bytes) -> PulseOximetry:
    """Decode one 9-byte V7.0 real-time packet (type 0x01) as received on the wire."""
    b2, b3, b4, pr, sat, pi_low, pi_high = _restore_high_bits(packet)
    flags: set[str] = set()
    if b2 & 0x80:
        flags.add("probe_error")
    if b2 & 0x10 or b3 & 0x80:
        flags.add("searching")
    pi = pi_low | (pi_high << 8)
    pai = None if b4 & 0x10 or pi == 0xFFFF else Decimal(pi).scaleb(-2)
    return PulseOximetry(
        spo2=_spo2(sat),
        pulse_rate=_pulse_rate(pr),
        pulse_amplitude_index=pai,
        flags=frozenset(flags),
        raw=bytes(packet),
    )


class CMS50V7Parser:
    """Incremental parser of the V7.0 stream; one ``PulseOximetry`` per real-time packet.

    A byte with bit 7 clear starts a packet. A real-time packet cut short by the next start
    byte, bytes outside any packet, and packets of unknown type are dropped and counted in
    ``errors`` (one per dropped packet or run of stray bytes).
    """

    def __init__(self) -> None:
        self.errors = 0
        self._packet = bytearray()
        self._dropping = False

    def _drop(self) -> None:
        if not self._dropping:
            self.errors += 1
            self._dropping = True

    def feed(self, data: bytes) -> list[PulseOximetry]:
        out: list[PulseOximetry] = []
        for byte in data:
            if not byte & 0x80:
                if self._packet and self._packet[0] == V7_REALTIME:
                    self.errors += 1  # real-time packet shorter than 9 bytes
                self._packet = bytearray([byte])
                if byte in _V7_KNOWN_TYPES:
                    self._dropping = False
                else:
                    self._packet.clear()
                    self._drop()
            elif not self._packet:
                self._drop()
            else:
                self._packet.append(byte)
                if self._packet[0] == V7_REALTIME:
                    if len(self._packet) == V7_REALTIME_LENGTH:
                        out.append(decode_v7_realtime(bytes(self._packet)))
                        self._packet.clear()
                elif len(self._packet) > _V7_MAX_OTHER:
                    self._packet.clear()
                    self._drop()
        return out


# --- legacy 5-byte stream -----------------------------------------------------------------

LEGACY_LENGTH = 5


def decode_legacy(frame: bytes) -> PulseOximetry:
    """Decode one legacy 5-byte frame (byte 1 with bit 7 set, bytes 2-5 with bit 7 clear)."""
    b1, _pleth, b3, pr_low, sat = frame
    flags: set[str] = set()
    if b3 & 0x10:
        flags.add("probe_error")
    if b3 & 0x20 or b1 & 0x10:
        flags.add("searching")
    pr = ((b3 & 0x40) << 1) | (pr_low & 0x7F)
    return PulseOximetry(
        spo2=_spo2(sat & 0x7F),
        pulse_rate=_pulse_rate(pr),
        flags=frozenset(flags),
        raw=bytes(frame),
    )


class CMS50LegacyParser:
    """Incremental parser of the legacy 5-byte stream; one ``PulseOximetry`` per frame.

    The first byte is the only one with bit 7 set. A frame cut short by the next sync byte
    and bytes outside any frame are dropped and counted (one per frame or run of bytes).
    """

    def __init__(self) -> None:
        self.errors = 0
        self._frame = bytearray()
        self._dropping = False

    def feed(self, data: bytes) -> list[PulseOximetry]:
        out: list[PulseOximetry] = []
        for byte in data:
            if byte & 0x80:
                if self._frame:
                    self.errors += 1  # frame shorter than 5 bytes
                self._frame = bytearray([byte])
                self._dropping = False
            elif self._frame:
                self._frame.append(byte)
                if len(self._frame) == LEGACY_LENGTH:
                    out.append(decode_legacy(bytes(self._frame)))
                    self._frame.clear()
            elif not self._dropping:
                self.errors += 1
                self._dropping = True
        return out


# --- auto-detection -----------------------------------------------------------------------

# Bytes kept while the generation is unknown; beyond this the oldest half is dropped.
_DETECT_LIMIT = 1024
# Legacy frames in a row (plus the next sync byte) that decide for the legacy stream: three
# make the 16-byte bit-7 pattern as unlikely in noise as the 9-byte V7 real-time packet.
_LEGACY_FRAMES_TO_DETECT = 3


class CMS50AutoParser:
    """Detects V7.0 or legacy from the byte pattern, then parses with the matching parser.

    V7.0: a 0x01 byte followed by 8 bytes with bit 7 set (impossible in the legacy stream,
    where 4 of every 5 bytes have bit 7 clear). Legacy: three frames in a row (a byte with
    bit 7 set, 4 bytes with bit 7 clear) and the next sync byte (impossible in V7.0, where no
    packet is a lone type byte). The decision is final for the life of the parser.
    Everything buffered before the decision is then parsed, so the first frames are not lost.
    """

    def __init__(self) -> None:
        self._inner: CMS50V7Parser | CMS50LegacyParser | None = None
        self._buf = bytearray()
        self._detect_errors = 0

    @property
    def errors(self) -> int:
        inner = self._inner.errors if self._inner is not None else 0
        return self._detect_errors + inner

    @property
    def generation(self) -> str | None:
        """``"v7"``, ``"legacy"`` or None while still undecided."""
        if isinstance(self._inner, CMS50V7Parser):
            return "v7"
        if isinstance(self._inner, CMS50LegacyParser):
            return "legacy"
        return None

    def feed(self, data: bytes) -> list[PulseOximetry]:
        if self._inner is not None:
            return self._inner.feed(data)
        for index, byte in enumerate(data):
            self._buf.append(byte)
            inner = self._detect()
            if inner is not None:
                self._inner = inner
                buffered, self._buf = bytes(self._buf), bytearray()
                return inner.feed(buffered + data[index + 1 :])
            if len(self._buf) >= _DETECT_LIMIT:
                del self._buf[: _DETECT_LIMIT // 2]
                self._detect_errors += 1
        return []

    def _detect(self) -> CMS50V7Parser | CMS50LegacyParser | None:
        tail = self._buf[-V7_REALTIME_LENGTH:]
        if (
            len(tail) == V7_REALTIME_LENGTH
            and tail[0] == V7_REALTIME
            and all(b & 0x80 for b in tail[1:])
        ):
            return CMS50V7Parser()
        span = LEGACY_LENGTH * _LEGACY_FRAMES_TO_DETECT + 1
        tail = self._buf[-span:]
        if len(tail) == span and all(
            bool(b & 0x80) == (i % LEGACY_LENGTH == 0) for i, b in enumerate(tail)
        ):
            return CMS50LegacyParser()
        return None


PROTOCOLS: dict[str, type] = {
    "cms50": CMS50AutoParser,
    "cms50-v7": CMS50V7Parser,
    "cms50-legacy": CMS50LegacyParser,
}
# Verification level (drivers/plugins.py LEVELS): published captures.
VERIFICATION = {"cms50": "published examples", "cms50-v7": "published examples",
                "cms50-legacy": "published examples"}
