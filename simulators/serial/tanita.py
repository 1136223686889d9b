"""A virtual Tanita scale that sends one CSV line per weighing.

Encoded from ../shared/reference/serial-protocols.md section 7 (WB-3000, SC-240 and SC-330
manuals; TBF-310 layout from github:obiba/onyx). 9600 8N1 (TBF-310: 2400 7E1), CR LF.

* ``keyed`` (current models): ``{0,16,~0,1,~1,1,~2,1,`` control data, then ``HEADER,value``
  pairs (``MO`` model, ``ID``, ``Da`` date dd/mm/yyyy, ``TI`` time hh:mm, ``GE`` gender,
  ``AG`` age, ``Hm`` height cm, ``Pt`` preset tare, ``Wk`` weight kg or ``Wp`` lb, ``MI``
  BMI) and ``CS`` two hex digits: the low byte of the sum of every byte from ``{`` through
  the comma before ``CS``.
* ``tbf310``: headerless ``bodytype,gender,height,weight,impedance,fat%,fatmass,FFM,TBW,
  age,BMI,BMR``.

The scale sends when a weighing is finished: a stable, non-zero weight within capacity; the
next line comes after the platform was empty again.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from simulators.serial.device import SimulatedDevice, Weighing

PERIOD = 0.2


def keyed_line(
    state: Weighing, when: datetime, *, model: str = "WB-3000", patient_id: str = "0" * 16
) -> bytes:
    pairs = [
        ("MO", f'"{model}"'),
        ("ID", f'"{patient_id}"'),  # typed on the scale's keypad: a patient identifier
        ("St", "0"),
        ("Da", f'"{when:%d/%m/%Y}"'),
        ("TI", f'"{when:%H:%M}"'),
        ("Bt", "0"),
        ("GE", "1"),
        ("AG", "40"),
    ]
    if state.height is not None:
        pairs.append(("Hm", f"{state.height:.1f}"))
    pairs.append(("Pt", "0.0"))
    pairs.append(("Wk" if state.unit == "kg" else "Wp", f"{state.weight:.1f}"))
    if state.bmi is not None:
        pairs.append(("MI", f"{state.bmi:.1f}"))
    body = "{0,16,~0,1,~1,1,~2,1," + "".join(f"{k},{v}," for k, v in pairs)
    data = body.encode("ascii")
    return data + b"CS," + f"{sum(data) & 0xFF:02X}".encode("ascii") + b"\r\n"


def tbf310_line(state: Weighing) -> bytes:
    height = state.height if state.height is not None else Decimal("170")
    bmi = state.bmi if state.bmi is not None else Decimal("0")
    fields = [
        "0",
        "1",
        f"{height:.0f}",
        f"{state.weight:.1f}",
        "512",
        "22.0",
        "16.0",
        "56.5",
        "41.4",
        "40",
        f"{bmi:.1f}",
        "1650",
    ]
    return ",".join(fields).encode("ascii") + b"\r\n"


class TanitaScale(SimulatedDevice):
    """``layout``: ``keyed`` (WB-3000 style) or ``tbf310``."""

    name = "tanita"
    period = PERIOD

    def __init__(
        self, port, state: Weighing | None = None, *, layout: str = "keyed", **kwargs
    ) -> None:
        if layout not in ("keyed", "tbf310"):
            raise ValueError(f"Tanita layout must be 'keyed' or 'tbf310', not {layout!r}")
        super().__init__(port, state or Weighing(weight=Decimal("0.0")), **kwargs)
        self.layout = layout
        self.patient_id = "0" * 16
        self._sent_for: Decimal | None = None

    def emit(self) -> list[bytes]:
        s = self.state
        if s.weight <= 0:
            self._sent_for = None  # the platform is empty: the next weighing may come
            return []
        if s.motion or s.overload or self._sent_for is not None:
            return []
        self._sent_for = s.weight
        if self.layout == "tbf310":
            return [tbf310_line(s)]
        return [keyed_line(s, datetime.now(), patient_id=self.patient_id)]

    def noise(self) -> bytes:
        return super().noise().replace(b"{", b"") + b"\r\n"
