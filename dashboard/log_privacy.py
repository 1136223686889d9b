"""Access logs without query strings: a URL's query can carry a patient's identifiers
(``/fhir/Observation?patient=<MRN>``, the audit search by MRN), and logs are read by more
people and kept longer than the chart.

gunicorn's access log is configured with the path only (``dashboard/serve.py``, ``%(U)s``).
Werkzeug's development server (``roomvitals web --dev``, tests) logs the whole request line,
so ``install()`` puts a filter on its logger that cuts every query string from the record.
"""

from __future__ import annotations

import logging
import re

# A request target inside a request line: a path, then "?query" up to the next space/quote.
_QUERY = re.compile(r"(/[^\s?\"']*)\?[^\s\"']*")


def strip_query(text: str) -> str:
    return _QUERY.sub(r"\1", text)


class QueryStringFilter(logging.Filter):
    """Rewrites a record's message and string arguments without query strings."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = strip_query(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(strip_query(a) if isinstance(a, str) else a for a in record.args)
        return True


def install(logger_names: tuple[str, ...] = ("werkzeug",)) -> None:
    """Idempotent: each named logger gets one filter."""
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, QueryStringFilter) for f in logger.filters):
            logger.addFilter(QueryStringFilter())
