"""Room tablets: a tablet paired to one room shows that room's current briefing, nothing else.

- An admin pairs a tablet to a room (``/admin/tablets/``): a one-time pairing code is shown
  once (only its SHA-256 is kept) and expires after ``TABLET_PAIRING_MINUTES``. The tablet
  opens ``/tablet/pair`` and enters it; the server answers with a fresh long-lived device
  token in an HttpOnly, SameSite=Strict cookie (again only its hash is kept). Revoking the
  tablet on the same page ends it at its next request.
- The paired tablet lives at ``/tablet/``: "room free" while no encounter is open; a PIN
  screen while one is (no patient data on it); the briefing once a physician has entered
  their PIN. The unlock holds for that encounter only and lapses after
  ``TABLET_UNLOCK_IDLE_MINUTES`` without a touch on the screen.
- A physician sets a 4-6 digit PIN (Argon2id) at ``/account/pin`` (with their password) or
  an admin sets it. PIN failures lock that PIN like passwords lock accounts, and a tablet
  is refused after too many failures in a window, whoever they were for.

The tablet is its own principal (``auth.tablet_view``): its views take no user login, and
with only its cookie every other route answers 401/403.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import segno
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dashboard import audit, briefing, events
from dashboard.assistant import units_system
from dashboard.auth import (
    TABLET_COOKIE,
    actor,
    current_tablet,
    current_user,
    db_session,
    hash_password,
    public,
    roles_required,
    tablet_view,
    token_hash,
    verify_password,
)
from dashboard.models import AuditEvent, Encounter, Room, Tablet, User, UserPin

bp = Blueprint("tablet", __name__, url_prefix="/tablet")
admin_bp = Blueprint("tablets_admin", __name__)

PAIRING_MINUTES = 60
COOKIE_MAX_AGE = 400 * 24 * 3600  # the longest a browser keeps a cookie (RFC 6265bis)
UNLOCK_IDLE_MINUTES = 5
PIN_MAX_FAILED = 5
PIN_LOCKOUT_MINUTES = 15
# Per tablet: more failed PINs than this within the window are refused (HTTP 429), whichever
# physicians they were for, so nobody walks through every PIN of every physician.
TABLET_PIN_FAILURES_ALLOWED = 10
# Per address: failed pairing codes.
PAIR_FAILURES_ALLOWED = 20
FAILURE_WINDOW_MINUTES = 10
# Crockford's base32 without I, L, O, U: easy to read off one screen and type on another.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_GROUPS = 5  # 5 x 4 characters = 100 random bits


class PinPolicyError(ValueError):
    pass


# --------------------------------------------------------------------------------------------
# Rules (no Flask): codes, PINs, pairing, unlocking
# --------------------------------------------------------------------------------------------


def _aware(value: datetime | None) -> datetime | None:
    """SQLite gives back stored instants without their offset: they are UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def new_pairing_code() -> str:
    chars = "".join(secrets.choice(CODE_ALPHABET) for _ in range(4 * CODE_GROUPS))
    return "-".join(chars[i : i + 4] for i in range(0, len(chars), 4))


def normalise_code(text: str) -> str:
    """What the tablet typed, as stored: upper case, no spaces or dashes, O read as 0, I/L as 1."""
    cleaned = re.sub(r"[\s-]", "", text.upper())[:64]
    return cleaned.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))


def check_pin_policy(pin: str) -> None:
    if not re.fullmatch(r"[0-9]{4,6}", pin):
        raise PinPolicyError("4 to 6 digits")
    if len(set(pin)) == 1:
        raise PinPolicyError("not the same digit repeated")
    steps = {int(b) - int(a) for a, b in itertools.pairwise(pin)}
    if steps in ({1}, {-1}):
        raise PinPolicyError("not a run of digits such as 1234")


def set_pin(db: Session, who: audit.Actor, user: User, pin: str) -> UserPin:
    """Set (or replace) a physician's PIN; clears any PIN lock. Audited."""
    if user.role != "physician":
        raise PinPolicyError("only physicians unlock briefings on room tablets")
    check_pin_policy(pin)
    now = datetime.now(UTC)
    row = db.get(UserPin, user.id)
    if row is None:
        row = UserPin(user_id=user.id, pin_hash="", failed_attempts=0, set_at=now)
        db.add(row)
    row.pin_hash = hash_password(pin)
    row.failed_attempts = 0
    row.locked_until = None
    row.set_at = now
    row.set_by = who.user_id
    audit.append(db, who, "pin_set", "user", user.id)
    db.flush()
    return row


def create_pairing(db: Session, who: audit.Actor, room: Room, label: str) -> tuple[Tablet, str]:
    """A new tablet for ``room`` waiting to be paired; returns it and the code (shown once)."""
    code = new_pairing_code()
    now = datetime.now(UTC)
    tablet = Tablet(
        site=room.site,
        room_id=room.id,
        label=label.strip()[:100],
        pairing_hash=token_hash(normalise_code(code)),
        pairing_expires_at=now + timedelta(minutes=_pairing_minutes()),
        created_at=now,
        created_by=who.user_id,
    )
    db.add(tablet)
    db.flush()
    audit.append(db, who, "create", "tablet", tablet.id, detail={"room": room.name})
    return tablet, code


def redeem_pairing(db: Session, code: str, address: str) -> tuple[Tablet, str] | None:
    """Exchange a valid pairing code for a device token (returned once); None if invalid."""
    now = datetime.now(UTC)
    wanted = token_hash(normalise_code(code))
    tablet = db.scalar(select(Tablet).where(Tablet.pairing_hash == wanted))
    who = audit.Actor(None, "tablet", "tablet", address)
    if (
        tablet is None
        or tablet.revoked_at is not None
        or tablet.site != current_app.config["SITE"]
        or (_aware(tablet.pairing_expires_at) or now) < now
    ):
        audit.append(db, who, "pair_failed", "tablet", tablet.id if tablet else "")
        return None
    token = secrets.token_urlsafe(32)
    tablet.token_hash = token_hash(token)
    tablet.pairing_hash = None  # single use
    tablet.pairing_expires_at = None
    tablet.paired_at = tablet.last_seen_at = now
    audit.append(db, who, "pair", "tablet", tablet.id, detail={"room": tablet.room.name})
    return tablet, token


def revoke(db: Session, who: audit.Actor, tablet: Tablet) -> None:
    tablet.revoked_at = datetime.now(UTC)
    tablet.revoked_by = who.user_id
    tablet.token_hash = None
    tablet.pairing_hash = None
    _lock(tablet)
    audit.append(db, who, "revoke", "tablet", tablet.id, detail={"room": tablet.room.name})


def open_encounter(db: Session, tablet: Tablet) -> Encounter | None:
    return db.scalar(
        select(Encounter).where(
            Encounter.room_id == tablet.room_id,
            Encounter.site == tablet.site,
            Encounter.ended_at.is_(None),
        )
    )


def unlocked_physician(
    db: Session, tablet: Tablet, encounter: Encounter | None, idle_minutes: float
) -> User | None:
    """The physician whose PIN unlocked this encounter's briefing, if the unlock still holds."""
    if tablet.unlocked_by is None or encounter is None or encounter.ended_at is not None:
        return None
    if tablet.unlocked_encounter_id != encounter.id:
        return None
    active = _aware(tablet.unlocked_active_at)
    if active is None or datetime.now(UTC) - active > timedelta(minutes=idle_minutes):
        return None
    user = db.get(User, tablet.unlocked_by)
    if user is None or not user.active or user.role != "physician":
        return None
    return user


def _lock(tablet: Tablet) -> None:
    tablet.unlocked_by = None
    tablet.unlocked_encounter_id = None
    tablet.unlocked_active_at = None


@dataclass(frozen=True)
class UnlockOutcome:
    error: str | None
    status: int = 200


def try_unlock(
    db: Session, tablet: Tablet, encounter: Encounter, user_id: int | None, pin: str,
    address: str,
) -> UnlockOutcome:
    """Check a physician's PIN on ``tablet``; on success unlock ``encounter``'s briefing."""
    now = datetime.now(UTC)
    device = audit.Actor(None, f"tablet-{tablet.id}", "tablet", address)
    wrong = "Wrong PIN."
    if _recent(db, ("pin_failed", "pin_lockout"), now, record=("tablet", tablet.id)) >= (
        TABLET_PIN_FAILURES_ALLOWED
    ):
        return UnlockOutcome(
            f"Too many wrong PINs on this tablet. Try again in {FAILURE_WINDOW_MINUTES} minutes.",
            429,
        )
    if not pin:
        return UnlockOutcome("Enter your PIN.", 422)
    user = db.get(User, user_id) if user_id else None
    row = db.get(UserPin, user.id) if user is not None else None
    if user is None or row is None or not user.active or user.role != "physician":
        verify_password(_DUMMY_PIN_HASH, pin)  # the same work either way: no enumeration
        audit.append(db, device, "pin_failed", "tablet", tablet.id, detail={"physician": user_id})
        return UnlockOutcome(wrong, 401)
    locked_until = _aware(row.locked_until)
    if locked_until is not None and locked_until > now:
        minutes = max(1, round((locked_until - now).total_seconds() / 60))
        return UnlockOutcome(
            f"This PIN is locked after repeated wrong entries. Try again in {minutes} min, "
            "or set a new PIN with your password.",
            423,
        )
    if not verify_password(row.pin_hash, pin):
        row.failed_attempts += 1
        action = "pin_failed"
        if row.failed_attempts >= PIN_MAX_FAILED:
            row.failed_attempts = 0
            row.locked_until = now + timedelta(minutes=PIN_LOCKOUT_MINUTES)
            action = "pin_lockout"
        audit.append(db, device, action, "tablet", tablet.id, detail={"physician": user.id})
        if action == "pin_lockout":
            return UnlockOutcome(
                f"Too many wrong PINs: this PIN is locked for {PIN_LOCKOUT_MINUTES} minutes.", 423
            )
        return UnlockOutcome(wrong, 401)
    row.failed_attempts = 0
    row.locked_until = None
    tablet.unlocked_by = user.id
    tablet.unlocked_encounter_id = encounter.id
    tablet.unlocked_active_at = now
    who = audit.Actor(user.id, user.username, user.role, address)
    audit.append(db, who, "unlock", "tablet", tablet.id, patient_id=encounter.patient_id,
                 detail={"room": tablet.room.name, "encounter": encounter.id})
    return UnlockOutcome(None)


_DUMMY_PIN_HASH = hash_password("000000-roomvitals-timing-equaliser")


def _recent(
    db: Session, actions: tuple[str, ...], now: datetime, *, record: tuple[str, int] | None = None,
    address: str | None = None,
) -> int:
    query = (
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.action.in_(actions),
            AuditEvent.at >= now - timedelta(minutes=FAILURE_WINDOW_MINUTES),
        )
    )
    if record is not None:
        query = query.where(AuditEvent.record_type == record[0],
                            AuditEvent.record_id == str(record[1]))
    if address is not None:
        query = query.where(AuditEvent.remote_addr == address[:64])
    return db.scalar(query) or 0


def _pairing_minutes() -> float:
    return float(current_app.config.get("TABLET_PAIRING_MINUTES", PAIRING_MINUTES))


def _idle_minutes() -> float:
    """``TABLET_UNLOCK_IDLE_MINUTES`` (app config), else ``ROOMVITALS_TABLET_UNLOCK_IDLE_MINUTES``
    (environment), else 5; an unreadable value falls back to 5, never to "unlocked forever"."""
    raw = current_app.config.get("TABLET_UNLOCK_IDLE_MINUTES") or os.environ.get(
        "ROOMVITALS_TABLET_UNLOCK_IDLE_MINUTES", UNLOCK_IDLE_MINUTES)
    try:
        minutes = float(raw)
    except (TypeError, ValueError):
        return UNLOCK_IDLE_MINUTES
    return minutes if 0 < minutes <= 24 * 60 else UNLOCK_IDLE_MINUTES


# --------------------------------------------------------------------------------------------
# The tablet's own views
# --------------------------------------------------------------------------------------------


def _tablet() -> Tablet:
    tablet = current_tablet()
    assert tablet is not None  # tablet_view refused the request otherwise
    return tablet


def _address() -> str:
    return request.remote_addr or ""


@bp.errorhandler(401)
def _not_paired(_error: Exception) -> tuple[str, int] | Response:
    if request.endpoint in ("tablet.events", "tablet.body", "tablet.activity"):
        return Response("not paired\n", status=401, mimetype="text/plain")
    response = current_app.make_response(
        (render_template("tablet/not_paired.html"), 401)
    )
    if request.cookies.get(TABLET_COOKIE):
        response.delete_cookie(TABLET_COOKIE, path="/")  # revoked or unknown: forget it
    return response


def _physicians(db: Session, encounter: Encounter) -> list[User]:
    """Physicians who can unlock (active, with a PIN): the encounter's own physician first."""
    found = list(db.scalars(
        select(User).join(UserPin, UserPin.user_id == User.id)
        .where(User.role == "physician", User.active.is_(True))
        .order_by(User.display_name)
    ))
    return sorted(found, key=lambda u: u.id != encounter.physician_id)


def _briefing_for(db: Session, tablet: Tablet, encounter: Encounter, physician: User,
                  page: str) -> briefing.Briefing:
    found = briefing.assemble(db, encounter.id, units=units_system(), today=date.today())
    if found is None:
        abort(404)
    who = audit.Actor(physician.id, physician.username, physician.role, _address())
    audit.append(db, who, "view", "briefing", encounter.id, patient_id=found.patient_id,
                 detail={"page": page, "revision": found.revision, "tablet": tablet.id,
                         "room": tablet.room.name})
    return found


@bp.get("/")
@tablet_view
def screen() -> Any:
    db = db_session()
    tablet = _tablet()
    tablet.last_seen_at = datetime.now(UTC)
    encounter = open_encounter(db, tablet)
    if encounter is None:
        _lock(tablet)
        db.commit()
        return render_template("tablet/room_free.html", tablet=tablet)
    physician = unlocked_physician(db, tablet, encounter, _idle_minutes())
    if physician is None:
        if tablet.unlocked_by is not None:
            _lock(tablet)
        db.commit()
        return _pin_screen(db, tablet, encounter)
    found = _briefing_for(db, tablet, encounter, physician, "tablet")
    db.commit()
    return render_template(
        "tablet/briefing.html", b=found, tablet=tablet, physician=physician,
        now=datetime.now(UTC),
    )


def _pin_screen(db: Session, tablet: Tablet, encounter: Encounter, error: str | None = None,
                status: int = 200, chosen: int | None = None) -> tuple[str, int]:
    physicians = _physicians(db, encounter)
    if chosen is None and physicians:
        chosen = physicians[0].id
    return render_template(
        "tablet/pin.html", tablet=tablet, encounter=encounter, physicians=physicians,
        chosen=chosen, error=error,
    ), status


@bp.get("/body")
@tablet_view
def body() -> Any:
    """The briefing fragment ``briefing.js`` swaps in on a new revision (unlocked only)."""
    db = db_session()
    tablet = _tablet()
    encounter = open_encounter(db, tablet)
    physician = unlocked_physician(db, tablet, encounter, _idle_minutes())
    if physician is None:
        abort(403)
    found = _briefing_for(db, tablet, encounter, physician, "tablet update")
    db.commit()
    return render_template("briefing/_body.html", b=found)


class _TabletWatch:
    """One poll of the tablet's stream, with a fresh session: the encounter's revision, or
    None ("gone": the page reloads) once the tablet is revoked or its unlock lapsed."""

    def __init__(self, sessions: sessionmaker[Session], tablet_id: int, encounter_id: int,
                 unlocked: bool, idle_minutes: float) -> None:
        self.sessions = sessions
        self.tablet_id = tablet_id
        self.encounter_id = encounter_id
        self.unlocked = unlocked
        self.idle_minutes = idle_minutes
        self._watched = events.EncounterRevisions(sessions)

    def __call__(self) -> events.EncounterState | None:
        # Asked of the process's watcher too, so that a change of this encounter wakes the
        # stream at once rather than at its next poll.
        self._watched(self.encounter_id)
        with self.sessions() as db:
            tablet = db.get(Tablet, self.tablet_id)
            encounter = db.get(Encounter, self.encounter_id)
            if tablet is None or tablet.revoked_at is not None or encounter is None:
                return None
            ended = encounter.ended_at is not None
            if self.unlocked and not ended and unlocked_physician(
                db, tablet, encounter, self.idle_minutes
            ) is None:
                return None
            return events.EncounterState(revision=encounter.revision, ended=ended)


@bp.get("/events", endpoint="events")
@tablet_view
def events_stream() -> Response:
    """Revision numbers of the room's open encounter (no patient data), for the PIN screen
    and the unlocked briefing alike."""
    db = db_session()
    tablet = _tablet()
    encounter = open_encounter(db, tablet)
    if encounter is None:
        abort(404)
    unlocked = unlocked_physician(db, tablet, encounter, _idle_minutes()) is not None
    watch = _TabletWatch(current_app.extensions["roomvitals.sessions"], tablet.id, encounter.id,
                         unlocked, _idle_minutes())
    db.close()  # the stream uses its own short sessions
    settings = events.StreamSettings(
        poll_seconds=float(current_app.config.get("SSE_POLL_SECONDS", 1.0)),
        heartbeat_seconds=float(current_app.config.get("SSE_HEARTBEAT_SECONDS", 15.0)),
        lifetime_seconds=float(current_app.config.get("SSE_LIFETIME_SECONDS", 300.0)),
    )
    stream = events.revision_stream(watch, request.args.get("revision", type=int), settings)
    return Response(stream, mimetype="text/event-stream",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@bp.post("/unlock")
@tablet_view
def unlock() -> Any:
    db = db_session()
    tablet = _tablet()
    encounter = open_encounter(db, tablet)
    if encounter is None:
        return redirect(url_for("tablet.screen"))
    raw_user = request.form.get("physician", "")
    user_id = int(raw_user) if raw_user.isdigit() and len(raw_user) < 10 else None
    outcome = try_unlock(db, tablet, encounter, user_id, request.form.get("pin", "")[:32],
                         _address())
    db.commit()
    if outcome.error is None:
        return redirect(url_for("tablet.screen"))
    return _pin_screen(db, tablet, encounter, outcome.error, outcome.status, user_id)


@bp.post("/lock")
@tablet_view
def lock() -> Any:
    db = db_session()
    tablet = _tablet()
    if tablet.unlocked_by is not None:
        user = db.get(User, tablet.unlocked_by)
        who = audit.Actor(user.id, user.username, user.role, _address()) if user else (
            audit.Actor(None, f"tablet-{tablet.id}", "tablet", _address()))
        _lock(tablet)
        audit.append(db, who, "lock", "tablet", tablet.id)
        db.commit()
    return redirect(url_for("tablet.screen"))


@bp.post("/activity")
@tablet_view
def activity() -> Any:
    """A touch on the unlocked briefing: keeps the unlock from lapsing (204), else 403."""
    db = db_session()
    tablet = _tablet()
    if unlocked_physician(db, tablet, open_encounter(db, tablet), _idle_minutes()) is None:
        abort(403)
    tablet.unlocked_active_at = datetime.now(UTC)
    db.commit()
    return Response(status=204)


@bp.route("/pair", methods=["GET", "POST"])
@public
def pair() -> Any:
    error = None
    status = 200
    if request.method == "POST":
        db = db_session()
        now = datetime.now(UTC)
        if _recent(db, ("pair_failed",), now, address=_address()) >= PAIR_FAILURES_ALLOWED:
            error, status = (
                f"Too many wrong codes from this address. Try again in "
                f"{FAILURE_WINDOW_MINUTES} minutes.", 429)
        elif not normalise_code(request.form.get("code", "")):
            error, status = "Enter the pairing code shown on the admin's screen.", 422
        else:
            paired = redeem_pairing(db, request.form.get("code", ""), _address())
            db.commit()
            if paired is not None:
                _tablet_row, token = paired
                response = redirect(url_for("tablet.screen"))
                response.set_cookie(
                    TABLET_COOKIE, token, max_age=COOKIE_MAX_AGE, path="/", httponly=True,
                    samesite="Strict",
                    secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")
                                or request.is_secure),
                )
                return response
            error, status = (
                "This code is not valid: it may have expired, been used or been revoked. "
                "Ask the admin for a new one.", 401)
    return render_template("tablet/pair.html", error=error), status


# --------------------------------------------------------------------------------------------
# Admin: pair and revoke tablets, set physicians' PINs; a physician's own PIN
# --------------------------------------------------------------------------------------------


def _site_rooms(db: Session) -> list[Room]:
    return list(db.scalars(
        select(Room).where(Room.site == current_app.config["SITE"]).order_by(Room.name)))


def _admin_page(shown_code: str | None = None, shown_tablet: Tablet | None = None,
                errors: dict[str, str] | None = None, status: int = 200) -> tuple[str, int]:
    db = db_session()
    tablets = list(db.scalars(
        select(Tablet).where(Tablet.site == current_app.config["SITE"])
        .order_by(Tablet.revoked_at.is_not(None), Tablet.id.desc())
    ))
    physicians = list(db.scalars(
        select(User).where(User.role == "physician").order_by(User.display_name)))
    pins = {row.user_id: row for row in db.scalars(select(UserPin))}
    return render_template(
        "tablet/admin.html", tablets=tablets, rooms=_site_rooms(db), physicians=physicians,
        pins=pins, shown_code=shown_code, shown_tablet=shown_tablet, errors=errors or {},
        shown_qr=pairing_qr(shown_code) if shown_code else None,
        form=request.form, now=datetime.now(UTC), aware=_aware,
    ), status


def pairing_qr(code: str) -> Markup:
    """An inline SVG QR code of the pairing page's address with the code in its fragment,
    for the tablet's camera. A fragment never leaves the browser (RFC 3986, section 3.5), so
    the code reaches no server log or proxy; tablet.js copies it into the form."""
    address = url_for("tablet.pair", _external=True) + "#code=" + code
    svg = segno.make(address, error="m").svg_inline(
        scale=5, border=4, title="Pairing address and code for the tablet's camera"
    )
    return Markup(svg)  # segno's own markup: the address is escaped inside it


@admin_bp.get("/admin/tablets/")
@roles_required("admin")
def admin_index() -> Any:
    return _admin_page()


@admin_bp.post("/admin/tablets/")
@roles_required("admin")
def admin_create() -> Any:
    db = db_session()
    raw = request.form.get("room", "")
    room = db.get(Room, int(raw)) if raw.isdigit() and len(raw) < 10 else None
    if room is None or room.site != current_app.config["SITE"]:
        return _admin_page(errors={"room": "Choose a room of this clinic."}, status=422)
    tablet, code = create_pairing(db, actor(), room, request.form.get("label", ""))
    db.commit()
    # The code is in this response only: never in a URL, never stored.
    return _admin_page(shown_code=code, shown_tablet=tablet, status=201)


@admin_bp.post("/admin/tablets/<int:tablet_id>/revoke")
@roles_required("admin")
def admin_revoke(tablet_id: int) -> Any:
    db = db_session()
    tablet = db.get(Tablet, tablet_id)
    if tablet is None or tablet.site != current_app.config["SITE"]:
        abort(404)
    if tablet.revoked_at is None:
        revoke(db, actor(), tablet)
        db.commit()
    return redirect(url_for("tablets_admin.admin_index"))


@admin_bp.post("/admin/tablets/pins")
@roles_required("admin")
def admin_set_pin() -> Any:
    db = db_session()
    raw = request.form.get("physician", "")
    user = db.get(User, int(raw)) if raw.isdigit() and len(raw) < 10 else None
    if user is None or user.role != "physician":
        return _admin_page(errors={"physician": "Choose a physician."}, status=422)
    try:
        set_pin(db, actor(), user, request.form.get("pin", ""))
    except PinPolicyError as exc:
        db.rollback()
        return _admin_page(errors={"pin": f"PIN: {exc}."}, status=422)
    db.commit()
    return redirect(url_for("tablets_admin.admin_index"))


@admin_bp.route("/account/pin", methods=["GET", "POST"])
@roles_required("physician")
def account_pin() -> Any:
    db = db_session()
    user = current_user()
    errors: dict[str, str] = {}
    done = False
    if request.method == "POST":
        pin = request.form.get("pin", "")
        if not verify_password(user.password_hash, request.form.get("password", "")):
            errors["password"] = "Your current password is needed to set a PIN."
        elif pin != request.form.get("pin_again", ""):
            errors["pin_again"] = "The two PINs differ."
        else:
            try:
                set_pin(db, actor(), user, pin)
            except PinPolicyError as exc:
                errors["pin"] = f"PIN: {exc}."
        if errors:
            db.rollback()
        else:
            db.commit()
            done = True
    has_pin = db.get(UserPin, user.id) is not None
    return render_template("tablet/account_pin.html", errors=errors, done=done,
                           has_pin=has_pin), (422 if errors else 200)
