"""``roomvitals ingest``: subscribe to the broker and file every reading once.

A persistent MQTT 5 session (clean_start off, a day's session expiry) keeps the broker
queueing readings while the ingest is down. A message is acknowledged only after its
transaction committed (paho manual acks), so a crash between receipt and commit means
the broker delivers it again, and the unique reading id keeps that from filing twice.
With ``shared=True`` several workers split the readings on the shared subscription
``$share/ingest/...`` (DESIGN.md, "Beyond one machine").
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time

import paho.mqtt.client as mqtt
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from dashboard.filing import Filer
from vitals import topics
from vitals.mqtt import BrokerConfig, connect_async, make_client, set_nodelay

log = logging.getLogger(__name__)

DB_RETRIES = 5


class IngestWorker:
    def __init__(
        self,
        engine: Engine,
        broker: BrokerConfig,
        *,
        shared: bool = False,
        client_id: str | None = None,
    ) -> None:
        self.filer = Filer(engine)
        self.broker = broker
        self.shared = shared
        self.connected = threading.Event()
        self.last_error = ""
        self.db_failures = 0
        client_id = client_id or f"roomvitals-ingest-{socket.gethostname()}-{os.getpid()}"
        self._client = make_client(broker, client_id, manual_ack=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message

    @property
    def counters(self):
        return self.filer.counters

    def start(self) -> None:
        connect_async(self._client, self.broker)
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.last_error = f"broker {self.broker.host}:{self.broker.port} refused: {reason_code}"
            log.error("%s", self.last_error)
            return
        set_nodelay(client)
        readings = topics.SHARED_INGEST_FILTER if self.shared else topics.READING_FILTER
        client.subscribe([(readings, 1), (topics.DEVICE_STATUS_FILTER, 1)])
        self.last_error = ""
        self.connected.set()
        log.info(
            "ingest connected to %s:%s, subscribed to %s",
            self.broker.host,
            self.broker.port,
            readings,
        )

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        log.warning("ingest disconnected from broker: %s", reason_code)

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        for attempt in range(DB_RETRIES):
            try:
                outcome = self.filer.file_message(message.topic, message.payload)
            except (OperationalError, DBAPIError) as exc:
                self.db_failures += 1
                self.last_error = f"database: {exc.__class__.__name__}"
                log.error(
                    "database unavailable while filing (attempt %d): %s",
                    attempt + 1,
                    exc.__class__.__name__,
                )
                time.sleep(min(2**attempt * 0.2, 5))
                continue
            if outcome.status == "filed":
                log.debug("filed reading %s", outcome.reading_id)
            client.ack(message.mid, message.qos)
            return
        # Not acknowledged: the broker sends the message again after we reconnect.
        log.error("giving up on a message after %d database failures; reconnecting", DB_RETRIES)
        sock = client.socket()
        if sock is not None:
            # Drop the connection as a network fault would: paho reconnects on its own and the
            # broker re-delivers every unacknowledged message of the persistent session.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
