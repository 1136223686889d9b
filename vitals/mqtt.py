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
    cert_file: str | None = None
    """A client certificate (PEM) for brokers that ask for one; ``key_file`` its key."""
    key_file: str | None = None
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
        # TLS files may ride on the URL (mqtts://host:8883?ca_file=/etc/roomvitals/ca.crt), so
        # a command that takes only --broker can use a private CA.
        for name in ("ca_file", "cert_file", "key_file"):
            if name in query and name not in extra:
                extra[name] = query[name]
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


READ_AHEAD = 65536
"""Bytes asked of the socket at a time by ``ReadAheadClient``."""


class ReadAheadClient(mqtt.Client):
    """paho's client, reading the socket in large chunks instead of packet piece by piece.

    paho 2.2 asks the socket for a packet's first byte, then each byte of its length, then
    the rest: four ``recv`` calls per reading message, each one a system call that lets go of
    the interpreter lock and waits to get it back from the filing thread; and, with nothing
    of its own in flight, it reads one packet per ``select``. The ingest worker's MQTT thread
    spent more CPU per reading than filing the reading into PostgreSQL did (bench/ingest.py).
    Here a ``recv`` takes up to ``READ_AHEAD`` bytes, paho's reads are served from them, and
    ``loop_read`` goes on while whole packets wait in them (``select`` cannot see those).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._ahead = b""
        self._ahead_at = 0
        self._ahead_of: object = None

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._ahead_of is not self._sock:
            # A new connection: bytes read ahead on the old one are not part of its stream.
            self._ahead, self._ahead_at, self._ahead_of = b"", 0, self._sock
        if self._ahead_at >= len(self._ahead):
            data = super()._sock_recv(max(bufsize, READ_AHEAD))
            if len(data) <= bufsize:
                return data  # all of it asked for, or b"" at the end of the stream
            self._ahead, self._ahead_at = data, 0
        start = self._ahead_at
        self._ahead_at = min(start + bufsize, len(self._ahead))
        return self._ahead[start : self._ahead_at]

    def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
        rc = super().loop_read(max_packets)
        while (
            rc == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
            and self._sock is not None
            and self._ahead_of is self._sock
            and self._ahead_at < len(self._ahead)
        ):
            rc = super().loop_read(1)
        return rc


def make_client(broker: BrokerConfig, client_id: str, *, manual_ack: bool = False) -> mqtt.Client:
    """A paho client set up from the broker config (TLS, credentials, backoff).

    The session is persistent (MQTT 5: clean_start off with a day's expiry; 3.1.1:
    clean_session off), so QoS 1 messages wait at the broker while a client is away.
    """
    if broker.mqtt_version == 5:
        client = ReadAheadClient(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=manual_ack,
        )
    else:
        client = ReadAheadClient(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            clean_session=False,
            manual_ack=manual_ack,
        )
    if broker.username is not None:
        client.username_pw_set(broker.username, broker.password)
    if broker.tls:
        client.tls_set_context(ssl_context(broker))
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    return client


def ssl_context(broker: BrokerConfig) -> ssl.SSLContext:
    """The TLS context: the broker's certificate checked against ``ca_file`` (else the
    system's CAs) and its host name; the client certificate if one is configured."""
    try:
        context = ssl.create_default_context(cafile=broker.ca_file)
        if broker.cert_file:
            context.load_cert_chain(broker.cert_file, broker.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise BrokerConfigError(f"broker TLS files: {exc}") from None
    return context


# --- readable connection errors (shared by the gateway and the ingest) --------------------
# Mosquitto 2.0 answers a wrong password with CONNACK "Not authorized" (135), not "Bad user
# name or password" (134), so both get the same advice.
_REFUSALS = {
    134: "wrong user name or password",
    135: "not authorized: wrong user name or password, or the user may not connect",
    136: "broker unavailable",
    138: "client banned",
    140: "bad authentication method",
}


def explain_refusal(broker: BrokerConfig, reason_code: object) -> str:
    """A CONNACK refusal as one specific sentence (the user, never the password)."""
    value = getattr(reason_code, "value", reason_code)
    why = _REFUSALS.get(value, str(reason_code))  # type: ignore[arg-type]
    user = f"user {broker.username!r}" if broker.username else "no user name"
    return f"broker {broker.url} refused the connection ({user}): {why}"


def explain_unreachable(broker: BrokerConfig, timeout: float = 5.0) -> str:
    """Why a connection attempt failed before any MQTT answer: probe the network and TLS.

    paho reports only that connecting failed; this repeats the TCP connect and the TLS
    handshake with the same settings to name the cause (refused, unknown host, untrusted
    certificate, wrong host name in the certificate).
    """
    where = f"broker {broker.url}"
    try:
        sock = socket.create_connection((broker.host, broker.port), timeout=timeout)
    except socket.gaierror as exc:
        return f"{where}: unknown host ({exc.strerror})"
    except OSError as exc:
        return f"{where}: cannot connect ({exc.strerror or exc})"
    with sock:
        if not broker.tls:
            return f"{where}: the connection opened but the MQTT handshake failed"
        try:
            context = ssl_context(broker)
        except BrokerConfigError as exc:
            return f"{where}: {exc}"
        try:
            with context.wrap_socket(sock, server_hostname=broker.host):
                return f"{where}: TLS works; the MQTT handshake failed"
        except ssl.SSLCertVerificationError as exc:
            return (
                f"{where}: the broker's TLS certificate is not trusted "
                f"({exc.verify_message}); check broker.ca_file "
                f"({broker.ca_file or 'system CAs'}) and the broker's host name"
            )
        except (ssl.SSLError, OSError) as exc:
            return f"{where}: TLS handshake failed ({exc})"


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
