"""MLLP framing (HL7 v2 Minimal Lower Layer Protocol, HL7 v2.5.1 appendix C): sans-IO.

A message travels as ``<VT> message <FS><CR>`` (0x0B ... 0x1C 0x0D). ``MllpDecoder.feed``
returns every complete message; bytes outside a frame are skipped and counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

START = b"\x0b"
END = b"\x1c\x0d"
MAX_MESSAGE = 1024 * 1024


def frame(message: str) -> bytes:
    return START + message.encode("utf-8") + END


@dataclass
class MllpDecoder:
    errors: int = 0
    _buffer: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[str]:
        self._buffer += data
        messages: list[str] = []
        while True:
            start = self._buffer.find(START)
            if start < 0:
                if self._buffer.strip():
                    self.errors += 1
                self._buffer.clear()
                return messages
            if start > 0:
                if self._buffer[:start].strip():
                    self.errors += 1
                del self._buffer[:start]
            end = self._buffer.find(END)
            if end < 0:
                if len(self._buffer) > MAX_MESSAGE:
                    self.errors += 1
                    self._buffer.clear()
                return messages
            body = bytes(self._buffer[1:end])
            del self._buffer[: end + 2]
            if START in body:  # a frame that never ended, then a new one
                self.errors += 1
                body = body[body.rfind(START) + 1 :]
            try:
                messages.append(body.decode("utf-8"))
            except UnicodeDecodeError:
                self.errors += 1
