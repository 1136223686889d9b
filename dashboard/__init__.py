"""The RoomVitals dashboard: a Flask app (app factory + blueprints) over SQLAlchemy."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from dashboard.db import database_url, make_engine, session_factory

DEV_SECRET = "dev-only-not-secret"


class InsecureConfigError(RuntimeError):
    """A production configuration that would expose patient data (e.g. the default secret)."""


def _secret_key() -> str:
    path = os.environ.get("ROOMVITALS_SECRET_KEY_FILE")
    if path:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    return os.environ.get("ROOMVITALS_SECRET_KEY", DEV_SECRET)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The app factory (DESIGN.md): ``DATABASE_URL`` from ``config``, env, or SQLite."""
    app = Flask(__name__, instance_relative_config=False)
    app.config.from_mapping(
        SECRET_KEY=_secret_key(),
        DATABASE_URL=database_url(None),
        SITE=os.environ.get("ROOMVITALS_SITE", "main"),
        PRODUCTION=os.environ.get("ROOMVITALS_ENV", "development") == "production",
        SESSION_IDLE_MINUTES=int(os.environ.get("ROOMVITALS_SESSION_IDLE_MINUTES", "15")),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="roomvitals_session",
        REFRESH_SECONDS=3,
    )
    if config:
        app.config.update(config)
    if app.config["PRODUCTION"]:
        if app.config["SECRET_KEY"] in (DEV_SECRET, "", None) or len(app.config["SECRET_KEY"]) < 32:
            raise InsecureConfigError(
                "ROOMVITALS_ENV=production needs a random ROOMVITALS_SECRET_KEY (or _FILE) of "
                "at least 32 characters, e.g. from `python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))'`"
            )
        app.config["SESSION_COOKIE_SECURE"] = True
    app.config["DATABASE_URL"] = database_url(app.config["DATABASE_URL"])
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["roomvitals.engine"] = engine
    app.extensions["roomvitals.sessions"] = session_factory(engine)

    from dashboard import auth, rooms, security

    security.init_app(app)
    auth.init_app(app)
    app.register_blueprint(rooms.bp)
    # The clinic workflow (issue 5): the assistant's pages and the admin's question sets.
    from dashboard import assistant, triage_admin

    app.register_blueprint(assistant.bp)
    app.register_blueprint(triage_admin.bp)
    # The physician's live briefing and the clinic board (issue 5, part B).
    from dashboard import board, briefing_views

    app.register_blueprint(briefing_views.bp)
    app.register_blueprint(board.bp)
    # FHIR read endpoints (issue 6).
    from dashboard.interop import views as fhir_views

    app.register_blueprint(fhir_views.bp)
    # Room tablets, the audit trail's admin page, query-string-free access logs (issue 9).
    from dashboard import audit_views, log_privacy, tablets

    app.register_blueprint(tablets.bp)
    app.register_blueprint(tablets.admin_bp)
    app.register_blueprint(audit_views.bp)
    log_privacy.install()

    @app.get("/healthz")
    @auth.public
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
