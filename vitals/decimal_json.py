"""JSON with exact decimals: a ``Decimal`` is written with its own digits (90.90 stays 90.90).

The standard ``json`` module can only write floats, which would drop a device's trailing
zeros and turn 0.1 into 0.1000000000000000055 in some readers. Each Decimal is written as
a marked string and the marks are then replaced by the bare digits.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

_MARK = "\x00D:"
_MARKED = re.compile(r'"\\u0000D:(-?[0-9]+(?:\.[0-9]+)?)"')


class NumberError(ValueError):
    """A float or a non-finite number where only exact decimals may go."""


def dumps(document: Any, *, indent: int | None = None) -> str:
    separators = (",", ":") if indent is None else (",", ": ")
    text = json.dumps(_mark(document), separators=separators, ensure_ascii=False, indent=indent)
    return _MARKED.sub(r"\1", text)


def loads(text: str | bytes) -> Any:
    return json.loads(text, parse_float=Decimal)


def _mark(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise NumberError("non-finite numbers are sent as null with an absent reason")
        return _MARK + format(value, "f")
    if isinstance(value, float):
        raise NumberError("numbers are Decimal, never float (the device's precision is kept)")
    if isinstance(value, dict):
        return {k: _mark(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mark(v) for v in value]
    return value
