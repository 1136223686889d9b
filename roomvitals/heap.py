"""Cycle-collector settings for the long-running processes (gateway, ingest, web).

CPython's cycle collector examines the youngest objects every 700 net allocations and, now
and then, every object the process holds. A service holds tens of thousands that live as
long as it does (modules, SQLAlchemy metadata, compiled statements), and a batch of readings
allocates tens of thousands more that die by reference counting a moment later. With the
defaults the collector kept promoting a batch's objects to the older generations and walking
the whole heap again: in ``bench/ingest.py`` (one worker, SQLite) the MQTT thread spent about
half its time in collections, and filing rose from ~3,000 to ~4,000 readings/s with the
settings below.

- ``gc.freeze()`` once the process has started moves what it holds then out of the
  collector's sight for good (the Python docs recommend it before forking workers too: the
  pages are then not touched again, so they stay shared).
- A young generation of ``YOUNG_OBJECTS`` lets a batch's objects die before the collector
  ever looks at them. Cyclic garbage is still collected, only in larger steps.
"""

from __future__ import annotations

import gc

YOUNG_OBJECTS = 20_000
"""Net allocations between collections of the youngest generation (CPython's default: 700);
about one batch of readings' worth."""


def settle_after_startup() -> None:
    """Call once a service has imported and built what it keeps for its lifetime."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_OBJECTS, middle, oldest)
