"""The simulated Acme AS-200 (entry point ``roomvitals.simulators``).

Written from the protocol description on its own, never by calling the parser, so a
misreading cannot cancel out between the two.
"""

from __future__ import annotations

from decimal import Decimal

from simulators.plugins import SimulatorSpec
from simulators.serial.device import SimulatedDevice, Weighing


def encode(state: Weighing, patient_id: str = "") -> bytes:
    status = "O" if state.overload else "M" if state.motion else "S"
    unit = "KG" if state.unit == "kg" else "LB"
    weight = "999.9" if state.overload else f"{state.weight:05.1f}"
    body = f"AW,{weight},{unit},{status},ID={patient_id}".encode("ascii")
    check = 0
    for byte in body:
        check ^= byte
    return b"$" + body + b"*" + f"{check:02X}".encode("ascii") + b"\r\n"


class AcmeScale(SimulatedDevice):
    name = "acme-as200"

    def __init__(self, port, state: Weighing | None = None, **kwargs) -> None:
        super().__init__(port, state or Weighing(weight=Decimal("0.0")), **kwargs)
        self.patient_id = "00012345"
        self._input = b""

    def receive(self, data: bytes) -> None:
        self._input = (self._input + data)[-64:]
        while b"?W\r" in self._input:
            self._input = self._input.split(b"?W\r", 1)[1]
            self.commands.append(b"?W")
            self.send(encode(self.state, self.patient_id))


SIMULATORS = {
    "acme-as200": SimulatorSpec("scale", AcmeScale, "Acme AS-200 clinic scale, polled"),
}
