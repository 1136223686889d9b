"""Protocols and simulators from other packages, through Python entry points.

A package adds a serial protocol without touching this repository by declaring, in its
``pyproject.toml``::

    [project.entry-points."roomvitals.drivers"]
    acme-scale = "roomvitals_acme.driver"        # a module (or any object) with PROTOCOLS

    [project.entry-points."roomvitals.simulators"]
    acme-scale = "roomvitals_acme.simulator"     # a module with SIMULATORS

A ``roomvitals.drivers`` target has the same shape as a built-in parser module of
``drivers.serial``: ``PROTOCOLS`` (name -> parser class with ``feed(bytes)`` and ``errors``),
and optionally ``VERIFICATION`` (name -> one of ``LEVELS``), ``PROFILES`` (name -> the keyword
arguments of ``device_gateway.serial_profiles.SerialProfile``: ``device_kind``, ``baudrate``,
``poll``...) and ``strip_patient_ids(data: bytes) -> bytes`` when the wire carries a patient
identifier. What a ``roomvitals.simulators`` target holds is in ``simulators.plugins``.

A plug-in that cannot be loaded (import error, wrong shape, a name already taken) is left
out and reported in ``problems()`` with its package and the reason; the built-ins never
depend on it. Loading happens once per process.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from typing import Any

log = logging.getLogger(__name__)

DRIVERS_GROUP = "roomvitals.drivers"
SIMULATORS_GROUP = "roomvitals.simulators"

LEVELS = ("published examples", "simulator only", "unverified")
"""How far a protocol's code was checked: against byte examples published by the maker or in
captures of real devices; only against our own simulator; or not at all."""

BUILT_IN = "built-in"


@dataclass(frozen=True)
class Plugin:
    """One loaded entry point."""

    group: str
    name: str
    distribution: str
    """The installed package that declared it (``roomvitals`` for the one built-in)."""
    target: Any


@dataclass(frozen=True)
class Problem:
    """A plug-in left out, and why (shown by ``roomvitals devices``)."""

    group: str
    name: str
    distribution: str
    reason: str

    def __str__(self) -> str:
        return f"{self.group} entry point {self.name!r} of {self.distribution}: {self.reason}"


_problems: list[Problem] = []


def problems() -> tuple[Problem, ...]:
    return tuple(_problems)


def report_problem(group: str, name: str, distribution: str, reason: str) -> None:
    """Record a plug-in that is left out; logged once, listed by ``roomvitals devices``."""
    problem = Problem(group, name, distribution, reason)
    if problem not in _problems:
        _problems.append(problem)
        log.warning("plug-in left out: %s", problem)


@cache
def load(group: str) -> tuple[Plugin, ...]:
    """Every entry point of ``group`` that loads; the others go to ``problems()``."""
    loaded = []
    for entry in sorted(metadata.entry_points(group=group), key=lambda e: e.name):
        dist = entry.dist.name if entry.dist is not None else "unknown package"
        try:
            target = entry.load()
        except Exception as exc:  # a broken plug-in must never break the built-ins
            report_problem(group, entry.name, dist, f"cannot load {entry.value}: {_why(exc)}")
            continue
        loaded.append(Plugin(group, entry.name, dist, target))
    return tuple(loaded)


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def mapping(plugin: Plugin, attribute: str, *, required: bool) -> dict[str, Any]:
    """``plugin.target.<attribute>`` as a dict with str keys, or {} and a reported problem."""
    value = getattr(plugin.target, attribute, None)
    if value is None:
        if required:
            report_problem(plugin.group, plugin.name, plugin.distribution,
                           f"{plugin.target!r} has no {attribute} dict")
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        report_problem(plugin.group, plugin.name, plugin.distribution,
                       f"{attribute} must be a dict with protocol names as keys")
        return {}
    return value


# --- serial protocols -----------------------------------------------------------------------

@dataclass(frozen=True)
class ProtocolSource:
    protocol: str
    parser_class: type
    source: str
    """``built-in``, or the package that brought it through an entry point."""


@cache
def plugin_protocols() -> tuple[ProtocolSource, ...]:
    """Parser classes brought by ``roomvitals.drivers`` entry points (checked for shape)."""
    found = []
    for plugin in load(DRIVERS_GROUP):
        for name, cls in mapping(plugin, "PROTOCOLS", required=True).items():
            if not isinstance(cls, type) or not callable(getattr(cls, "feed", None)):
                report_problem(plugin.group, plugin.name, plugin.distribution,
                               f"PROTOCOLS[{name!r}] is not a parser class with feed()")
                continue
            level = _module_attr(cls, "VERIFICATION", {}).get(name, "unverified")
            if level not in LEVELS:
                report_problem(plugin.group, plugin.name, plugin.distribution,
                               f"VERIFICATION[{name!r}] {level!r} is not one of "
                               + ", ".join(LEVELS))
                continue
            found.append(ProtocolSource(name, cls, plugin.distribution))
    return tuple(found)


def plugin_profiles() -> dict[str, tuple[str, dict[str, Any]]]:
    """protocol -> (package, SerialProfile keyword arguments) from the plug-ins' PROFILES."""
    profiles: dict[str, tuple[str, dict[str, Any]]] = {}
    for plugin in load(DRIVERS_GROUP):
        for name, spec in mapping(plugin, "PROFILES", required=False).items():
            if not isinstance(spec, dict):
                report_problem(plugin.group, plugin.name, plugin.distribution,
                               f"PROFILES[{name!r}] must be a dict of SerialProfile settings")
                continue
            profiles[name] = (plugin.distribution, spec)
    return profiles


def _module_attr(cls: type, attribute: str, default: Any) -> Any:
    """An attribute of the module that defines ``cls`` (metadata lives next to the parser)."""
    module = sys.modules.get(cls.__module__)
    return getattr(module, attribute, default) if module is not None else default


def verification(cls: type, protocol: str) -> str:
    """The verification level the parser's module declares for ``protocol``."""
    level = _module_attr(cls, "VERIFICATION", {}).get(protocol, "unverified")
    return level if level in LEVELS else "unverified"


def patient_id_stripper(cls: type):
    """The module's ``strip_patient_ids(data) -> bytes`` or None (no patient ID on the wire)."""
    return _module_attr(cls, "strip_patient_ids", None)


def patient_id_fields(cls: type) -> str:
    """What the module says its patient-ID fields are (for the capture header)."""
    return str(_module_attr(cls, "PATIENT_ID_FIELDS", ""))
