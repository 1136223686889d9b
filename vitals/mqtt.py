"""How every RoomVitals process connects to the broker: URL, TLS, credentials, MQTT 5 session.

Gateway and dashboard both use this module, so a broker set-up (TLS, passwords, a
clustered broker's address) is configured the same way everywhere.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties


class BrokerConfigError(ValueError):
    """A broker URL or setting that cannot work; the text says which."""


@dataclass(frozen=True)
class BrokerConfig:
    host: str = "127.0.0.1"
    port: int = 1883
    tls: bool = False
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    keepalive: int = 30
    mqtt_version: int = 5
    """5, or 3 for MQTT 3.1.1 brokers (shared subscriptions need 5)."""

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    @classmethod
    def from_url(cls, url: str, **extra: object) -> BrokerConfig:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise BrokerConfigError(f"broker.url {url!r}: scheme must be mqtt:// or mqtts://")
        if not parts.hostname:
            raise BrokerConfigError(f"broker.url {url!r} names no host")
        tls = parts.scheme == "mqtts"
        query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
        version = query.get("version", "5")
        if version not in ("5", "3.1.1"):
            raise BrokerConfigError(f"broker.url {url!r}: version must be 5 or 3.1.1")
        return cls(
            mqtt_version=5 if version == "5" else 3,
            host=parts.hostname,
            port=parts.port or (8883 if tls else 1883),
            tls=tls,
            username=parts.username,
            password=parts.password,
            **extra,  # type: ignore[arg-type]
        )


SESSION_EXPIRY_S = 24 * 3600


def make_client(broker: BrokerConfig, client_id: str, *, manual_ack: bool = False) -> mqtt.Client:
    """A paho client set up from the broker config (TLS, credentials, backoff).

    The session is persistent (MQTT 5: clean_start off with a day's expiry; 3.1.1:
    clean_session off), so QoS 1 messages wait at the broker while a client is away.
    """
    if broker.mqtt_version == 5:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=manual_ack,
        )
    else:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            clean_session=False,
            manual_ack=manual_ack,
        )
    if broker.username is not None:
        client.username_pw_set(broker.username, broker.password)
    if broker.tls:
        context = ssl.create_default_context(cafile=broker.ca_file)
        client.tls_set_context(context)
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    return client


def connect_async(client: mqtt.Client, broker: BrokerConfig) -> None:
    """Start connecting (paho's loop thread retries with backoff until it succeeds)."""
    if broker.mqtt_version == 5:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        client.connect_async(
            broker.host, broker.port, broker.keepalive, clean_start=False, properties=props
        )
    else:
        client.connect_async(broker.host, broker.port, broker.keepalive)


def set_nodelay(client: mqtt.Client) -> None:
    # Nagle's algorithm added 12-40 ms tails on loopback in our measurements.
    sock = client.socket()
    if sock is not None and hasattr(sock, "setsockopt"):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
