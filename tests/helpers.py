"""Test helpers: an MQTT subscriber that collects messages, polling with a deadline, and a
patient in an open encounter."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 15.0, interval: float = 0.05) -> T:
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {predicate}")
        time.sleep(interval)


class Collector:
    """Subscribes to ``topic_filter`` on a broker and keeps every message it receives."""

    def __init__(self, port: int, topic_filter: str = "roomvitals/#") -> None:
        self.topic_filter = topic_filter
        self.messages: list[mqtt.MQTTMessage] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_connect = lambda c, *_: c.subscribe(topic_filter, qos=1)
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise AssertionError("collector could not subscribe")

    def _on_message(self, client, userdata, message) -> None:
        with self._lock:
            self.messages.append(message)

    def on(self, kind: str) -> list[mqtt.MQTTMessage]:
        with self._lock:
            return [m for m in self.messages if f"/{kind}/" in m.topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def publish(port: int, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


class Browser:
    """A cookie-keeping HTTP client for server-rendered pages: log in, GET, POST with CSRF."""

    def __init__(self, base: str) -> None:
        import http.cookiejar
        import urllib.request

        self.base = base.rstrip("/")
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def request(self, path: str, data: dict[str, str] | None = None) -> tuple[int, str]:
        import urllib.error
        import urllib.parse
        import urllib.request

        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(urllib.request.Request(self.base + path, data=body),
                                  timeout=15) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def csrf(self, path: str) -> str:
        import re

        status, page = self.request(path)
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match, f"no CSRF token on {path} ({status})"
        return match.group(1)

    def login(self, username: str, password: str) -> tuple[int, str]:
        token = self.csrf("/login")
        return self.request(
            "/login", {"csrf_token": token, "username": username, "password": password}
        )


def open_encounter(engine, site: str, room: str, *, since=None) -> int:
    """A new patient in an open encounter (identity confirmed) in a new room; its id."""
    from datetime import UTC, date, datetime

    from sqlalchemy.orm import Session

    from dashboard.models import Encounter, Patient, Room

    started = since or datetime.now(UTC)
    with Session(engine) as db, db.begin():
        place = Room(site=site, name=room)
        patient = Patient(mrn=f"{site}-{room}".upper(), family_name="Test", given_name="Pat",
                          date_of_birth=date(1980, 1, 1), sex="F", allergies=[],
                          created_at=started)
        db.add_all([place, patient])
        db.flush()
        encounter = Encounter(site=site, patient_id=patient.id, room_id=place.id,
                              status="rooming", status_changed_at=started,
                              identity_confirmed_at=started, started_at=started, revision=0)
        db.add(encounter)
        db.flush()
        return encounter.id
