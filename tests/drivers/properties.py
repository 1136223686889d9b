"""Properties every serial parser must have, shared by the protocol tests.

A parser's result must not depend on how the bytes were split across reads: the same
measurements, the same raw frames and the same error count.
"""

from __future__ import annotations

from drivers.serial import parser


def feed_chunks(name: str, data: bytes, cuts: list[int]) -> tuple[list, int]:
    """Feed ``data`` to a new ``name`` parser split at ``cuts`` (any ints; taken modulo)."""
    p = parser(name)
    out: list = []
    previous = 0
    for cut in [*sorted({c % (len(data) + 1) for c in cuts}), len(data)]:
        out += p.feed(data[previous:cut])
        previous = cut
    return out, p.errors


def assert_chunking_invariant(name: str, stream: bytes, cuts: list[int]) -> None:
    whole_parser = parser(name)
    whole = whole_parser.feed(stream)
    chunked, errors = feed_chunks(name, stream, cuts)
    assert chunked == whole
    assert [m.raw for m in chunked] == [m.raw for m in whole]
    assert errors == whole_parser.errors
