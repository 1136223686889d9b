"""Byte-stream framing shared by the text-based serial parsers.

Two shapes occur in the protocols of this package:

* ``LineSplitter``: lines ended by CR and/or LF (Masimo ASCII 1, Tanita CSV, GE DINAMAP
  replies). Empty lines (the LF of a CR LF pair) are not lines.
* ``DelimitedFramer``: frames that open with one byte and close with another (SMA SCP-0499
  ``<LF> ... <CR>``). Bytes outside a frame are garbage.

Both work byte by byte on state kept between calls, so any chunking of the input yields the
same frames and the same ``dropped`` count. A line or frame longer than ``max_length`` is
dropped once and everything up to the next terminator (or start byte) is skipped, so a
stream with no terminator cannot grow the buffer without bound.
"""

from __future__ import annotations


class LineSplitter:
    """Split a byte stream into lines on any byte of ``terminators``."""

    def __init__(self, terminators: bytes = b"\r\n", max_length: int = 512) -> None:
        self._terminators = frozenset(terminators)
        self._max_length = max_length
        self._buffer = bytearray()
        self._skipping = False
        self.dropped = 0
        """Overlong lines dropped (one per line)."""

    def feed(self, data: bytes) -> list[bytes]:
        lines: list[bytes] = []
        for byte in data:
            if byte in self._terminators:
                if self._skipping:
                    self._skipping = False
                elif self._buffer:
                    lines.append(bytes(self._buffer))
                self._buffer.clear()
            elif not self._skipping:
                self._buffer.append(byte)
                if len(self._buffer) > self._max_length:
                    self.dropped += 1
                    self._skipping = True
                    self._buffer.clear()
        return lines


class DelimitedFramer:
    """Cut ``start ... end`` frames out of a byte stream; frames include both delimiters.

    Counted in ``dropped`` (one each): a run of garbage between frames (counted when the next
    frame starts), a frame cut short by a new start byte, an overlong frame. Bytes in
    ``ignore`` are skipped silently between frames (e.g. a stray CR).
    """

    def __init__(self, start: int, end: int, max_length: int, ignore: bytes = b"") -> None:
        self._start = start
        self._end = end
        self._max_length = max_length
        self._ignore = frozenset(ignore)
        self._frame: bytearray | None = None
        self._garbage = False
        self._counted = False
        self.dropped = 0

    def feed(self, data: bytes) -> list[bytes]:
        frames: list[bytes] = []
        for byte in data:
            if byte == self._start:
                if self._frame is not None or (self._garbage and not self._counted):
                    self.dropped += 1  # a truncated frame, or the garbage before this one
                self._frame = bytearray((byte,))
                self._garbage = self._counted = False
            elif self._frame is None:
                if byte not in self._ignore:
                    self._garbage = True
            elif byte == self._end:
                self._frame.append(byte)
                frames.append(bytes(self._frame))
                self._frame = None
            else:
                self._frame.append(byte)
                if len(self._frame) > self._max_length:
                    self.dropped += 1
                    self._frame = None
                    self._garbage = self._counted = True  # the rest of it is already counted
        return frames
