"""The audit trail: who viewed or changed which record, when, from where.

Entries are only ever appended. Each entry's ``hash`` is SHA-256 over the previous entry's
hash and the entry's own fields, so editing or deleting a row breaks the chain from there on
and ``verify_chain`` finds it (the tamper evidence HIPAA 164.312(b)/(c)(1) audit and
integrity controls ask for). Appends are serialised (an advisory lock on PostgreSQL, the
write lock on SQLite) so concurrent requests never fork the chain.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from dashboard.models import AuditEvent

GENESIS = "0" * 64
_LOCK_KEY = 0x52564155  # "RVAU": the PostgreSQL advisory lock of the audit chain


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    username: str
    role: str
    remote_addr: str


def _digest(prev_hash: str, fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


def _fields(event: AuditEvent) -> dict[str, Any]:
    at = event.at if event.at.tzinfo else event.at.replace(tzinfo=UTC)
    return {
        "at": at.astimezone(UTC).isoformat(),
        "user_id": event.user_id,
        "username": event.username,
        "role": event.role,
        "action": event.action,
        "record_type": event.record_type,
        "record_id": event.record_id,
        "patient_id": event.patient_id,
        "remote_addr": event.remote_addr,
        "detail": event.detail,
    }


def append(
    session: Session,
    actor: Actor,
    action: str,
    record_type: str,
    record_id: str | int,
    *,
    patient_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add one entry inside the caller's transaction (it commits with the change it records)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    else:
        # Take SQLite's write lock now, so the last hash cannot change before we insert.
        session.execute(text("UPDATE audit_events SET id = id WHERE 0"))
    last = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    event = AuditEvent(
        at=datetime.now(UTC).replace(microsecond=0),
        user_id=actor.user_id,
        username=actor.username,
        role=actor.role,
        action=action,
        record_type=record_type,
        record_id=str(record_id),
        patient_id=patient_id,
        remote_addr=actor.remote_addr[:64],
        detail=detail or {},
        prev_hash=last or GENESIS,
        hash="",
    )
    event.hash = _digest(event.prev_hash, _fields(event))
    session.add(event)
    session.flush()
    return event


def verify_chain(session: Session) -> list[int]:
    """Ids of the entries whose hash or link does not match: empty when the trail is intact."""
    broken: list[int] = []
    previous = GENESIS
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id)):
        if event.prev_hash != previous or event.hash != _digest(event.prev_hash, _fields(event)):
            broken.append(event.id)
        previous = event.hash
    return broken
