"""The RoomVitals dashboard: a Flask app (app factory + blueprints) over SQLAlchemy."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from dashboard.db import database_url, make_engine, session_factory


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The app factory (DESIGN.md): ``DATABASE_URL`` from ``config``, env, or SQLite."""
    app = Flask(__name__, instance_relative_config=False)
    app.config.from_mapping(
        SECRET_KEY=os.environ.get("ROOMVITALS_SECRET_KEY", "dev-only-not-secret"),
        DATABASE_URL=database_url(None),
        SITE=os.environ.get("ROOMVITALS_SITE", "main"),
        REFRESH_SECONDS=3,
    )
    if config:
        app.config.update(config)
    app.config["DATABASE_URL"] = database_url(app.config["DATABASE_URL"])
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["roomvitals.engine"] = engine
    app.extensions["roomvitals.sessions"] = session_factory(engine)

    from dashboard import rooms

    app.register_blueprint(rooms.bp)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
