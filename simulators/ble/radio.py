"""A virtual radio: one bumble ``LocalLink`` with simulated devices on it, on one event loop.

Two ways to reach it from a central:

* in-process (tests): ``attach_local()`` makes the bleak backend's ``local`` transport use this
  link, no sockets;
* from another process (``roomvitals simulate --ble``, the demo): ``export(spec)`` serves one
  more virtual controller on a bumble server transport (``tcp-server:127.0.0.1:PORT`` or
  ``unix-server:PATH``) for the gateway's bumble host, or ``vhci`` to hand that controller
  to the Linux kernel so BlueZ (and bleak's platform backend) sees the simulated devices.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import Coroutine
from typing import Any, TypeVar

from bumble.link import LocalLink
from bumble.transport import open_transport

from simulators.ble import central
from simulators.ble.controller import FixedController
from simulators.ble.devices import KINDS
from simulators.ble.peripheral import SimulatedPeripheral
from simulators.ble.scenarios import Scenario

T = TypeVar("T")


def address_for(index: int) -> str:
    """A static random address (top bits 11) per simulated device."""
    return f"C0:00:00:00:{index >> 8:02X}:{index & 0xFF:02X}"


class VirtualRadio:
    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """``loop``: the (running, other-thread) loop to live on; None = the current one."""
        self.loop = loop
        self.link: LocalLink | None = None
        self.devices: list[SimulatedPeripheral] = []
        self._exports: list[Any] = []

    # -- from another thread (tests) -------------------------------------------------------
    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run ``coro`` on the radio's loop from another thread and wait for its result."""
        assert self.loop is not None
        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    # -- on the loop -----------------------------------------------------------------------
    async def open(self) -> VirtualRadio:
        self.link = LocalLink()
        return self

    def attach_local(self) -> None:
        central.use_local_link(self.link)

    async def add(self, kind: str, scenario: Scenario | None = None, *, name: str | None = None,
                  address: str | None = None, serial: str | None = None) -> SimulatedPeripheral:
        assert self.link is not None, "open() the radio first"
        try:
            cls = KINDS[kind]
        except KeyError:
            known = ", ".join(KINDS)
            raise ValueError(f"unknown BLE device kind {kind!r}; one of {known}") from None
        index = len(self.devices) + 1
        device = cls(
            self.link, address or address_for(index), name or f"RV-{cls.model}-{index}",
            scenario, serial=serial or f"SIM{index:05d}",
        )
        await device.start()
        self.devices.append(device)
        return device

    async def export(self, spec: str) -> None:
        """Serve a virtual controller on this link over ``spec`` (one host at a time)."""
        transport = await open_transport(spec)
        FixedController("export", host_source=transport.source, host_sink=transport.sink,
                        link=self.link)
        self._exports.append(transport)

    async def close(self) -> None:
        for device in self.devices:
            with contextlib.suppress(Exception):  # a device already off: nothing to stop
                await device.stop()
        self.devices.clear()
        for transport in self._exports:
            await transport.close()
        self._exports.clear()
        if central._local_link is self.link:
            central.use_local_link(None)
