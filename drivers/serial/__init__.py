"""Incremental parsers for serial wire protocols (DESIGN.md, ``drivers.serial.parser``).

Each protocol module in this package defines parser classes with
``feed(data: bytes) -> list[measurement]`` and an ``errors`` counter (one per frame or line
dropped), and a module-level ``PROTOCOLS`` dict mapping wire-protocol names to those
classes. Garbage and broken frames are skipped and resynchronised, never raised.
"""

from __future__ import annotations

import pkgutil
from importlib import import_module
from typing import Protocol

from drivers.measurements import Measurement


class SerialParser(Protocol):
    errors: int

    def feed(self, data: bytes) -> list[Measurement]: ...


def _discover() -> dict[str, type]:
    registry: dict[str, type] = {}
    for info in pkgutil.iter_modules(__path__):
        module = import_module(f"{__name__}.{info.name}")
        for name, cls in getattr(module, "PROTOCOLS", {}).items():
            if name in registry:
                raise RuntimeError(f"serial protocol {name!r} is defined twice")
            registry[name] = cls
    return registry


_REGISTRY = _discover()
PROTOCOLS: tuple[str, ...] = tuple(sorted(_REGISTRY))


def parser(name: str) -> SerialParser:
    """A new parser for the wire protocol ``name`` (one of ``PROTOCOLS``)."""
    try:
        cls = _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown serial protocol {name!r}; known: {', '.join(PROTOCOLS)}"
        ) from None
    return cls()
