"""A private MQTT broker for the demo and the tests: Mosquitto if installed, else amqtt.

Mosquitto runs as a child process on a free loopback port with a throw-away config (the
production config lives in ``deploy/mosquitto/``). Where no ``mosquitto`` binary exists,
the pure-Python amqtt broker runs in a thread so the demo still works on a bare machine.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f} s")


MOSQUITTO_CONF = """\
listener {port} 127.0.0.1
allow_anonymous true
persistence {persistence}
persistence_location {state}/
max_queued_messages 100000
max_inflight_messages 100
set_tcp_nodelay true
log_dest stderr
log_type error
log_type warning
{extra}
"""


@dataclass
class Mosquitto:
    """A ``mosquitto`` process on a loopback port; ``stop()``/``start()`` for fault tests."""

    port: int = field(default_factory=free_port)
    persistence: bool = True
    extra_config: str = ""
    binary: str = field(default_factory=lambda: shutil.which("mosquitto") or "mosquitto")
    config_file: Path | None = None
    """Start from this file (e.g. deploy/mosquitto/mosquitto.conf) instead of the throw-away
    config, with each key of ``substitute`` replaced by its value (paths, the listener)."""
    substitute: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="roomvitals-mosquitto-"))
        self.process: subprocess.Popen[bytes] | None = None
        if os.geteuid() == 0:
            # Started as root, mosquitto drops to its own user: let that user write its
            # persistence file here, or a restart of the broker silently loses its state.
            try:
                user = pwd.getpwnam("mosquitto")
            except KeyError:
                pass
            else:
                os.chown(self._dir, user.pw_uid, user.pw_gid)

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def directory(self) -> Path:
        """The broker's own temporary directory (config, log, persistence)."""
        return self._dir

    def start(self) -> Mosquitto:
        conf = self._dir / "mosquitto.conf"
        if self.config_file is not None:
            text = Path(self.config_file).read_text()
            for old, new in self.substitute.items():
                text = text.replace(old, new)
            conf.write_text(text + "\n" + self.extra_config + "\n")
        else:
            conf.write_text(
                MOSQUITTO_CONF.format(
                    port=self.port,
                    persistence="true" if self.persistence else "false",
                    state=self._dir,
                    extra=self.extra_config,
                )
            )
        self.process = subprocess.Popen(
            [self.binary, "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=open(self._dir / "mosquitto.log", "ab"),  # noqa: SIM115
        )
        try:
            wait_for_port(self.port)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"mosquitto did not start: {self.log()[-2000:]}") from None
        return self

    def log(self) -> str:
        path = self._dir / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, kill: bool = False) -> None:
        if self.process is None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)


class EmbeddedBroker:
    """amqtt in a background thread: for the demo where Mosquitto is not installed."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._thread: threading.Thread | None = None
        self._loop = None
        self._broker = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> EmbeddedBroker:
        import asyncio

        try:
            from amqtt.broker import Broker
        except ImportError as exc:
            raise RuntimeError(
                "no mosquitto binary and no amqtt: install Mosquitto "
                "(apt-get install mosquitto) or `pip install roomvitals[demo]`"
            ) from exc
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            self._broker = Broker(config, loop=loop)
            loop.run_until_complete(self._broker.start())
            ready.set()
            loop.run_forever()

        self._thread = threading.Thread(target=run, name="embedded-broker", daemon=True)
        self._thread.start()
        ready.wait(10)
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        import asyncio

        if self._loop is not None and self._broker is not None:
            future = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
            with contextlib.suppress(Exception):
                future.result(timeout=5)
            self._loop.call_soon_threadsafe(self._loop.stop)

    def cleanup(self) -> None:
        self.stop()


def start_private_broker() -> Mosquitto | EmbeddedBroker:
    if shutil.which("mosquitto"):
        return Mosquitto(persistence=False).start()
    return EmbeddedBroker().start()
