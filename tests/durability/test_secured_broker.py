"""The shipped broker configuration: TLS, passwords and ACLs, and readable errors for each
way a connection can be wrong. Mosquitto runs from deploy/mosquitto/mosquitto.conf."""

from __future__ import annotations

import json

import paho.mqtt.client as mqtt

from dashboard.ingest import IngestWorker
from device_gateway.config import parse_config
from device_gateway.gateway import Gateway
from tests.durability.harness import (
    GATEWAY_USER,
    OTHER_USER,
    READER,
    SITE,
    broker_config,
    feed,
    filed_weights,
    gateway_settings,
    weight,
)
from tests.helpers import wait_until
from vitals import topics
from vitals.mqtt import connect_async, make_client


def test_a_reading_crosses_the_secured_broker_once(secure_broker, pki, gateways, engine):
    worker = IngestWorker(engine, broker_config(secure_broker, pki, READER), shared=True,
                          client_id="ingest-secure")
    worker.start()
    try:
        assert worker.connected.wait(10), worker.last_error
        gateway = gateways(secure_broker, pki)
        wait_until(lambda: gateway.publisher.connected)
        feed(gateway, gateway.config.devices[0], range(3))
        wait_until(lambda: len(filed_weights(engine)) == 3)
        assert filed_weights(engine) == [weight(i) for i in range(3)]
        assert gateway.status()["broker_error"] == ""
    finally:
        worker.stop()


def test_a_wrong_password_is_named_on_the_gateway_status(secure_broker, pki, gateways):
    gateway = gateways(secure_broker, pki, password="not-the-password")
    error = wait_until(lambda: gateway.status()["broker_error"])
    assert f"user '{GATEWAY_USER}'" in error and "wrong user name or password" in error
    assert "not-the-password" not in error
    assert not gateway.publisher.connected


def test_an_untrusted_broker_certificate_is_named(secure_broker, pki, gateways, tmp_path):
    # The gateway trusts another CA than the one that signed the broker's certificate.
    other = tmp_path / "other-ca"
    import subprocess

    from tests.durability.harness import DEPLOY
    subprocess.run([DEPLOY / "make-test-ca.sh", SITE, other], check=True, capture_output=True)
    settings = gateway_settings(tmp_path / "state-x", secure_broker, pki)
    settings["broker"]["ca_file"] = str(other / "ca.crt")
    gateway = Gateway(parse_config(settings))
    gateway.start()
    try:
        error = wait_until(lambda: gateway.status()["broker_error"])
        assert "certificate is not trusted" in error and "ca_file" in error
    finally:
        gateway.stop()


def test_a_gateway_may_not_publish_under_another_site(secure_broker, pki, gateways, tmp_path):
    # Credentials of site "other" used by a gateway configured for SITE: the ACL refuses.
    settings = gateway_settings(tmp_path / "state-y", secure_broker, pki, password="other-secret")
    settings["broker"]["username"] = OTHER_USER
    gateway = Gateway(parse_config(settings))
    gateway.start()
    try:
        wait_until(lambda: gateway.publisher.connected)
        feed(gateway, gateway.config.devices[0], range(1))
        error = wait_until(lambda: "reading" in gateway.status()["broker_error"]
                           and gateway.status()["broker_error"])
        assert "refused a reading on roomvitals/v1/clinic/reading/exam-1/scale-1" in error
        assert "Not authorized" in error and OTHER_USER in error
        # Refused is not delivered: the reading stays in the outbox for when the ACL is fixed.
        assert gateway.outbox.depth() == 1
        assert gateway.publisher.acked == 0
    finally:
        gateway.stop()


def test_the_dashboard_user_can_read_but_not_publish(secure_broker, pki):
    client = make_client(broker_config(secure_broker, pki, READER), "dashboard-probe")
    codes: list[int] = []
    client.on_publish = lambda c, u, mid, rc, p: codes.append(rc.value)
    connect_async(client, broker_config(secure_broker, pki, READER))
    client.loop_start()
    try:
        wait_until(client.is_connected)
        client.publish(topics.reading_topic(SITE, "exam-1", "scale-1"), b"{}", qos=1)
        client.publish(topics.gateway_status_topic(SITE, "gw-test"),
                       json.dumps({"state": "online"}).encode(), qos=1, retain=True)
        wait_until(lambda: len(codes) == 2)
        assert codes == [135, 135]  # Not authorized, both
    finally:
        client.disconnect()
        client.loop_stop()


def test_anonymous_and_wrong_password_ingest_get_a_readable_error(secure_broker, pki, engine):
    worker = IngestWorker(engine, broker_config(secure_broker, pki, READER, password="wrong"),
                          client_id="ingest-wrong")
    worker.start()
    try:
        error = wait_until(lambda: worker.last_error)
        assert f"user '{READER}'" in error and "wrong user name or password" in error
    finally:
        worker.stop()
    assert mqtt.MQTTv5  # the refusals above are MQTT 5 reason codes
