"""Room pages: every room of the site, and a room's latest device readings."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from dashboard import audit
from dashboard.auth import actor, db_session
from dashboard.models import Device, Reading, Room
from vitals.kinds import KINDS

bp = Blueprint("rooms", __name__)

LATEST = 50


@bp.get("/")
def index() -> str:
    latest = (
        select(
            Reading.room_id, func.max(Reading.received_at).label("last"), func.count().label("n")
        )
        .group_by(Reading.room_id)
        .subquery()
    )
    rows = (
        db_session()
        .execute(
            select(Room, latest.c.last, latest.c.n)
            .outerjoin(latest, latest.c.room_id == Room.id)
            .where(Room.site == current_app.config["SITE"])  # this clinic's rooms only
            .order_by(Room.site, Room.name)
        )
        .all()
    )
    return render_template("rooms/index.html", rooms=rows)


@bp.get("/rooms/<site>/<name>")
def room(site: str, name: str) -> str:
    db = db_session()
    found = db.scalar(select(Room).where(Room.site == site, Room.name == name))
    if found is None or site != current_app.config["SITE"]:  # another clinic's room: none
        abort(404)
    readings = db.scalars(
        select(Reading)
        .where(Reading.room_id == found.id)
        .options(selectinload(Reading.observations), selectinload(Reading.device))
        .order_by(Reading.received_at.desc())
        .limit(LATEST)
    ).all()
    devices = db.scalars(
        select(Device).where(Device.room_id == found.id).order_by(Device.device_id)
    ).all()
    audit.append(db, actor(), "view", "room", found.id, detail={"page": "room readings"})
    db.commit()
    return render_template(
        "rooms/room.html",
        room=found,
        readings=readings,
        devices=devices,
        kinds=KINDS,
        refresh=current_app.config["REFRESH_SECONDS"],
    )
