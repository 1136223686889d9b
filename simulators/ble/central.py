"""The bumble central behind the in-tree bleak backend: one per HCI transport per process.

``local`` is the in-process virtual radio of the tests (``use_local_link``); any other spec is a
bumble transport such as ``tcp-client:127.0.0.1:9100`` or ``unix-client:/run/roomvitals/ble.sock``
that leads to a virtual controller exported by ``roomvitals simulate --ble``.

bumble objects belong to the event loop they were made on, so a central is keyed by loop too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from bumble.device import Advertisement, Device
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport import open_transport
from bumble.transport.common import AsyncPipeSink

from simulators.ble.controller import FixedController

log = logging.getLogger(__name__)

LOCAL = "local"
CENTRAL_ADDRESS = "C0:FF:EE:00:00:01"

_local_link: LocalLink | None = None
_centrals: dict[tuple[int, str], Central] = {}


@dataclass
class Central:
    device: Device
    transport: object | None = None
    connect_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    listeners: set[Callable[[Advertisement], None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.device.on(Device.EVENT_ADVERTISEMENT, self._advertisement)

    def _advertisement(self, advertisement: Advertisement) -> None:
        for listener in list(self.listeners):
            listener(advertisement)

    async def add_listener(self, listener: Callable[[Advertisement], None]) -> None:
        self.listeners.add(listener)
        if not self.device.is_scanning:
            await self.device.start_scanning(filter_duplicates=False)

    async def remove_listener(self, listener: Callable[[Advertisement], None]) -> None:
        self.listeners.discard(listener)
        if not self.listeners and self.device.is_scanning:
            await self.device.stop_scanning()


def use_local_link(link: LocalLink | None) -> None:
    """Make ``local`` mean this in-process link (tests); None forgets it and its centrals."""
    global _local_link
    _local_link = link
    for key in [k for k in _centrals if k[1] == LOCAL]:
        del _centrals[key]


_creating: dict[tuple[int, str], asyncio.Lock] = {}


async def central_for(spec: str) -> Central:
    key = (id(asyncio.get_running_loop()), spec)
    # Several links ask at once; a server transport takes one host, so open it once.
    async with _creating.setdefault(key, asyncio.Lock()):
        central = _centrals.get(key)
        if central is None:
            central = await _open(spec)
            _centrals[key] = central
        return central


async def _open(spec: str) -> Central:
    address = Address(CENTRAL_ADDRESS, Address.RANDOM_DEVICE_ADDRESS)
    transport = None
    if spec == LOCAL:
        if _local_link is None:
            raise ConnectionError("bumble transport 'local' has no in-process radio attached")
        controller = FixedController("gateway", link=_local_link)
        device = Device(name="roomvitals-gateway", address=address,
                        host=Host(controller, AsyncPipeSink(controller)))
    else:
        transport = await open_transport(spec)
        device = Device.with_hci("roomvitals-gateway", address, transport.source, transport.sink)
        # The simulator process went away: the next use opens a fresh transport.
        transport.source.terminated.add_done_callback(lambda _: forget(spec))
    await device.power_on()
    return Central(device, transport)


def forget(spec: str) -> None:
    """Drop the central of ``spec`` (its transport closed); the next use opens a new one."""
    for key in [k for k in _centrals if k[1] == spec]:
        log.info("bumble central on %s closed", spec)
        del _centrals[key]
