"""MQTT publishing from the outbox, at QoS 1, with retained status topics and a last will.

One drain thread moves rows from the outbox to paho, up to ``queue_ahead`` unacknowledged
rows, and deletes a row only when the broker's PUBACK for it has arrived. paho keeps at most
``window`` of them in flight at the broker (about 100 measured best on this machine, see the
benchmark issue; paho's own default is 20) and sends the next one from its network thread as
each PUBACK comes in, so under load the drain wakes once per batch of PUBACKs, not once per
reading (bench/gateway_throughput.py: each wake of a thread costs more than the work). paho
re-sends its own unacknowledged messages after a reconnect; after a restart of the gateway
every row still in the outbox is sent again, oldest first. The ingest files each reading id
once, so a message sent twice is never charted twice.

A PUBACK that refuses the message (MQTT 5 reason code 0x80 or above, e.g. "Not authorized"
when the broker's ACL does not let this gateway publish there) deletes nothing: the row
stays, ``last_error`` says which topic was refused, and the row is sent again every
``DENIED_RETRY_S`` seconds, so fixing the ACL (and reloading the broker) lets it through.
With MQTT 3.1.1 a broker acknowledges a refused publish like any other; use MQTT 5.

A PUBACK saying "No matching subscribers" (0x10) deletes nothing either: nobody received the
reading, so it is sent again after ``NO_SUBSCRIBER_RETRY_S``. This happens when no ingest is
subscribed, and after a Mosquitto 2.0 restart, which restores persistent sessions but not
their shared subscriptions (``$share/ingest/...``) until each worker subscribes again
(measured with 2.0.11, tests/durability): without this rule the readings published in that
gap would be acknowledged and dropped.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

from device_gateway.outbox import Outbox
from vitals.mqtt import (
    BrokerConfig,
    connect_async,
    explain_refusal,
    explain_unreachable,
    make_client,
    set_nodelay,
)

log = logging.getLogger(__name__)

DENIED_RETRY_S = 30.0
NO_SUBSCRIBER_RETRY_S = 3.0
NO_MATCHING_SUBSCRIBERS = 0x10
ACK_BATCH = 50
"""PUBACKs that wake the drain together (fewer when fewer are outstanding: an idle gateway
deletes each acknowledged row at once)."""


class Publisher:
    def __init__(
        self,
        broker: BrokerConfig,
        client_id: str,
        outbox: Outbox,
        *,
        will: tuple[str, bytes] | None = None,
        window: int = 100,
        queue_ahead: int = 1000,
        on_state: Callable[[bool, str], None] | None = None,
    ) -> None:
        self.broker = broker
        self.outbox = outbox
        self.window = window
        self.queue_ahead = max(queue_ahead, window)
        self.connected = False
        self.last_error = ""
        self.published = 0
        self.acked = 0
        self.reconnects = 0
        self.denied = 0
        self.denied_error = ""
        """Why the broker last refused a reading ("" once a refused one got through)."""
        self._denied: dict[int, float] = {}  # seq -> when to send it again
        self._outbox_problem = outbox.problem
        self._on_state = on_state
        self._retained: dict[str, bytes] = {}
        self._retained_lock = threading.Lock()
        self._acks: queue.SimpleQueue[tuple[int, int]] = queue.SimpleQueue()
        self._inflight: dict[int, tuple[int, str]] = {}  # mid -> (seq, topic)
        self._unmatched: dict[int, int] = {}  # mid -> PUBACK reason code
        self._status_mids: set[int] = set()
        self._status_lock = threading.Lock()
        self._last_seq = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._client = make_client(broker, client_id)
        self._client.max_inflight_messages_set(window)
        if will is not None:
            self._client.will_set(will[0], will[1], qos=1, retain=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._client.on_connect_fail = self._on_connect_fail
        self._thread = threading.Thread(target=self._drain, name="outbox-drain", daemon=True)

    # lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        connect_async(self._client, self.broker)
        self._client.loop_start()
        self._thread.start()

    def stop(self, final: tuple[str, bytes] | None = None) -> None:
        """Stop; ``final`` is a last retained status to send first (a clean shutdown)."""
        if final is not None and self.connected:
            info = self._client.publish(final[0], final[1], qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout=2)
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._client.disconnect()
        self._client.loop_stop()

    def notify(self) -> None:
        """New rows are in the outbox."""
        self._wake.set()

    def publish_state(self, topic: str, payload: dict[str, Any] | bytes) -> None:
        """A retained status: kept, sent now if connected, and sent again on every reconnect."""
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        with self._retained_lock:
            self._retained[topic] = data
        if self.connected:
            self._publish_status(topic, data)

    def _publish_status(self, topic: str, data: bytes) -> None:
        info = self._client.publish(topic, data, qos=1, retain=True)
        # Remember the mid so its PUBACK is never mistaken for an outbox row's.
        with self._status_lock:
            self._status_mids.add(info.mid)

    def publish_live(self, topic: str, payload: bytes) -> None:
        """A streaming value (QoS 0): only worth anything now, so never queued."""
        if self.connected:
            self._client.publish(topic, payload, qos=0)

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    # paho callbacks (paho's network thread) --------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._set_error(explain_refusal(self.broker, reason_code))
            return
        set_nodelay(client)
        self.connected = True
        self.last_error = ""
        log.info("connected to broker %s:%s", self.broker.host, self.broker.port)
        with self._retained_lock:
            retained = list(self._retained.items())
        for topic, data in retained:
            self._publish_status(topic, data)
        self._state_changed()
        self._wake.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        was = self.connected
        self.connected = False
        if was:
            self.reconnects += 1
            self.last_error = f"disconnected from broker: {reason_code}"
            log.warning("%s", self.last_error)
            self._state_changed()

    def _on_connect_fail(self, client, userdata) -> None:
        # paho does not say why; probing names the cause (refused, untrusted certificate...).
        self._set_error(explain_unreachable(self.broker))

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        # Never take our own locks here: paho holds its message lock while calling this.
        self._acks.put((mid, getattr(reason_code, "value", 0)))
        if self._acks.qsize() >= min(ACK_BATCH, len(self._inflight)):
            self._wake.set()

    def _set_error(self, error: str) -> None:
        if error != self.last_error:
            log.error("%s", error)
            self.last_error = error
            self._state_changed()

    def _state_changed(self) -> None:
        if self._on_state is not None:
            self._on_state(self.connected, self.last_error)

    # drain thread ----------------------------------------------------------------------
    def _drain(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            try:
                self._watch_outbox()
                self._collect_acks()
                self._retry_denied()
                if self.connected:
                    self._send_more()
                    self._collect_acks()
            except Exception:  # the drain must outlive any single failure; it is logged
                log.exception("outbox drain failed; retrying")
                self._stop.wait(1)

    def _send_more(self) -> None:
        room = self.queue_ahead - len(self._inflight)
        if room <= 0:
            return
        for row in self.outbox.after(self._last_seq, room):
            info = self._client.publish(row.topic, row.payload, qos=1)
            if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
                log.warning(
                    "publish of outbox row %d failed: %s", row.seq, mqtt.error_string(info.rc)
                )
                break
            # NO_CONN: paho keeps QoS 1 messages queued and sends them after reconnecting.
            self._inflight[info.mid] = (row.seq, row.topic)
            self._last_seq = row.seq
            self.published += 1

    def _watch_outbox(self) -> None:
        problem = self.outbox.problem
        if problem != self._outbox_problem:
            self._outbox_problem = problem
            self._state_changed()  # the gateway status carries the outbox's error

    def _retry_denied(self) -> None:
        """Send refused rows again (from the oldest) once they have waited long enough."""
        if not self._denied:
            return
        now = time.monotonic()
        due = [seq for seq, when in self._denied.items() if now >= when]
        if due:
            for seq in due:
                del self._denied[seq]
            self._last_seq = min(self._last_seq, min(due) - 1)

    def _collect_acks(self) -> None:
        done: list[int] = []
        while True:
            try:
                mid, code = self._acks.get_nowait()
            except queue.Empty:
                break
            # A PUBACK can come before publish() has returned its mid: match it later then.
            self._unmatched[mid] = code
        for mid, code in list(self._unmatched.items()):
            sent = self._inflight.pop(mid, None)
            if sent is None:
                with self._status_lock:
                    if mid not in self._status_mids:
                        continue  # not registered yet
                    self._status_mids.discard(mid)
            del self._unmatched[mid]
            if code >= 0x80 or code == NO_MATCHING_SUBSCRIBERS:
                self._refused(sent, code)
            elif sent is not None:
                done.append(sent[0])
        if done:
            self.outbox.remove(done)
            self.acked += len(done)
            if self.denied_error and not self._denied:
                self.denied_error = ""
                self._state_changed()

    def _refused(self, sent: tuple[int, str] | None, code: int) -> None:
        """A PUBACK that did not deliver: refused (0x80+) or nobody subscribed (0x10).
        ``sent`` is the outbox row's (seq, topic), None for a retained status."""
        nobody = code == NO_MATCHING_SUBSCRIBERS
        if sent is None:
            if nobody or self._denied:
                return  # a retained status is kept all the same; a refused reading is news
            topic = "a status topic"
        else:
            wait = NO_SUBSCRIBER_RETRY_S if nobody else DENIED_RETRY_S
            self._denied[sent[0]] = time.monotonic() + wait
            topic = sent[1]
        if nobody:
            error = (
                f"no subscriber for {topic} at the broker (is the ingest running and "
                "subscribed?); readings wait in the outbox and are sent again"
            )
        else:
            self.denied += 1
            reason = mqtt.ReasonCode(mqtt.PacketTypes.PUBACK, identifier=code)
            user = f"user {self.broker.username!r}" if self.broker.username else "anonymous"
            error = (
                f"broker refused a reading on {topic}: {reason} ({user}; the broker's ACL "
                "must allow this gateway to publish under its site); kept in the outbox, "
                f"retried every {DENIED_RETRY_S:.0f} s"
                if sent is not None
                else f"broker refused a status message: {reason} ({user}; check the broker's ACL)"
            )
        if error != self.denied_error:
            log.log(logging.WARNING if nobody else logging.ERROR, "%s", error)
            self.denied_error = error
            self._state_changed()
