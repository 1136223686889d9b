"""The gateway process: links in, outbox and MQTT out, status topics, counters."""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from device_gateway.config import DeviceConfig, GatewayConfig
from device_gateway.links import make_link
from device_gateway.metrics import MetricsServer, gateway_metrics
from device_gateway.observations import DEVICE_KIND, observations, verdict
from device_gateway.outbox import Outbox, OutboxError
from device_gateway.publisher import Publisher
from device_gateway.serial_profiles import profile
from device_gateway.weighing import WeighingMemory
from drivers.measurements import Measurement, Weight
from vitals import topics
from vitals.message import (
    DeviceInfo,
    LiveValues,
    MessageError,
    Observation,
    Reading,
    encode_live,
    encode_reading,
    format_time,
    new_reading_id,
    record_reading_id,
)

log = logging.getLogger(__name__)

VERSION = "0.1.0"
PIPELINE_DEPTH = 100
"""Measurements handed over by links and not yet turned into readings; a link that finds
the queue full waits (its device's bytes wait in the port's buffer meanwhile)."""


@dataclass
class Counters:
    decoded: int = 0
    queued: int = 0
    not_readings: int = 0
    rejected: int = 0
    outbox_errors: int = 0


@dataclass(frozen=True)
class _Handed:
    device: DeviceConfig
    measurement: Measurement
    clock_offset_s: float | None
    absent_reasons: dict[str, str] | None


@dataclass
class DeviceState:
    state: str = "disconnected"
    last_error: str = ""
    last_seen: datetime | None = None
    extra: dict = field(default_factory=dict)


class Gateway:
    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.counters = Counters()
        self.started = time.time()
        self.outbox = Outbox(config.state_dir / "outbox.sqlite3")
        self._zone = ZoneInfo(config.timezone) if config.timezone else None
        self._devices: dict[str, DeviceState] = {d.id: DeviceState() for d in config.devices}
        self._topics: dict[str, str] = {}  # device id -> its reading topic
        self._lock = threading.Lock()
        self._status_lock = threading.RLock()
        self._weighing_memory = WeighingMemory(config.state_dir / "weighings.json")
        self._weighings = {
            d.id: self._weighing_memory.tracker(d.id)
            for d in config.devices
            if d.transport == "serial" and profile(d.protocol).repeats  # polled or continuous
        }
        self.status_topic = topics.gateway_status_topic(config.site, config.gateway_id)
        self.publisher = Publisher(
            config.broker,
            client_id=f"roomvitals-gateway-{config.site}-{config.gateway_id}",
            outbox=self.outbox,
            will=(self.status_topic, json.dumps({"state": "offline"}).encode()),
            on_state=lambda connected, error: self._publish_gateway_status(),
        )
        self.links = [
            make_link(d, self.handle, self.live, self.device_status, self.device_detail)
            for d in config.devices
        ]
        self._heartbeat_stop = threading.Event()
        self._heartbeat = threading.Thread(target=self._beat, name="gateway-status", daemon=True)
        self.metrics: MetricsServer | None = None
        # One thread turns every link's measurements into readings. Links only read and
        # parse, then hand over: with each link thread doing the whole job, a burst from
        # many devices kept a dozen threads fighting for the GIL, and forced switches cost
        # more than the work (bench/gateway_throughput.py: 0.48 -> 0.6 of raw paho).
        self._measurements: queue.Queue[_Handed | None] = queue.Queue(PIPELINE_DEPTH)
        self._pipeline = threading.Thread(
            target=self._turn_into_readings, name="gateway-readings", daemon=True
        )
        self._pipeline.start()

    def start(self) -> None:
        self._publish_gateway_status()
        for device in self.config.devices:
            self._publish_device_status(device)
        self.publisher.start()
        for link in self.links:
            link.start()
        self._heartbeat.start()
        if self.config.metrics_port is not None:
            try:
                self.metrics = MetricsServer(
                    self.config.metrics_port, lambda: gateway_metrics(self)
                ).start()
            except OSError as exc:  # the readings matter more than the endpoint
                log.error("cannot serve /metrics on port %s: %s", self.config.metrics_port, exc)

    def stop(self) -> None:
        self._heartbeat_stop.set()
        if self.metrics is not None:
            self.metrics.stop()
        for link in self.links:
            link.stop()
        self._measurements.put(None)
        self._pipeline.join(timeout=10)
        self._weighing_memory.flush()
        self.publisher.stop(final=(self.status_topic, json.dumps({"state": "offline"}).encode()))
        self.outbox.close()

    # measurements ----------------------------------------------------------------------
    def handle(
        self,
        device: DeviceConfig,
        measurement: Measurement,
        *,
        clock_offset_s: float | None = None,
        absent_reasons: dict[str, str] | None = None,
    ) -> None:
        """A measurement from a link: filed in the outbox if it is a patient reading.

        A BLE link also passes the device clock's offset and why a value is absent (the FHIR
        data-absent-reason of an IEEE 11073 special value, ``drivers.ble.decode_detailed``).
        Handed to the readings thread; ``flush`` waits until it has been dealt with.
        """
        self._measurements.put(_Handed(device, measurement, clock_offset_s, absent_reasons))

    def flush(self) -> None:
        """Wait until every measurement handed over so far is in the outbox (committed, or
        held in memory when the outbox cannot be written) or was found not to be a reading."""
        self._measurements.join()
        self.outbox.flush()

    def _turn_into_readings(self) -> None:
        while True:
            handed = self._measurements.get()
            try:
                if handed is None:
                    return
                self._reading_of(handed)
            except Exception:  # one bad measurement must not stop every device's readings
                log.exception("device %s: measurement not handled", handed and handed.device.id)
            finally:
                self._measurements.task_done()

    def _reading_of(self, handed: _Handed) -> None:
        device, measurement = handed.device, handed.measurement
        clock_offset_s, absent_reasons = handed.clock_offset_s, handed.absent_reasons
        self.counters.decoded += 1
        received = datetime.now(UTC)
        with self._lock:
            self._devices[device.id].last_seen = received
        # Nonin, Masimo and PLX devices flag a low battery with their values: show it on the
        # device's status (the clinic board), whatever becomes of the measurement.
        self.device_detail(device, low_battery="low_battery" in measurement.flags)
        obs = observations(measurement, absent_reasons)
        judged = verdict(measurement, obs)
        tracker = self._weighings.get(device.id)
        repeat = (
            isinstance(measurement, Weight)
            and tracker is not None
            and not tracker.is_new(measurement, judged.is_reading)
        )
        if repeat and judged.is_reading:
            return  # the same weighing answered again
        if not judged.is_reading:
            self.counters.not_readings += 1
            log.debug("device %s: not a reading (%s)", device.id, judged.reason)
            if judged.device_error:
                self.device_status(device, "connected", judged.reason)
            return
        try:
            reading = self._reading(device, measurement, obs, received, clock_offset_s)
            payload = encode_reading(reading)
        except MessageError as exc:
            self.counters.rejected += 1
            log.error("device %s: measurement does not fit the contract: %s", device.id, exc)
            return
        topic = self._topics.get(device.id)
        if topic is None:
            topic = self._topics[device.id] = topics.reading_topic(
                self.config.site, device.room, device.id
            )
        # Not waiting for the disk: the link goes back to its device at once, and the
        # publisher sees the reading only once it is committed.
        self.outbox.submit(
            str(reading.id), topic, payload, lambda error, _: self._stored(device, error)
        )

    def _stored(self, device: DeviceConfig, error: OutboxError | None) -> None:
        """The outbox's writer: a reading of ``device`` is durable, or why not."""
        if error is not None:
            self.counters.outbox_errors += 1
            log.error("%s", error)
            self.device_status(device, "connected", str(error))
            return
        self.counters.queued += 1
        self.publisher.notify()

    def live(self, device: DeviceConfig, measurement: Measurement) -> None:
        """A streaming value (pleth, live SpO2, cuff pressure): QoS 0, never stored."""
        try:
            payload = encode_live(
                LiveValues(
                    device_id=device.id,
                    site=self.config.site,
                    room=device.room,
                    at=datetime.now(UTC),
                    observations=observations(measurement),
                    flags=measurement.flags,
                )
            )
        except MessageError as exc:
            self.counters.rejected += 1
            log.error("device %s: live value does not fit the contract: %s", device.id, exc)
            return
        self.publisher.publish_live(
            topics.live_topic(self.config.site, device.room, device.id), payload
        )

    def _reading(
        self,
        device: DeviceConfig,
        measurement: Measurement,
        obs: tuple[Observation, ...],
        received: datetime,
        clock_offset_s: float | None = None,
    ) -> Reading:
        device_time = getattr(measurement, "timestamp", None)
        if device_time is not None:
            zone = self._zone or datetime.now().astimezone().tzinfo
            measured = (
                device_time.replace(tzinfo=zone) if device_time.tzinfo is None else device_time
            )
            reading_id = record_reading_id(
                f"{self.config.site}/{device.id}/{device.serial}",
                device_time,
                tuple((o.kind, str(o.value)) for o in obs),
            )
            source = "device"
        else:
            measured, reading_id, source = received, new_reading_id(), "gateway"
        return Reading(
            id=reading_id,
            device=DeviceInfo(
                id=device.id,
                kind=DEVICE_KIND[type(measurement)],
                model=device.model,
                serial=device.serial,
                transport=device.transport,
                protocol=device.protocol,
                clock_offset_s=clock_offset_s,
            ),
            site=self.config.site,
            room=device.room,
            measured_at=measured,
            received_at=received,
            observations=obs,
            flags=measurement.flags,
            raw=measurement.raw.hex(),
            measured_at_source=source,
        )

    # status ----------------------------------------------------------------------------
    def device_status(self, device: DeviceConfig, state: str, error: str) -> None:
        with self._lock:
            current = self._devices[device.id]
            if (current.state, current.last_error) == (state, error):
                return  # the status topic says so already
            current.state = state
            current.last_error = error
        self._publish_device_status(device)
        self._publish_gateway_status()  # it lists every device's state too

    def device_detail(self, device: DeviceConfig, **fields: object) -> None:
        """What a link learned of a device (``battery`` percent, ``low_battery``): on the
        device's status topic when it changes."""
        with self._lock:
            extra = self._devices[device.id].extra
            changed = {k: v for k, v in fields.items() if extra.get(k) != v}
            if not changed:
                return
            extra.update(changed)
        self._publish_device_status(device)

    def _publish_device_status(self, device: DeviceConfig) -> None:
        with self._lock:
            current = self._devices[device.id]
            payload = {
                "state": current.state,
                "last_error": current.last_error,
                "last_seen": current.last_seen and format_time(current.last_seen),
                "protocol": device.protocol,
                "transport": device.transport,
                "port": device.port,
                "gateway_id": self.config.gateway_id,
                **current.extra,
            }
        self.publisher.publish_state(
            topics.device_status_topic(self.config.site, device.room, device.id), payload
        )

    def status(self) -> dict:
        with self._lock:
            devices = {k: v.state for k, v in self._devices.items()}
        return {
            "state": "online",
            "version": VERSION,
            "uptime_s": round(time.time() - self.started),
            "outbox_depth": self.outbox.depth(),
            "broker_connected": self.publisher.connected,
            "broker_error": self.publisher.last_error or self.publisher.denied_error,
            "outbox_error": self.outbox.problem,
            "devices": devices,
            "counters": self.counters.__dict__
            | {
                "published": self.publisher.published,
                "acked": self.publisher.acked,
                "reconnects": self.publisher.reconnects,
            },
        }

    def _publish_gateway_status(self) -> None:
        # Built and published under one lock: otherwise a status built earlier by another
        # thread could be published last and stay retained.
        with self._status_lock:
            self.publisher.publish_state(self.status_topic, self.status())

    def _beat(self) -> None:
        while not self._heartbeat_stop.wait(15):
            self._publish_gateway_status()
