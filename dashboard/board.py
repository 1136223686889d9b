"""The clinic board: every room at a glance, for a shared screen at the nurses' station.

Who is in each room (initials only: anyone walking past can read a shared screen), the
visit's status and for how long, readings still to review, and each room's devices with
their connection state and battery from the device-status data the ingest files
(``devices.state`` and ``devices.status``, the retained ``device-status`` topic).

``static/board.js`` refreshes the rooms every ``BOARD_REFRESH_SECONDS`` and ticks the
durations; the refresh is passive (it does not keep an idle login alive).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, current_app, g, render_template, session
from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from dashboard import audit, encounters, patients
from dashboard.auth import actor, db_session, roles_required
from dashboard.models import Device, Encounter, Reading

bp = Blueprint("board", __name__, url_prefix="/board")
VIEWERS = ("assistant", "physician", "admin")
LOW_BATTERY_PERCENT = 20


@dataclass(frozen=True)
class DeviceTile:
    device_id: str
    kind: str
    model: str
    state: str
    """``connected | disconnected | ...`` as the gateway said, ``unknown`` if never."""
    battery: str
    """``"87 %"``, ``"low"``, or ``""`` when the device does not report it."""
    battery_low: bool
    last_error: str
    last_seen: str


@dataclass(frozen=True)
class RoomTile:
    room_id: int
    name: str
    status: str
    """An encounter status, or ``empty``."""
    status_label: str
    initials: str
    encounter_id: int | None
    patient_id: int | None
    since: datetime | None
    to_review: int
    devices: list[DeviceTile] = field(default_factory=list)

    def minutes(self, now: datetime) -> int | None:
        if self.since is None:
            return None
        since = self.since if self.since.tzinfo else self.since.replace(tzinfo=UTC)
        return max(0, int((now - since).total_seconds() // 60))


def _battery(status: dict[str, Any]) -> tuple[str, bool]:
    """Battery from a device-status payload: a percentage (``battery``/``battery_level``) or
    only a low-battery signal (``low_battery``); "" when the device reports neither."""
    level = status.get("battery", status.get("battery_level"))
    if isinstance(level, int | float) and not isinstance(level, bool) and 0 <= level <= 100:
        return f"{level:.0f} %", level <= LOW_BATTERY_PERCENT or bool(status.get("low_battery"))
    if status.get("low_battery"):
        return "low", True
    return "", False


def device_tile(device: Device) -> DeviceTile:
    status = device.status if isinstance(device.status, dict) else {}
    battery, low = _battery(status)
    return DeviceTile(
        device_id=device.device_id,
        kind=device.kind if device.kind != "unknown" else "",
        model=device.model,
        state=device.state or "unknown",
        battery=battery,
        battery_low=low,
        last_error=str(status.get("last_error") or ""),
        last_seen=str(status.get("last_seen") or ""),
    )


def rooms_at_a_glance(db: Session, site: str) -> list[RoomTile]:
    """All rooms of ``site`` with their open encounter and devices, in four queries."""
    rooms = encounters.site_rooms(db, site)
    open_encounters = {
        e.room_id: e
        for e in db.scalars(
            select(Encounter)
            .where(Encounter.site == site, Encounter.ended_at.is_(None))
            .options(joinedload(Encounter.patient))
        )
    }
    to_review = dict(
        db.execute(
            select(Reading.encounter_id, func.count())
            .join(Encounter, Encounter.id == Reading.encounter_id)
            .where(
                Encounter.site == site,
                Encounter.ended_at.is_(None),
                Reading.state == "pending",
            )
            .group_by(Reading.encounter_id)
        ).all()
    )
    devices: dict[int, list[DeviceTile]] = {}
    for device in db.scalars(
        select(Device).where(Device.site == site).order_by(Device.device_id)
    ):
        if device.room_id is not None:
            devices.setdefault(device.room_id, []).append(device_tile(device))
    tiles = []
    for room in rooms:
        encounter = open_encounters.get(room.id)
        tiles.append(
            RoomTile(
                room_id=room.id,
                name=room.name,
                status=encounter.status if encounter else "empty",
                status_label=encounters.LABELS.get(encounter.status, encounter.status)
                if encounter
                else "Empty",
                initials=patients.initials(encounter.patient) if encounter else "",
                encounter_id=encounter.id if encounter else None,
                patient_id=encounter.patient_id if encounter else None,
                since=encounter.status_changed_at if encounter else None,
                to_review=to_review.get(encounter.id, 0) if encounter else 0,
                devices=devices.get(room.id, []),
            )
        )
    return tiles


def _render(template: str) -> str:
    db = db_session()
    tiles = rooms_at_a_glance(db, current_app.config["SITE"])
    who = actor()
    for tile in tiles:
        if tile.patient_id is not None:
            # Initials are still patient data on a screen: every view is audited.
            audit.append(db, who, "view", "board", tile.encounter_id,
                         patient_id=tile.patient_id, detail={"shown": "initials"})
    db.commit()
    return render_template(
        template,
        tiles=tiles,
        now=datetime.now(UTC),
        refresh=int(current_app.config.get("BOARD_REFRESH_SECONDS", 10)),
    )


@bp.url_value_preprocessor
def _remember_last_activity(endpoint: str | None, _values: dict[str, Any] | None) -> None:
    # Before auth refreshes the idle clock (see briefing_views): the periodic refresh of a
    # board nobody touches must not keep its login alive.
    if endpoint == "board.body":
        g.board_last_seen = session.get("last_seen")


@bp.get("/")
@roles_required(*VIEWERS)
def index() -> str:
    return _render("board/index.html")


@bp.get("/body")
@roles_required(*VIEWERS)
def body() -> str:
    if g.get("board_last_seen") is not None:
        session["last_seen"] = g.board_last_seen
    return _render("board/_rooms.html")
