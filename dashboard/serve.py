"""Serving the dashboard in production: gunicorn with threaded workers, optional TLS.

Threads rather than processes alone, because a tablet keeps a Server-Sent Events stream
open for as long as it shows a briefing.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from roomvitals.heap import settle_after_startup


class _Gunicorn(BaseApplication):
    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if value is not None:
                self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


def serve(
    app: Flask,
    host: str,
    port: int,
    *,
    workers: int = 2,
    threads: int = 32,
    certfile: str | None = None,
    keyfile: str | None = None,
) -> None:
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "certfile": certfile,
        "keyfile": keyfile,
        "accesslog": "-",
        # Paths only: a query string could carry a patient's search terms.
        "access_log_format": '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms',
        "timeout": 60,
        "graceful_timeout": 10,
        "forwarded_allow_ips": "127.0.0.1",
        # A pooled connection must never be shared by two processes after the fork.
        "post_fork": lambda _server, _worker: app.extensions["roomvitals.engine"].dispose(
            close=False
        ),
    }
    settle_after_startup()  # in the master, before it forks the workers
    _Gunicorn(app, options).run()
