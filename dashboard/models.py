"""SQLAlchemy models. The schema is created and changed only by Alembic migrations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Named constraints so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Room(Base):
    __tablename__ = "rooms"
    __table_args__ = (UniqueConstraint("site", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(128))


class Device(Base):
    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("site", "device_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(String(128))
    device_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(200), default="")
    serial: Mapped[str] = mapped_column(String(200), default="")
    transport: Mapped[str] = mapped_column(String(16))
    protocol: Mapped[str] = mapped_column(String(100), default="")
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id"))
    state: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[dict | None] = mapped_column(JSON)
    status_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    room: Mapped[Room | None] = relationship()


class Reading(Base):
    """One device message as filed: its id is the message id, so a re-delivery files nothing."""

    __tablename__ = "readings"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    device_pk: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"), index=True)
    measured_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    measured_at_source: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    filed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    flags: Mapped[list] = mapped_column(JSON)
    raw: Mapped[str] = mapped_column(Text)
    clock_offset_s: Mapped[float | None] = mapped_column(Float)

    device: Mapped[Device] = relationship()
    room: Mapped[Room] = relationship()
    observations: Mapped[list[ReadingObservation]] = relationship(
        back_populates="reading", order_by="ReadingObservation.position"
    )


class ReadingObservation(Base):
    """One value of a reading: the device's exact digits and unit, and the canonical value."""

    __tablename__ = "reading_observations"

    reading_id: Mapped[str] = mapped_column(ForeignKey("readings.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    value: Mapped[str | None] = mapped_column(String(40))
    unit: Mapped[str] = mapped_column(String(20))
    canonical_value: Mapped[float | None] = mapped_column(Float)
    canonical_unit: Mapped[str] = mapped_column(String(20))
    mdc: Mapped[int] = mapped_column(Integer)
    loinc: Mapped[str] = mapped_column(String(10))
    absent_reason: Mapped[str | None] = mapped_column(String(32))

    reading: Mapped[Reading] = relationship(back_populates="observations")


class RejectedMessage(Base):
    """A message the ingest refused, kept with the reason (a dead-letter table)."""

    __tablename__ = "rejected_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic: Mapped[str] = mapped_column(String(512))
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[str] = mapped_column(Text)
    """The first 4 KiB of the payload as text (invalid UTF-8 replaced), for diagnosis."""
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class User(Base):
    """A person who logs in: an assistant, a physician or an admin."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    password_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditEvent(Base):
    """An append-only audit trail entry; ``hash`` chains it to the entry before it."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))
    record_type: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[str] = mapped_column(String(64))
    patient_id: Mapped[int | None] = mapped_column(Integer, index=True)
    remote_addr: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
