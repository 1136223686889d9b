"""``/metrics``: the gateway's health in the Prometheus text format (version 0.0.4).

Served on a loopback port (``metrics_port`` in the gateway config) by a small threaded HTTP
server, so a local Prometheus node agent or ``curl`` can read it; it names devices and
counts, never a patient. Values are read from the gateway at each scrape.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from device_gateway.gateway import Gateway

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str  # "counter" | "gauge"
    help: str
    samples: tuple[tuple[dict[str, str], float], ...] = field(default_factory=tuple)


def metric(name: str, kind: str, help: str, value: float) -> Metric:
    return Metric(name, kind, help, (({}, value),))


def render(metrics: list[Metric]) -> str:
    lines: list[str] = []
    for m in metrics:
        lines.append(f"# HELP {m.name} {m.help}")
        lines.append(f"# TYPE {m.name} {m.kind}")
        for labels, value in m.samples:
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
            lines.append(f"{m.name}{{{text}}} {value:g}" if text else f"{m.name} {value:g}")
    return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def gateway_metrics(gateway: Gateway) -> list[Metric]:
    """Readings decoded, published, rejected; outbox depth; reconnects; link states."""
    c = gateway.counters
    p = gateway.publisher
    outbox = gateway.outbox
    status = gateway.status()
    prefix = "roomvitals_gateway_"
    return [
        metric(prefix + "measurements_decoded_total", "counter",
               "Measurements decoded from devices.", c.decoded),
        metric(prefix + "readings_queued_total", "counter",
               "Readings written to the outbox.", c.queued),
        metric(prefix + "not_readings_total", "counter",
               "Measurements that are not patient readings (zero, motion, overload).",
               c.not_readings),
        metric(prefix + "readings_rejected_total", "counter",
               "Measurements that do not fit the message contract.", c.rejected),
        metric(prefix + "readings_published_total", "counter",
               "Readings handed to the MQTT client (re-sends included).", p.published),
        metric(prefix + "readings_acked_total", "counter",
               "Readings acknowledged by the broker and removed from the outbox.", p.acked),
        metric(prefix + "readings_refused_total", "counter",
               "Publishes the broker refused (e.g. not authorized by its ACL).", p.denied),
        metric(prefix + "outbox_errors_total", "counter",
               "Readings that could not be written to the outbox at once.", c.outbox_errors),
        metric(prefix + "outbox_depth", "gauge",
               "Readings waiting to be acknowledged (in the outbox or held in memory).",
               status["outbox_depth"]),
        metric(prefix + "outbox_held", "gauge",
               "Readings held in memory because the outbox cannot be written.", outbox.held),
        metric(prefix + "outbox_ok", "gauge",
               "1 when the outbox file can be written, else 0.", 0 if outbox.error else 1),
        metric(prefix + "inflight", "gauge",
               "Readings sent and not yet acknowledged.", p.inflight),
        metric(prefix + "broker_connected", "gauge",
               "1 when connected to the broker.", 1 if p.connected else 0),
        metric(prefix + "reconnects_total", "counter",
               "Connections to the broker lost since start.", p.reconnects),
        metric(prefix + "uptime_seconds", "gauge",
               "Seconds since the gateway started.", status["uptime_s"]),
        Metric(prefix + "device_connected", "gauge",
               "1 when the device's link is connected.",
               tuple(({"device": d}, 1 if s == "connected" else 0)
                     for d, s in sorted(status["devices"].items()))),
    ]


class MetricsServer:
    """Serves ``collect()`` rendered at ``http://127.0.0.1:<port>/metrics``."""

    def __init__(self, port: int, collect: Callable[[], list[Metric]],
                 host: str = "127.0.0.1") -> None:
        self.collect = collect
        handler = _handler(self)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="gateway-metrics", daemon=True
        )

    def start(self) -> MetricsServer:
        self._thread.start()
        log.info("metrics on http://127.0.0.1:%d/metrics", self.port)
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(server: MetricsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != "/metrics":
                self.send_error(404, "only /metrics is served here")
                return
            try:
                body = render(server.collect()).encode()
            except Exception:  # a scrape must never take the gateway down; it is logged
                log.exception("cannot collect metrics")
                self.send_error(500, "cannot collect metrics; see the gateway log")
                return
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("metrics: " + format, *args)

    return Handler
