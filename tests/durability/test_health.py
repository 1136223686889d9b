"""The gateway's /metrics endpoint (Prometheus text format) and its configuration."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from device_gateway.config import ConfigError, parse_config
from tests.durability.harness import feed, gateway_settings, scrape
from tests.helpers import wait_until


def test_metrics_count_what_the_gateway_did(secure_broker, pki, gateways):
    gateway = gateways(secure_broker, pki, metrics_port=0)
    wait_until(lambda: gateway.publisher.connected)
    feed(gateway, gateway.config.devices[0], range(4))
    port = gateway.metrics.port
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    for name in ("measurements_decoded_total", "readings_published_total",
                 "readings_rejected_total", "outbox_depth", "reconnects_total"):
        assert f"# TYPE roomvitals_gateway_{name} " in text
    assert 'roomvitals_gateway_device_connected{device="scale-1"} 0' in text
    values = scrape(port)
    assert values["roomvitals_gateway_measurements_decoded_total"] == 4
    assert values["roomvitals_gateway_readings_queued_total"] == 4
    assert values["roomvitals_gateway_broker_connected"] == 1
    assert values["roomvitals_gateway_outbox_ok"] == 1
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/other", timeout=5)
    assert error.value.code == 404


def test_a_bad_metrics_port_is_a_config_error(secure_broker, pki, tmp_path):
    with pytest.raises(ConfigError, match="metrics_port"):
        parse_config(gateway_settings(tmp_path / "s", secure_broker, pki, metrics_port="x"))
