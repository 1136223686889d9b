from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest

from device_gateway.config import GatewayConfig, parse_config
from device_gateway.gateway import Gateway
from simulators.serial.healthometer_esc import HealthOMeterScale, ScaleState
from simulators.serial.pty_port import PtyPort


@pytest.fixture
def scale(tmp_path) -> Iterator[HealthOMeterScale]:
    sim = HealthOMeterScale(PtyPort(tmp_path / "dev" / "scale"), ScaleState(weight=Decimal(0)))
    sim.start()
    yield sim
    sim.stop()


def gateway_config(tmp_path, port: int, scale_path, **device) -> GatewayConfig:
    return parse_config(
        {
            # a site of each test's own: retained status topics of other tests never mix in
            "site": "site-" + tmp_path.name[-40:],
            "gateway_id": "gw-test",
            "state_dir": str(tmp_path / "state"),
            "broker": {"url": f"mqtt://127.0.0.1:{port}"},
            "devices": [
                {
                    "id": "scale-1",
                    "room": "exam-1",
                    "protocol": "healthometer-esc",
                    "port": str(scale_path),
                    "model": "Health o meter 2101KL",
                    "serial": "HM123",
                    "poll_interval": 0.2,
                    **device,
                }
            ],
        }
    )


@pytest.fixture
def make_gateway(tmp_path) -> Iterator[Callable[..., Gateway]]:
    started: list[Gateway] = []

    def make(port: int, scale_path, **device) -> Gateway:
        gateway = Gateway(gateway_config(tmp_path, port, scale_path, **device))
        gateway.start()
        started.append(gateway)
        return gateway

    yield make
    for gateway in started:
        gateway.stop()
