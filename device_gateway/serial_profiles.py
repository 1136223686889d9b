"""Line settings, start-up commands and polling of each serial protocol.

From the same sources as the drivers (../shared/reference/serial-protocols.md; the section
of each protocol is named below). A device's config entry may override the line settings
(``baudrate``, and ``bytesize``/``parity``/``stopbits`` as options) for a model that was set
up differently on its own menu.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.serial import cms50, dinamap, nonin, sma
from drivers.serial.healthometer_esc import REQUEST_READING


@dataclass(frozen=True)
class LineSettings:
    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1


@dataclass(frozen=True)
class SerialProfile:
    device_kind: str
    """``scale``, ``pulse_oximeter`` or ``bp_monitor`` (the contract's device kinds)."""
    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1
    poll: bytes | None = None
    """Bytes that ask the device for a reading, sent every ``poll_interval`` (None: it pushes)."""
    start: bytes | None = None
    """Sent once the port is open (e.g. the CMS50 V7 start command)."""
    start_window_s: float = 0.0
    """Repeat ``start`` once a second for this long after opening until something decodes
    (Nonin set-format: the 9560 listens only in the first ~5 s)."""
    nak: bytes | None = None
    """The device's refusal of ``start``; seen with nothing decoded by the end of the window,
    the device status says the device refused the format."""
    keep_alive: bytes | None = None
    keep_alive_s: float = 5.0
    streaming: bool = False
    """A continuous oximeter: live values, and one spot reading when steady (steady.py)."""
    repeats: bool = False
    """The device sends the same weighing again and again (polled or continuous output), so
    the gateway keeps one reading per weighing (weighing.py)."""
    alternates: tuple[LineSettings, ...] = ()
    """Other line settings the protocol's devices use; tried in turn when nothing decodes
    for ``probe_s`` seconds (a streaming device only: silence there means wrong settings)."""
    probe_s: float = 5.0

    @property
    def line(self) -> LineSettings:
        return LineSettings(self.baudrate, self.bytesize, self.parity, self.stopbits)


def _nonin(data_format: int) -> SerialProfile:
    # Section 1: 9600 8N1. Set-format within its window makes sure the oximeter sends the
    # format configured (it persists, so a device already in it just ACKs again).
    return SerialProfile(
        "pulse_oximeter",
        start=nonin.set_format_command(data_format),
        start_window_s=4.5,
        nak=bytes([nonin.NAK]),
        streaming=data_format != 13,
    )


# Section 2: V7.0 at 115200 8N1 wants A1 (start real-time) and AF every 5 s; the legacy
# stream runs at 19200 8O1 (4800 8N1 on some OEM modules) and starts on any byte, so the
# same start command serves both.
_CMS50_V7 = LineSettings(115200)
_CMS50_LEGACY = LineSettings(19200, parity="O")
_CMS50 = {
    "device_kind": "pulse_oximeter",
    "start": cms50.START_REALTIME,
    "keep_alive": cms50.KEEP_ALIVE,
    "keep_alive_s": 5.0,
    "streaming": True,
}

PROFILES: dict[str, SerialProfile] = {
    # Section 3: 9600 8N1, host request ESC R ESC E.
    "healthometer-esc": SerialProfile("scale", poll=REQUEST_READING, repeats=True),
    "nonin-df2": _nonin(2),
    "nonin-df7": _nonin(7),
    "nonin-df8": _nonin(8),
    "nonin-df13": _nonin(13),
    # Section 1: handhelds send 9 data bits with the 9th a mark bit, read as 8N1; they take
    # no commands.
    "nonin-ascii": SerialProfile("pulse_oximeter", streaming=True),
    "cms50": SerialProfile(
        **_CMS50, baudrate=115200, alternates=(_CMS50_LEGACY, LineSettings(4800))
    ),
    "cms50-v7": SerialProfile(**_CMS50, baudrate=_CMS50_V7.baudrate),
    "cms50-legacy": SerialProfile(
        **_CMS50, baudrate=19200, parity="O", alternates=(LineSettings(4800),)
    ),
    # Section 4: set on the indicator, commonly 9600 8N1; the weight request is <LF>W<CR>.
    "sma": SerialProfile("scale", poll=sma.REQUEST_WEIGHT, repeats=True),
    # Section 4: 7E1 indicators read fine as 8N1 (the parser ignores bit 7, the parity).
    "toledo-continuous": SerialProfile("scale", repeats=True),
    # Section 5: 9600 8N1, one line a second.
    "masimo-ascii": SerialProfile("pulse_oximeter", streaming=True),
    # Section 7: 9600 8N1; the TBF-310 family runs 2400 7E1 (set baudrate = 2400,
    # bytesize = 7, parity = "E" on the device entry). One line per weighing.
    "tanita-csv": SerialProfile("scale"),
    # Section 6, UNVERIFIED: the line settings are in the GE manual's appendix A, which we
    # could not read; 9600 8N1 is an assumption, override it per device. Poll the NIBP
    # result and then the pulse rate, as TK-BP does.
    "dinamap": SerialProfile("bp_monitor", poll=dinamap.READ_NIBP + dinamap.READ_PULSE),
}


def profile(protocol: str) -> SerialProfile:
    try:
        return PROFILES[protocol]
    except KeyError:
        raise KeyError(f"no serial line profile for protocol {protocol!r}") from None


# --- plug-in protocols bring their own line profile (drivers/plugins.py, PROFILES) ---------
def _add_plugin_profiles() -> None:
    from drivers.plugins import DRIVERS_GROUP, plugin_profiles, report_problem

    for name, (package, settings) in plugin_profiles().items():
        if name in PROFILES:
            report_problem(DRIVERS_GROUP, name, package, f"profile {name!r} is already defined")
            continue
        try:
            PROFILES[name] = SerialProfile(**settings)
        except TypeError as exc:
            report_problem(DRIVERS_GROUP, name, package, f"PROFILES[{name!r}]: {exc}")


_add_plugin_profiles()
