"""MQTT topic names of the contract (DESIGN.md, "The message contract").

The message type comes right after the site, as in Sparkplug B's namespace, so that every
subscription filter is unambiguous whatever a room is called. Topics name sites, rooms,
devices and gateways only, never a patient.
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "roomvitals/v1"
READING = "reading"
LIVE = "live"
DEVICE_STATUS = "device-status"
GATEWAY_STATUS = "gateway-status"
_TYPES = (READING, LIVE, DEVICE_STATUS, GATEWAY_STATUS)

READING_FILTER = f"{PREFIX}/+/{READING}/#"
LIVE_FILTER = f"{PREFIX}/+/{LIVE}/#"
DEVICE_STATUS_FILTER = f"{PREFIX}/+/{DEVICE_STATUS}/#"
GATEWAY_STATUS_FILTER = f"{PREFIX}/+/{GATEWAY_STATUS}/#"
SHARED_INGEST_FILTER = f"$share/ingest/{READING_FILTER}"


class TopicError(ValueError):
    """A topic or topic segment that the contract does not allow."""


def check_segment(what: str, value: str) -> str:
    """A site, room, device or gateway name: non-empty, no MQTT separators or wildcards."""
    if not isinstance(value, str) or not value:
        raise TopicError(f"{what} must be a non-empty string")
    bad = {"/", "+", "#", "\x00"} & set(value)
    if bad:
        raise TopicError(f"{what} {value!r} contains {''.join(sorted(bad))!r}, not allowed in MQTT")
    if value.startswith("$"):
        raise TopicError(f"{what} {value!r} starts with '$', reserved by MQTT")
    if len(value.encode()) > 128:
        raise TopicError(f"{what} {value!r} is longer than 128 bytes")
    return value


def reading_topic(site: str, room: str, device_id: str) -> str:
    return _device_topic(READING, site, room, device_id)


def live_topic(site: str, room: str, device_id: str) -> str:
    return _device_topic(LIVE, site, room, device_id)


def device_status_topic(site: str, room: str, device_id: str) -> str:
    return _device_topic(DEVICE_STATUS, site, room, device_id)


def gateway_status_topic(site: str, gateway_id: str) -> str:
    return f"{PREFIX}/{check_segment('site', site)}/{GATEWAY_STATUS}/" + check_segment(
        "gateway id", gateway_id
    )


def _device_topic(kind: str, site: str, room: str, device_id: str) -> str:
    return "/".join(
        (
            PREFIX,
            check_segment("site", site),
            kind,
            check_segment("room", room),
            check_segment("device id", device_id),
        )
    )


@dataclass(frozen=True)
class Topic:
    site: str
    type: str
    room: str | None
    device_id: str | None
    gateway_id: str | None = None


def parse_topic(topic: str) -> Topic:
    parts = topic.split("/")
    if parts[:2] != PREFIX.split("/") or len(parts) < 4:
        raise TopicError(f"topic {topic!r} is not under {PREFIX}/")
    site, kind = parts[2], parts[3]
    if kind not in _TYPES:
        raise TopicError(f"topic {topic!r}: unknown message type {kind!r}")
    if kind == GATEWAY_STATUS:
        if len(parts) != 5:
            raise TopicError(f"topic {topic!r}: expected {PREFIX}/site/{kind}/gateway")
        return Topic(
            check_segment("site", site), kind, None, None, check_segment("gateway", parts[4])
        )
    if len(parts) != 6:
        raise TopicError(f"topic {topic!r}: expected {PREFIX}/site/{kind}/room/device")
    return Topic(
        check_segment("site", site),
        kind,
        check_segment("room", parts[4]),
        check_segment("device id", parts[5]),
    )
