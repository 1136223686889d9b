"""Logins, roles and sessions.

Passwords are hashed with Argon2id (argon2-cffi, RFC 9106 parameters). An account locks
for ``LOCKOUT_MINUTES`` after ``MAX_FAILED_LOGINS`` failures in a row; a session ends after
``SESSION_IDLE_MINUTES`` without a request (15 by default) and on logout. Every view
requires a login unless it is marked public.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard.audit import Actor
from dashboard.models import Tablet, User

ROLES = ("assistant", "physician", "admin")
MAX_FAILED_LOGINS = 5
LOCKOUT_MINUTES = 15
MIN_PASSWORD_LENGTH = 12
# Per address: more failed logins than this within the window are refused (HTTP 429).
ADDRESS_FAILURES_ALLOWED = 20
ADDRESS_WINDOW_MINUTES = 10

bp = Blueprint("auth", __name__)
_hasher = PasswordHasher()


class PasswordPolicyError(ValueError):
    pass


def check_password_policy(password: str, username: str = "") -> None:
    """NIST SP 800-63B: length over composition rules; no password equal to the username."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"at least {MIN_PASSWORD_LENGTH} characters")
    if username and password.lower() == username.lower():
        raise PasswordPolicyError("must not be the username")
    if len(set(password)) < 5:
        raise PasswordPolicyError("too repetitive")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def create_user(
    db: Session, username: str, role: str, password: str, display_name: str = ""
) -> User:
    if not re.fullmatch(r"[a-z0-9._-]{2,64}", username):
        raise ValueError("username: 2-64 lower-case letters, digits, '.', '_' or '-'")
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    check_password_policy(password, username)
    if db.scalar(select(User).where(User.username == username)) is not None:
        raise ValueError(f"user {username!r} exists already")
    now = datetime.now(UTC)
    user = User(
        username=username,
        display_name=display_name or username,
        role=role,
        password_hash=hash_password(password),
        active=True,
        failed_logins=0,
        created_at=now,
        password_changed_at=now,
    )
    db.add(user)
    db.flush()
    return user


def db_session() -> Session:
    """The request's database session (closed at the end of the request)."""
    if "db" not in g:
        g.db = current_app.extensions["roomvitals.sessions"]()
    return g.db


def current_user() -> User | None:
    return g.get("user")


def actor() -> Actor:
    user = current_user()
    return Actor(
        user_id=user.id if user else None,
        username=user.username if user else "anonymous",
        role=user.role if user else "",
        remote_addr=request.remote_addr or "",
    )


def public(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view as served without login (login page, health check)."""
    view.roomvitals_public = True  # type: ignore[attr-defined]
    return view


def roles_required(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Allow a view only to these roles (403 for the others; login is already enforced)."""
    for role in roles:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                abort(401)
            if user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        wrapper.roomvitals_roles = roles  # type: ignore[attr-defined]
        return wrapper

    return decorate


# --- Room tablets (issue 9): a paired tablet is a principal of its own, not a user. ---------
TABLET_COOKIE = "roomvitals_tablet"


def token_hash(token: str) -> str:
    """SHA-256 of a random device secret: stored instead of the secret, looked up by it."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def current_tablet() -> Tablet | None:
    return g.get("tablet")


def tablet_view(view: Callable[..., Any]) -> Callable[..., Any]:
    """A view for a paired room tablet only: its device cookie is the one credential it takes
    (no user login); without a valid, unrevoked tablet of this site it answers 401."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_tablet() is None:
            abort(401)
        return view(*args, **kwargs)

    wrapper.roomvitals_tablet = True  # type: ignore[attr-defined]
    return wrapper


def _load_tablet() -> Tablet | None:
    token = request.cookies.get(TABLET_COOKIE, "")
    if not token or len(token) > 200:
        return None
    tablet = db_session().scalar(select(Tablet).where(Tablet.token_hash == token_hash(token)))
    if tablet is None or tablet.revoked_at is not None:
        return None
    if tablet.site != current_app.config["SITE"]:
        return None
    return tablet


def _load_user() -> Any:
    g.user = None
    g.tablet = None
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "roomvitals_tablet", False):
        # A tablet's own views never look at a user login: the tablet is the principal.
        g.tablet = _load_tablet()
        return None
    is_public = request.endpoint == "static" or getattr(view, "roomvitals_public", False)
    user_id = session.get("user_id")
    if user_id is not None:
        idle = timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])
        last = session.get("last_seen", 0)
        now = datetime.now(UTC).timestamp()
        user = db_session().get(User, user_id)
        if user is None or not user.active or now - last > idle.total_seconds():
            session.clear()
            if not is_public:
                return _to_login(expired=user is not None)
        else:
            session["last_seen"] = now
            g.user = user
    if g.user is None and not is_public:
        if _load_tablet() is not None:
            # A paired tablet reaches its own views and the public ones, nothing else.
            abort(403, description="This tablet shows only its room's briefing.")
        return _to_login()
    return None


def _to_login(expired: bool = False) -> Any:
    wants_json = request.accept_mimetypes.best == "application/json" or request.path.startswith(
        ("/api/", "/fhir/")
    )
    if wants_json or request.method != "GET":
        abort(401)
    return redirect(url_for("auth.login", next=request.full_path, expired=int(expired)))


def _close_db(_exc: BaseException | None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.close()


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Any:
    error = None
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "").strip().lower()
        password = request.form.get("password", "")
        error = _attempt_login(username, password)
        if error == _RATE_LIMITED:
            return render_template(
                "auth/login.html", error=error, username=username, expired=False
            ), 429
        if error is None:
            target = request.args.get("next", "")
            # Only local paths: an open redirect would help phishing.
            if not target.startswith("/") or target.startswith("//"):
                target = url_for("rooms.index")
            return redirect(target)
    expired = request.args.get("expired") == "1"
    status = 401 if error else 200
    return render_template(
        "auth/login.html", error=error, username=username, expired=expired
    ), status


def _attempt_login(username: str, password: str) -> str | None:
    from dashboard import audit

    db = db_session()
    generic = "Wrong username or password."
    if not username or not password:
        return "Enter your username and password."
    now = datetime.now(UTC)
    address = request.remote_addr or ""
    if _recent_failures(db, address, now) >= ADDRESS_FAILURES_ALLOWED:
        return _RATE_LIMITED
    user = db.scalar(select(User).where(User.username == username))
    if user is None:
        verify_password(_DUMMY_HASH, password)  # same work either way: no user enumeration
        audit.append(db, audit.Actor(None, "unknown", "", address), "login_failed", "user", "")
        db.commit()
        return generic
    locked_until = user.locked_until
    if locked_until is not None and locked_until.tzinfo is None:
        locked_until = locked_until.replace(tzinfo=UTC)
    if locked_until is not None and locked_until > now:
        minutes = max(1, round((locked_until - now).total_seconds() / 60))
        return f"This account is locked after repeated failed logins. Try again in {minutes} min."
    who = audit.Actor(user.id, user.username, user.role, request.remote_addr or "")
    if not user.active or not verify_password(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + timedelta(minutes=LOCKOUT_MINUTES)
            user.failed_logins = 0
            audit.append(db, who, "lockout", "user", user.id)
        else:
            audit.append(db, who, "login_failed", "user", user.id)
        db.commit()
        if user.locked_until is not None and user.failed_logins == 0:
            return f"Too many failed logins: this account is locked for {LOCKOUT_MINUTES} minutes."
        return generic
    user.failed_logins = 0
    user.locked_until = None
    audit.append(db, who, "login", "user", user.id)
    db.commit()
    session.clear()
    session["user_id"] = user.id
    session["last_seen"] = now.timestamp()
    session.permanent = False
    return None


_DUMMY_HASH = _hasher.hash("roomvitals-timing-equaliser")
_RATE_LIMITED = (
    f"Too many failed logins from this address. Try again in {ADDRESS_WINDOW_MINUTES} minutes."
)


def _recent_failures(db: Session, address: str, now: datetime) -> int:
    from sqlalchemy import func

    from dashboard.models import AuditEvent

    since = now - timedelta(minutes=ADDRESS_WINDOW_MINUTES)
    return (
        db.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.action.in_(("login_failed", "lockout")),
                AuditEvent.remote_addr == address[:64],
                AuditEvent.at >= since,
            )
        )
        or 0
    )


@bp.post("/logout")
def logout() -> Any:
    from dashboard import audit

    user = current_user()
    if user is not None:
        audit.append(db_session(), actor(), "logout", "user", user.id)
        db_session().commit()
    session.clear()
    return redirect(url_for("auth.login"))


def init_app(app: Flask) -> None:
    app.before_request(_load_user)
    app.teardown_appcontext(_close_db)
    app.jinja_env.globals["current_user"] = current_user
    app.register_blueprint(bp)
