"""The gateway's configuration file (TOML), read into dataclasses with clear errors.

Example (``examples/gateway.toml``)::

    site = "main"
    gateway_id = "gw-suite-a"
    state_dir = "/var/lib/roomvitals/gateway"

    [broker]
    url = "mqtt://127.0.0.1:1883"      # mqtts:// for TLS
    username = "gw-suite-a"
    password_file = "/etc/roomvitals/mqtt-password"   # or env ROOMVITALS_MQTT_PASSWORD

    [[devices]]
    id = "scale-1"
    room = "exam-1"
    protocol = "healthometer-esc"
    port = "/dev/serial/by-id/usb-Silicon_Labs_CP2102-if00-port0"
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from device_gateway.serial_profiles import PROFILES
from vitals.mqtt import BrokerConfig
from vitals.topics import TopicError, check_segment


class ConfigError(ValueError):
    """The configuration file is missing something or has a wrong value; the text says which."""


@dataclass(frozen=True)
class DeviceConfig:
    id: str
    room: str
    protocol: str
    transport: str = "serial"
    """``serial`` or ``ble``."""
    port: str = ""
    """Serial: the port path (a stable /dev/serial/by-id/... name)."""
    model: str = ""
    serial: str = ""
    baudrate: int | None = None
    poll_interval: float = 2.0
    options: dict = field(default_factory=dict, compare=False)
    """Transport-specific settings that the link reads (e.g. BLE address, name, backend)."""


@dataclass(frozen=True)
class GatewayConfig:
    site: str
    gateway_id: str
    broker: BrokerConfig
    state_dir: Path
    devices: tuple[DeviceConfig, ...] = field(default_factory=tuple)
    timezone: str | None = None
    metrics_port: int | None = None
    """Serve /metrics (Prometheus text) on this loopback port; None: no endpoint."""


def load_config(path: str | os.PathLike[str]) -> GatewayConfig:
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"configuration file {os.fspath(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{os.fspath(path)}: not valid TOML: {exc}") from None
    return parse_config(data, base=Path(path).resolve().parent)


def parse_config(data: dict, base: Path | None = None) -> GatewayConfig:
    base = base or Path.cwd()
    site = _segment(data, "site")
    gateway_id = _segment(data, "gateway_id")
    broker = _broker(data.get("broker", {}), base)
    state_dir = Path(data.get("state_dir", "var/gateway"))
    if not state_dir.is_absolute():
        state_dir = base / state_dir
    devices = tuple(_device(i, d) for i, d in enumerate(data.get("devices", [])))
    ids = [d.id for d in devices]
    if len(ids) != len(set(ids)):
        raise ConfigError("devices: two devices share an id")
    metrics_port = data.get("metrics_port")
    if metrics_port is not None and (
        not isinstance(metrics_port, int) or not 0 <= metrics_port <= 65535
    ):
        raise ConfigError(f"metrics_port {metrics_port!r} must be a port number (0-65535)")
    return GatewayConfig(
        site, gateway_id, broker, state_dir, devices, data.get("timezone"), metrics_port
    )


def _segment(data: dict, key: str, where: str = "") -> str:
    if key not in data:
        raise ConfigError(f"{where}{key} is required")
    try:
        return check_segment(f"{where}{key}", data[key])
    except TopicError as exc:
        raise ConfigError(str(exc)) from None


def _broker(data: dict, base: Path) -> BrokerConfig:
    password = os.environ.get("ROOMVITALS_MQTT_PASSWORD")
    if data.get("password_file"):
        password_path = base / data["password_file"]
        try:
            password = password_path.read_text("utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"broker.password_file: cannot read {password_path}: {exc}") from None
    extra: dict[str, object] = {}
    for name in ("ca_file", "cert_file", "key_file"):  # TLS: private CA, client certificate
        if data.get(name):
            extra[name] = str(base / data[name])
    if "keepalive" in data:
        extra["keepalive"] = int(data["keepalive"])
    broker = BrokerConfig.from_url(data.get("url", "mqtt://127.0.0.1:1883"), **extra)
    if data.get("username"):
        broker = BrokerConfig(**{**broker.__dict__, "username": data["username"]})
    if password is not None:
        broker = BrokerConfig(**{**broker.__dict__, "password": password})
    return broker


TRANSPORTS = ("serial", "ble")


def _device(index: int, data: dict) -> DeviceConfig:
    where = f"devices[{index}]."
    transport = data.get("transport", "serial")
    if transport not in TRANSPORTS:
        raise ConfigError(f"{where}transport {transport!r} is not one of {', '.join(TRANSPORTS)}")
    protocol = data.get("protocol")
    if transport == "serial":
        if protocol not in PROFILES:
            raise ConfigError(
                f"{where}protocol {protocol!r} is not one of {', '.join(sorted(PROFILES))}"
            )
        if not data.get("port"):
            raise ConfigError(f"{where}port is required (e.g. /dev/serial/by-id/...)")
    else:
        from device_gateway.ble_config import check_ble_device

        check_ble_device(where, data)
    known = {
        "id",
        "room",
        "protocol",
        "transport",
        "port",
        "model",
        "serial",
        "baudrate",
        "poll_interval",
    }
    return DeviceConfig(
        id=_segment(data, "id", where),
        room=_segment(data, "room", where),
        protocol=str(protocol),
        transport=transport,
        port=str(data.get("port", "")),
        model=str(data.get("model", "")),
        serial=str(data.get("serial", "")),
        baudrate=int(data["baudrate"]) if "baudrate" in data else None,
        poll_interval=float(data.get("poll_interval", 2.0)),
        options={k: v for k, v in data.items() if k not in known},
    )
