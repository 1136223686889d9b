"""A virtual Masimo pulse oximeter sending its serial text line once a second.

Encoded from ../shared/reference/serial-protocols.md section 5 (Rad-8 operator's manual,
OpenICE ``poxrad_discrete.h`` examples, github:remkolems/masimo-datacapture). 9600 8N1,
CR LF. A line is ``MM/DD/YY HH:MM:SS`` and space-separated ``NAME=value`` tokens:

* ``radical7`` (ASCII 1): ``SN= SPO2=nnn% BPM=nnn PI=nn.nn% SPCO= SPMET= DESAT= PIDELTA=
  PVI= ALARM=hhhh EXC=hhhhhh``;
* ``radical5``: ``SPO2= BPM= PI= ALARM=hh EXC=hhh``;
* ``trend`` (Rad-8 ASCII 2): ``SpO2=097 PR=069 PI=04.69 EXC=800:SET``.

No value: dashes. EXC bits: 004 low perfusion, 008 pulse search, 010 interference,
020 sensor off, 800 Masimo SET active. ALARM 0040 low battery.
"""

from __future__ import annotations

from datetime import datetime

from simulators.serial.device import Oximetry, SimulatedDevice

LAYOUTS = ("radical7", "radical5", "trend")


def exception_bits(state: Oximetry) -> int:
    bits = 0x800  # Masimo SET active: normal full-SET operation
    if not state.finger:
        return bits | 0x020
    if state.searching:
        bits |= 0x008
    if state.artifact or state.out_of_track:
        bits |= 0x010
    if state.perfusion == "low":
        bits |= 0x004
    return bits


def encode_line(state: Oximetry, when: datetime, layout: str = "radical7") -> bytes:
    shown = state.finger and not state.searching and not state.out_of_track
    spo2 = f"{state.spo2:03d}" if shown else "---"
    pulse = f"{state.pulse:03d}" if shown else "---"
    pi = {"good": "04.50", "marginal": "01.20", "low": "00.30"}[state.perfusion]
    pi = pi if shown else "--.--"
    exc = exception_bits(state)
    alarm = 0x0040 if state.low_battery else 0
    head = when.strftime("%m/%d/%y %H:%M:%S")
    if layout == "radical7":
        tokens = (
            f"SN=0000012345 SPO2={spo2}% BPM={pulse} PI={pi}% SPCO=--.-% SPMET=--.-% "
            f"DESAT=-- PIDELTA=+-- PVI=--- ALARM={alarm:04X} EXC={exc:06X}"
        )
    elif layout == "radical5":
        tokens = f"SPO2={spo2}% BPM={pulse} PI={pi}% ALARM={alarm:02X} EXC={exc:03X}"
    elif layout == "trend":
        if not shown:  # the trend samples send zeros, not dashes, without a reading
            spo2, pulse, pi = "000", "000", "00.00"
        names = "OffPat" if not state.finger else "SET"
        tokens = f"SpO2={spo2} PR={pulse} PI={pi} EXC={exc:03X}:{names}"
    else:
        raise ValueError(f"Masimo layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
    return f"{head} {tokens}\r\n".encode("ascii")


class MasimoOximeter(SimulatedDevice):
    name = "masimo"
    period = 1.0

    def __init__(
        self, port, state: Oximetry | None = None, *, layout: str = "radical7", **kwargs
    ) -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"Masimo layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
        super().__init__(port, state or Oximetry(), **kwargs)
        self.layout = layout

    def emit(self) -> list[bytes]:
        return [encode_line(self.state, datetime.now(), self.layout)]

    def noise(self) -> bytes:
        return super().noise() + b"\r\n"
