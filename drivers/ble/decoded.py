"""The detailed result of one decode: the value plus what the plain dataclass cannot carry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class Decoded:
    """``value`` is what ``drivers.ble.decode`` returns.

    ``absent_reasons`` maps a field name (``"systolic"``, ``"pulse_rate"``, ``"spo2_fast"``...)
    to the FHIR data-absent-reason code of the special value the device sent there
    (``not-a-number``, ``error``, ``positive-infinity``, ``negative-infinity``; see
    ``drivers.ble.ieee11073``), so the gateway can say *why* a value is None.
    ``extra`` holds decoded fields the shared measurement types have no attribute for
    (PLX continuous SpO2PR-Fast/-Slow as ``spo2_fast``, ``pulse_rate_fast``, ``spo2_slow``,
    ``pulse_rate_slow``).
    """

    value: Any
    absent_reasons: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    extra: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    @classmethod
    def of(
        cls, value: Any, absent: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Decoded:
        return cls(
            value,
            MappingProxyType(dict(absent)) if absent else _EMPTY,
            MappingProxyType(dict(extra)) if extra else _EMPTY,
        )
