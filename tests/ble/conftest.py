"""BLE fixtures: simulated devices on an in-process virtual radio, the real gateway, Mosquitto.

The radio lives on the gateway's own BLE event loop (bumble objects belong to one loop), and
the gateway reaches it through bleak with ``backend = "bumble"``, ``bumble_transport =
"local"``: the same code path as a gateway talking to ``roomvitals simulate --ble``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from device_gateway.ble_link import ble_loop
from device_gateway.config import parse_config
from device_gateway.gateway import Gateway
from simulators.ble.radio import VirtualRadio
from tests.helpers import Collector
from vitals.message import decode_reading

FAST = {
    "backend": "bumble",
    "bumble_transport": "local",
    "scan_timeout": 1.0,
    "connect_timeout": 2.0,
    "reconnect_min_s": 0.2,
    "reconnect_max_s": 1.0,
    "racp_timeout": 5.0,
}


@pytest.fixture
def radio() -> Iterator[VirtualRadio]:
    radio = VirtualRadio(ble_loop())
    radio.call(radio.open())
    radio.attach_local()
    yield radio
    radio.call(radio.close())


@pytest.fixture
def ble_gateway(tmp_path) -> Iterator[Callable[..., Gateway]]:
    started: list[Gateway] = []

    def make(port: int, *devices: dict) -> Gateway:
        config = parse_config({
            "site": "site-" + tmp_path.name[-40:],
            "gateway_id": "gw-ble",
            "state_dir": str(tmp_path / "state"),
            "broker": {"url": f"mqtt://127.0.0.1:{port}"},
            "devices": [{"transport": "ble", "room": "exam-1", **FAST, **d} for d in devices],
        })
        gateway = Gateway(config)
        gateway.start()
        started.append(gateway)
        return gateway

    yield make
    for gateway in started:
        gateway.stop()


@pytest.fixture
def collector(mosquitto, tmp_path) -> Iterator[Collector]:
    # Only this test's site (see ble_gateway): the session broker keeps other tests'
    # retained status messages, which must not count as this test's.
    collected = Collector(mosquitto.port, f"roomvitals/v1/site-{tmp_path.name[-40:]}/#")
    yield collected
    collected.close()


def readings(collector: Collector, device_id: str | None = None):
    found = [decode_reading(m.payload) for m in collector.on("reading")]
    return [r for r in found if device_id is None or r.device.id == device_id]
