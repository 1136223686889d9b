"""SQLAlchemy models. The schema is created and changed only by Alembic migrations."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
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
    mobility: Mapped[str] = mapped_column(String(16), default="static", server_default="static")
    """``static`` (belongs to its room) or ``portable`` (charts only while assigned)."""

    room: Mapped[Room | None] = relationship()


class Reading(Base):
    """One device message as filed (its id is the message id, so a re-delivery files nothing),
    or one manual entry (``source='manual'``, a fresh UUID, no device).

    ``state`` (docs/data-model.md): ``unassigned`` (no encounter could be known: the queue),
    ``pending`` (waits for the assistant), ``accepted``, ``rejected``, ``entered_in_error``,
    ``discarded`` (taken off the unassigned queue). Every change is a ``ReadingEvent``.
    """

    __tablename__ = "readings"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    device_pk: Mapped[int | None] = mapped_column(ForeignKey("devices.id"), index=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"), index=True)
    measured_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    measured_at_source: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    filed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    flags: Mapped[list] = mapped_column(JSON)
    raw: Mapped[str] = mapped_column(Text)
    clock_offset_s: Mapped[float | None] = mapped_column(Float)
    encounter_id: Mapped[int | None] = mapped_column(ForeignKey("encounters.id"), index=True)
    state: Mapped[str] = mapped_column(
        String(20), default="unassigned", server_default="unassigned", index=True
    )
    source: Mapped[str] = mapped_column(String(8), default="device", server_default="device")
    entered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    """The user who typed a manual reading (the performer); None for a device reading."""
    accepted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    state_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    body_position: Mapped[str | None] = mapped_column(String(16))
    """``lying | sitting | standing`` where the assistant recorded it (orthostatic sets)."""
    series: Mapped[str | None] = mapped_column(String(16))
    """``orthostatic`` for a reading of an orthostatic set; None otherwise."""
    minutes_after_standing: Mapped[float | None] = mapped_column(Float)
    body_site: Mapped[str | None] = mapped_column(String(32))
    """Measurement site: temperature ``oral | tympanic | temporal | axillary | rectal``."""

    device: Mapped[Device | None] = relationship()
    room: Mapped[Room] = relationship()
    encounter: Mapped[Encounter | None] = relationship(back_populates="readings")
    events: Mapped[list[ReadingEvent]] = relationship(
        back_populates="reading", order_by="ReadingEvent.id"
    )
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


# --------------------------------------------------------------------------------------------
# The clinic workflow (issue 5): patients, appointments, encounters, what the assistant records.
# docs/data-model.md describes the states and who writes what.
# --------------------------------------------------------------------------------------------

READING_STATES = ("unassigned", "pending", "accepted", "rejected", "entered_in_error", "discarded")
ENCOUNTER_STATUSES = ("rooming", "ready_for_physician", "with_physician", "done")


class Patient(Base):
    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mrn: Mapped[str] = mapped_column(String(32), unique=True)
    family_name: Mapped[str] = mapped_column(String(100))
    given_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(1))
    """Sex for clinical reference tables: ``F | M | O | U`` (other, unknown)."""
    allergies: Mapped[list] = mapped_column(JSON, default=list)
    """Allergy names as recorded; ``["NKDA"]`` for no known drug allergies, [] if not asked."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Appointment(Base):
    __tablename__ = "appointments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(String(128), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    scheduled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    reason: Mapped[str] = mapped_column(Text)
    question_set_code: Mapped[str | None] = mapped_column(String(64))
    """The triage question set the reason suggests (``QuestionSet.code``); None: no triage."""
    physician_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    """``scheduled | roomed | done | cancelled``."""

    patient: Mapped[Patient] = relationship()
    physician: Mapped[User | None] = relationship()


class Encounter(Base):
    """One visit in one room: from rooming (identity confirmed) to done."""

    __tablename__ = "encounters"
    __table_args__ = (
        # At most one open encounter per room: it is where that room's device readings go.
        Index(
            "uq_encounters_open_room",
            "room_id",
            unique=True,
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(String(128), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"), unique=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"), index=True)
    assistant_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    physician_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(24), default="rooming")
    status_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason_for_visit: Mapped[str] = mapped_column(Text, default="")
    question_set_code: Mapped[str | None] = mapped_column(String(64))
    pregnant: Mapped[bool | None] = mapped_column(Boolean)
    """As the assistant recorded it (NEWS2 does not apply in pregnancy); None: not asked."""
    consciousness: Mapped[str | None] = mapped_column(String(1))
    """ACVPU letter as assessed at rooming (NEWS2); None: not assessed."""
    on_oxygen: Mapped[bool | None] = mapped_column(Boolean)
    """On supplemental oxygen at rooming (NEWS2); None: not recorded."""
    spo2_scale: Mapped[int | None] = mapped_column(SmallInteger)
    """NEWS2 SpO2 scale 2 when a clinician set a target of 88-92 % (hypercapnic respiratory
    failure); None or 1: scale 1."""
    identity_confirmed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Bumped in the same transaction as every change to the encounter or anything under it
    (readings filed or changed, triage, screenings, labs, status): a live view compares it."""

    patient: Mapped[Patient] = relationship()
    room: Mapped[Room] = relationship()
    appointment: Mapped[Appointment | None] = relationship()
    assistant: Mapped[User | None] = relationship(foreign_keys=[assistant_id])
    physician: Mapped[User | None] = relationship(foreign_keys=[physician_id])
    readings: Mapped[list[Reading]] = relationship(back_populates="encounter")


class DeviceAssignment(Base):
    """A portable device attached to an encounter from ``attached_at`` until ``removed_at``."""

    __tablename__ = "device_assignments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_pk: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    encounter_id: Mapped[int] = mapped_column(ForeignKey("encounters.id"), index=True)
    attached_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attached_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    removed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    device: Mapped[Device] = relationship()


class ReadingEvent(Base):
    """History of a reading: every state change and every edited value, who, when and why."""

    __tablename__ = "reading_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reading_id: Mapped[str] = mapped_column(ForeignKey("readings.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(20))
    """``filed | entered | assign | discard | accept | edit | reject | entered_in_error``."""
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str | None] = mapped_column(String(32))
    old_value: Mapped[str | None] = mapped_column(String(40))
    new_value: Mapped[str | None] = mapped_column(String(40))
    unit: Mapped[str | None] = mapped_column(String(20))
    encounter_id: Mapped[int | None] = mapped_column(ForeignKey("encounters.id"))
    reason: Mapped[str] = mapped_column(Text, default="")

    reading: Mapped[Reading] = relationship(back_populates="events")
    user: Mapped[User | None] = relationship()


class QuestionSet(Base):
    """Triage questions for a reason for visit; data an admin edits, never code."""

    __tablename__ = "question_sets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200))
    keywords: Mapped[list] = mapped_column(JSON, default=list)
    """Words in a free-text reason for visit that suggest this set."""
    questions: Mapped[list] = mapped_column(JSON, default=list)
    """``[{"key": str, "text": str, "type": "yes_no" | "text" | "number"}]`` in order."""
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class TriageAnswer(Base):
    """One answer; the question's text is copied so a later edit of the set changes nothing."""

    __tablename__ = "triage_answers"
    __table_args__ = (UniqueConstraint("encounter_id", "question_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    encounter_id: Mapped[int] = mapped_column(ForeignKey("encounters.id"), index=True)
    question_set_code: Mapped[str] = mapped_column(String(64))
    question_key: Mapped[str] = mapped_column(String(64))
    question_text: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=0)
    answer: Mapped[str] = mapped_column(String(500))
    positive: Mapped[bool] = mapped_column(Boolean, default=False)
    """A "yes" to a yes/no question: the briefing lists positives first."""
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class VisionScreening(Base):
    """Snellen visual acuity of one eye as a fraction (20/40, or 6/12 in metres)."""

    __tablename__ = "vision_screenings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    encounter_id: Mapped[int] = mapped_column(ForeignKey("encounters.id"), index=True)
    eye: Mapped[str] = mapped_column(String(8))
    """``right | left | both``."""
    numerator: Mapped[int] = mapped_column(Integer)
    denominator: Mapped[int] = mapped_column(Integer)
    corrected: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(20), default="recorded")
    """``recorded | entered_in_error``."""
    entered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class HearingScreening(Base):
    """Pure-tone screening of one ear at one frequency: heard (pass) or not (refer)."""

    __tablename__ = "hearing_screenings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    encounter_id: Mapped[int] = mapped_column(ForeignKey("encounters.id"), index=True)
    ear: Mapped[str] = mapped_column(String(8))
    """``right | left``."""
    frequency_hz: Mapped[int] = mapped_column(Integer)
    level_db: Mapped[int] = mapped_column(Integer)
    """Screening level in dB HL (20 dB HL in children, 25 dB HL in adults are usual)."""
    result: Mapped[str] = mapped_column(String(8))
    """``pass | refer``."""
    state: Mapped[str] = mapped_column(String(20), default="recorded")
    entered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LabResult(Base):
    """An in-house (point-of-care) result, with the unit and reference range it was read against.

    ``test`` names the test (``glucose_fingerstick | urine_dipstick | rapid_strep | urine_hcg |
    hemoglobin``), ``analyte`` the measured item (a dipstick has one row per pad). The unit and
    range are copied from ``dashboard/labs.py`` at entry, so changing a range later does not
    rewrite an old result's interpretation.
    """

    __tablename__ = "lab_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    encounter_id: Mapped[int] = mapped_column(ForeignKey("encounters.id"), index=True)
    test: Mapped[str] = mapped_column(String(32))
    analyte: Mapped[str] = mapped_column(String(32))
    loinc: Mapped[str] = mapped_column(String(10))
    value: Mapped[str] = mapped_column(String(40))
    """As entered: a number (``"5.6"``) or an ordinal/nominal result (``"negative"``, ``"1+"``)."""
    numeric_value: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(20), default="")
    reference_low: Mapped[float | None] = mapped_column(Float)
    reference_high: Mapped[float | None] = mapped_column(Float)
    reference_text: Mapped[str] = mapped_column(String(120), default="")
    interpretation: Mapped[str] = mapped_column(String(16))
    """``normal | low | high | abnormal`` (HL7 v3 ObservationInterpretation N, L, H, A)."""
    context: Mapped[str | None] = mapped_column(String(32))
    """Specimen context: glucose ``fasting | random``."""
    state: Mapped[str] = mapped_column(String(20), default="recorded")
    entered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# --------------------------------------------------------------------------------------------
# Room tablets and the physician's tablet PIN (issue 9).
# --------------------------------------------------------------------------------------------


class Tablet(Base):
    """A tablet paired to one room: it may show that room's current briefing and nothing else.

    Only SHA-256 hashes of its secrets are kept: ``pairing_hash`` of the one-time pairing code
    the admin was shown (cleared once redeemed or revoked), ``token_hash`` of the long-lived
    device token in the tablet's cookie. Both are random 256-bit values, so a fast hash is
    enough (nothing to brute-force) and lets the tablet be found by its token.
    """

    __tablename__ = "tablets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(String(128), index=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"), index=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    pairing_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    pairing_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    paired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    unlocked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    """The physician whose PIN unlocked the briefing; None while it is locked."""
    unlocked_encounter_id: Mapped[int | None] = mapped_column(ForeignKey("encounters.id"))
    """The unlock holds for this encounter only: the next patient needs a PIN again."""
    unlocked_active_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """The last touch on the unlocked screen: the unlock lapses after the idle time."""

    room: Mapped[Room] = relationship()


class UserPin(Base):
    """A physician's quick-unlock PIN for room tablets (4-6 digits, Argon2id), with its own
    failure counter and lock, so PIN guessing on a tablet never locks the password login."""

    __tablename__ = "user_pins"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    pin_hash: Mapped[str] = mapped_column(String(255))
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    set_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    set_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])
