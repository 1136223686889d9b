"""A virtual scale indicator streaming Toledo continuous output.

Encoded from ../shared/reference/serial-protocols.md section 4 (Mettler Toledo Wildcat
technical manual appendix 2; Cardinal 225 manual p.118; Fairbanks FB6000 manual p.77):

    STX SWA SWB SWC wwwwww tttttt CR CHK

six-digit weight and tare without the decimal point, sent at the display rate (~7 a second).
SWA: bits 0-2 decimal position (011 = XXXXX.X, 100 = XXXX.XX), bits 3-4 increment (01 = x1),
bit 5 = 1. SWB: bit 0 net, 1 negative, 2 out of range, 3 motion, 4 kg (else lb), bit 5 = 1.
SWC: bit 5 = 1. CHK (optional): two's complement of the 7-bit sum of every byte from STX
through CR.
"""

from __future__ import annotations

from decimal import Decimal

from simulators.serial.device import SimulatedDevice, Weighing

STX, CR = 0x02, 0x0D
PERIOD = 0.15


def checksum(frame: bytes) -> int:
    return (-sum(b & 0x7F for b in frame)) & 0x7F


def encode_frame(state: Weighing, *, with_checksum: bool = True, decimals: int = 1) -> bytes:
    swa = 0x20 | (0b01 << 3) | (2 + decimals)  # 011 = one decimal, 100 = two
    swb = 0x20
    if state.weight < 0:
        swb |= 0x02
    if state.overload:
        swb |= 0x04
    if state.motion:
        swb |= 0x08
    if state.unit == "kg":
        swb |= 0x10
    swc = 0x20
    digits = int((abs(state.weight) * 10**decimals).to_integral_value())
    weight = f"{min(digits, 999999):06d}".encode("ascii")
    frame = bytes([STX, swa, swb, swc]) + weight + b"000000" + bytes([CR])
    return frame + (bytes([checksum(frame)]) if with_checksum else b"")


class ToledoScale(SimulatedDevice):
    name = "toledo"
    period = PERIOD

    def __init__(
        self, port, state: Weighing | None = None, *, with_checksum: bool = True, **kwargs
    ) -> None:
        super().__init__(port, state or Weighing(weight=Decimal("0.0")), **kwargs)
        self.with_checksum = with_checksum

    def emit(self) -> list[bytes]:
        return [encode_frame(self.state, with_checksum=self.with_checksum)]

    def noise(self) -> bytes:
        return bytes(b for b in super().noise() if b & 0x7F != STX) or b"\xff"
