"""Fixtures for the fault-injection tests: Mosquitto started from the shipped production
configuration (deploy/mosquitto/mosquitto.conf: TLS, password file, ACLs), with a test CA
and users made by the shipped scripts (deploy/make-test-ca.sh, deploy/mosquitto/add-client.sh).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from roomvitals.broker import Mosquitto
from tests.durability.harness import make_pki, production_broker


@pytest.fixture(scope="session")
def pki() -> Iterator[Path]:
    """The broker's configuration directory: CA, server key, passwd, acl."""
    # Not under pytest's tmp_path: a root-started Mosquitto runs as "mosquitto" and must be
    # able to reach it.
    conf = Path(tempfile.mkdtemp(prefix="roomvitals-broker-conf-"))
    os.chmod(conf, 0o755)
    try:
        yield make_pki(conf)
    except RuntimeError as exc:
        pytest.fail(str(exc))
    finally:
        shutil.rmtree(conf, ignore_errors=True)


@pytest.fixture
def secure_broker(pki) -> Iterator[Mosquitto]:
    """A broker of this test's own, from the production config; tests may stop it."""
    broker = production_broker(pki).start()
    yield broker
    broker.cleanup()


@pytest.fixture
def gateways(tmp_path):
    """In-process gateways against a broker of the production config; stopped at the end."""
    from device_gateway.config import parse_config
    from device_gateway.gateway import Gateway
    from tests.durability.harness import gateway_settings

    started: list[Gateway] = []

    def make(broker: Mosquitto, pki: Path, **settings) -> Gateway:
        gateway = Gateway(parse_config(gateway_settings(
            tmp_path / f"gateway-{len(started)}", broker, pki, **settings)))
        gateway.start()
        started.append(gateway)
        return gateway

    yield make
    for gateway in started:
        gateway.stop()


@pytest.fixture
def ingests(engine):
    """In-process ingest workers (user roomvitals-dashboard); stopped at the end."""
    from dashboard.ingest import IngestWorker
    from tests.durability.harness import READER, broker_config

    started: list[IngestWorker] = []

    def make(broker: Mosquitto, pki: Path, client_id: str, *, shared: bool = True,
             wait: bool = True) -> IngestWorker:
        worker = IngestWorker(engine, broker_config(broker, pki, READER), shared=shared,
                              client_id=client_id)
        worker.start()
        started.append(worker)
        if wait:
            assert worker.connected.wait(15), worker.last_error
        return worker

    yield make
    for worker in started:
        worker.stop()
