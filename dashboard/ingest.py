"""``roomvitals ingest``: subscribe to the broker and file every reading once.

A persistent MQTT 5 session (clean_start off, a day's session expiry) keeps the broker
queueing readings while the ingest is down. A message is acknowledged only after its
transaction committed (paho manual acks), so a crash between receipt and commit means
the broker delivers it again, and the unique reading id keeps that from filing twice.
Messages are filed in batches: whatever arrived while the previous batch was being filed goes
in one transaction (``Filer.file_messages``), so a busy worker pays one commit per batch, not
per reading, and an idle one files each message at once (bench/ingest.py measures it).
With ``shared=True`` several workers split the readings on the shared subscription
``$share/ingest/...`` (DESIGN.md, "Beyond one machine").

The client id must stay the same across restarts, or a restarted worker starts a new
session and the messages the broker kept for the old one (queued, and delivered but not yet
acknowledged) wait there until the session expires and are then dropped. The id is
``ROOMVITALS_INGEST_ID`` when set, else ``roomvitals-ingest-<host>``; run several workers
on one host with different ``ROOMVITALS_INGEST_ID`` values (the systemd template unit
``roomvitals-ingest@.service`` does so).

Shared subscriptions on Mosquitto 2.0 (checked against 2.0.11, tests/durability): the
broker deals messages round-robin over every member of the group, connected or not. A
worker whose persistent session is disconnected keeps getting its share queued, and
receives it when it reconnects with the same id (nothing lost, but half the readings wait
while one of two workers is down); if its session expired meanwhile, that share is gone.
Keep workers restarting promptly (systemd ``Restart=always``), and stop a worker for good
only after it has drained. With a session expiry of 0 the broker would hand everything to
the remaining workers instead, but would drop the messages a killed worker had received
and not yet acknowledged, so RoomVitals keeps persistent sessions.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import socket
import threading
import time

import paho.mqtt.client as mqtt
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from dashboard.filing import Filer
from vitals import topics
from vitals.mqtt import (
    BrokerConfig,
    connect_async,
    explain_refusal,
    explain_unreachable,
    make_client,
    set_nodelay,
)

log = logging.getLogger(__name__)

DB_RETRIES = 5
BATCH_MAX = 500
"""Messages filed in one transaction at most (the broker's in-flight window bounds it too)."""
SESSION_TAKEN_OVER = 142  # MQTT 5 DISCONNECT reason: another client connected with our id


def default_client_id() -> str:
    """Stable across restarts, so a restarted worker resumes its broker session."""
    return os.environ.get("ROOMVITALS_INGEST_ID") or f"roomvitals-ingest-{socket.gethostname()}"


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
        self._filters: list[str] = []
        self.client_id = client_id or default_client_id()
        self._client = make_client(broker, self.client_id, manual_ack=True)
        self._client.on_connect = self._on_connect
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_disconnect = self._on_disconnect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self.batches = 0
        self._generation = 0
        self._queue: queue.SimpleQueue[tuple[int, mqtt.MQTTMessage] | None] = queue.SimpleQueue()
        self._filing = threading.Thread(target=self._file_loop, name="ingest-filing", daemon=True)

    @property
    def counters(self):
        return self.filer.counters

    def start(self) -> None:
        self._filing.start()
        connect_async(self._client, self.broker)
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        if self._filing.is_alive():
            self._queue.put(None)
            self._filing.join(timeout=30)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._error(explain_refusal(self.broker, reason_code))
            return
        set_nodelay(client)
        readings = topics.SHARED_INGEST_FILTER if self.shared else topics.READING_FILTER
        self._filters = [readings, topics.DEVICE_STATUS_FILTER]
        client.subscribe([(f, 1) for f in self._filters])
        self.last_error = ""
        self.connected.set()
        log.info(
            "ingest connected to %s:%s, subscribed to %s",
            self.broker.host,
            self.broker.port,
            readings,
        )

    def _on_connect_fail(self, client, userdata) -> None:
        # paho does not say why; probing names the cause (refused, untrusted certificate...).
        self._error(explain_unreachable(self.broker))

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        for topic_filter, code in zip(self._filters, reason_codes, strict=False):
            if code.is_failure:
                user = self.broker.username or "anonymous"
                self._error(
                    f"broker refused the subscription to {topic_filter}: {code} (user "
                    f"{user!r}; the broker's ACL must let the dashboard read it)"
                )

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        self._generation += 1  # what is still queued will be delivered again
        if getattr(reason_code, "value", None) == SESSION_TAKEN_OVER:
            self._error(
                f"another client connected with this worker's id {self.client_id!r} and took "
                "its session over; give each ingest worker its own ROOMVITALS_INGEST_ID"
            )
        else:
            log.warning("ingest disconnected from broker: %s", reason_code)

    def _error(self, error: str) -> None:
        if error != self.last_error:
            log.error("%s", error)
        self.last_error = error

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        # Only queued here: the filing thread files what has arrived in one transaction and
        # acknowledges each message after the commit, in the order they came.
        self._queue.put((self._generation, message))

    def _file_loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            # Everything that arrived while the last batch was being filed goes in this one:
            # no waiting when idle (no added latency), big batches under load.
            while len(batch) < BATCH_MAX:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                batch.append(more)
            # Messages of an earlier connection are not ours to acknowledge any more: the
            # broker delivers them again on the new one (persistent session).
            current = [m for generation, m in batch if generation == self._generation]
            if current:
                self._file_batch(current)

    def _file_batch(self, messages: list[mqtt.MQTTMessage]) -> None:
        for attempt in range(DB_RETRIES):
            try:
                outcomes = self.filer.file_messages([(m.topic, m.payload) for m in messages])
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
            self.batches += 1
            for message, outcome in zip(messages, outcomes, strict=True):
                if outcome.status == "filed":
                    log.debug("filed reading %s", outcome.reading_id)
                self._client.ack(message.mid, message.qos)
            return
        # Not acknowledged: the broker sends the messages again after we reconnect.
        log.error("giving up on a message after %d database failures; reconnecting", DB_RETRIES)
        sock = self._client.socket()
        if sock is not None:
            # Drop the connection as a network fault would: paho reconnects on its own and the
            # broker re-delivers every unacknowledged message of the persistent session.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
