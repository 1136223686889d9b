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

from drivers import plugins as _plugins
from drivers.measurements import Measurement


class SerialParser(Protocol):
    errors: int

    def feed(self, data: bytes) -> list[Measurement]: ...


def _discover() -> dict[str, type]:
    registry: dict[str, type] = {}
    shipped_as_plugin = {}
    for info in pkgutil.iter_modules(__path__):
        module = import_module(f"{__name__}.{info.name}")
        if getattr(module, "SHIPPED_AS_ENTRY_POINT", False):
            shipped_as_plugin.update(module.PROTOCOLS)  # arrives through the entry point
            continue
        for name, cls in getattr(module, "PROTOCOLS", {}).items():
            if name in registry:
                raise RuntimeError(f"serial protocol {name!r} is defined twice")
            registry[name] = cls
            SOURCES[name] = _plugins.BUILT_IN
    # --- plug-in protocols (entry point group roomvitals.drivers; drivers/plugins.py) ---
    for found in _plugins.plugin_protocols():
        if found.protocol in registry:
            _plugins.report_problem(_plugins.DRIVERS_GROUP, found.protocol, found.source,
                                    f"protocol {found.protocol!r} is already defined")
            continue
        registry[found.protocol] = found.parser_class
        SOURCES[found.protocol] = found.source
    for name, cls in shipped_as_plugin.items():
        if name not in registry:  # a checkout not installed with pip install -e .
            _plugins.report_problem(_plugins.DRIVERS_GROUP, name, "roomvitals",
                                    "entry point missing (pip install -e . declares it); "
                                    "loaded from the source tree instead")
            registry[name] = cls
            SOURCES[name] = _plugins.BUILT_IN
    return registry


SOURCES: dict[str, str] = {}
"""protocol -> ``built-in`` or the package that brought it through an entry point."""
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


def parser_class(name: str) -> type:
    """The parser class of ``name`` (its module holds the protocol's metadata)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown serial protocol {name!r}; known: {', '.join(PROTOCOLS)}"
        ) from None
