"""MQTT publishing from the outbox, at QoS 1, with retained status topics and a last will.

One drain thread moves rows from the outbox to paho, at most ``window`` unacknowledged at a
time (a window of about 100 measured best on this machine, see the benchmark issue), and
deletes a row only when the broker's PUBACK for it has arrived. paho re-sends its own
unacknowledged messages after a reconnect; after a restart of the gateway every row still
in the outbox is sent again, oldest first. The ingest files each reading id once, so a
message sent twice is never charted twice.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

from device_gateway.outbox import Outbox
from vitals.mqtt import BrokerConfig, connect_async, make_client, set_nodelay

log = logging.getLogger(__name__)


class Publisher:
    def __init__(
        self,
        broker: BrokerConfig,
        client_id: str,
        outbox: Outbox,
        *,
        will: tuple[str, bytes] | None = None,
        window: int = 100,
        on_state: Callable[[bool, str], None] | None = None,
    ) -> None:
        self.broker = broker
        self.outbox = outbox
        self.window = window
        self.connected = False
        self.last_error = ""
        self.published = 0
        self.acked = 0
        self.reconnects = 0
        self._on_state = on_state
        self._retained: dict[str, bytes] = {}
        self._retained_lock = threading.Lock()
        self._acks: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._inflight: dict[int, int] = {}
        self._unmatched: set[int] = set()
        self._status_mids: set[int] = set()
        self._status_lock = threading.Lock()
        self._last_seq = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._client = make_client(broker, client_id)
        if will is not None:
            self._client.will_set(will[0], will[1], qos=1, retain=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
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
            self.last_error = f"broker {self.broker.host}:{self.broker.port} refused: {reason_code}"
            log.error("%s", self.last_error)
            self._state_changed()
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

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        # Never take our own locks here: paho holds its message lock while calling this.
        self._acks.put(mid)
        self._wake.set()

    def _state_changed(self) -> None:
        if self._on_state is not None:
            self._on_state(self.connected, self.last_error)

    # drain thread ----------------------------------------------------------------------
    def _drain(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            try:
                self._collect_acks()
                if self.connected:
                    self._send_more()
                    self._collect_acks()
            except Exception:  # the drain must outlive any single failure; it is logged
                log.exception("outbox drain failed; retrying")
                self._stop.wait(1)

    def _send_more(self) -> None:
        room = self.window - len(self._inflight)
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
            self._inflight[info.mid] = row.seq
            self._last_seq = row.seq
            self.published += 1

    def _collect_acks(self) -> None:
        done: list[int] = []
        while True:
            try:
                self._unmatched.add(self._acks.get_nowait())
            except queue.Empty:
                break
        for mid in list(self._unmatched):
            seq = self._inflight.pop(mid, None)
            if seq is not None:
                self._unmatched.discard(mid)
                done.append(seq)
                continue
            with self._status_lock:
                if mid in self._status_mids:
                    self._status_mids.discard(mid)
                    self._unmatched.discard(mid)
        if done:
            self.outbox.remove(done)
            self.acked += len(done)
