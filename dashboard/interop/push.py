"""Sending an encounter's transaction Bundle to a FHIR server, with retries.

A 5xx answer or a network failure is retried with backoff; a 4xx answer is final and its
OperationOutcome text is reported, since sending the same Bundle again cannot succeed.
The Bundle's conditional creates make a repeated send harmless.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from typing import Any

from dashboard.interop.fhir import to_json

log = logging.getLogger(__name__)


class PushError(RuntimeError):
    pass


def push_bundle(
    base_url: str,
    bundle: dict[str, Any],
    *,
    retries: int = 3,
    backoff: float = 1.0,
    timeout: float = 30.0,
    token: str | None = None,
) -> dict[str, Any]:
    """POST the transaction to the server's base URL; returns its transaction-response."""
    headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = to_json(bundle, indent=None).encode("utf-8")
    last = ""
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        request = urllib.request.Request(
            base_url.rstrip("/"), data=body, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            detail = _outcome_text(exc.read())
            last = f"HTTP {exc.code}: {detail}"
            if exc.code < 500:
                raise PushError(f"FHIR server refused the bundle: {last}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            last = f"{base_url}: {getattr(exc, 'reason', exc)}"
        log.warning("FHIR push attempt %d failed: %s", attempt + 1, last)
    raise PushError(f"FHIR push failed after {retries + 1} attempts: {last}")


def _outcome_text(body: bytes) -> str:
    try:
        outcome = json.loads(body)
        issues = outcome.get("issue", [])
        return "; ".join(
            i.get("diagnostics") or i.get("details", {}).get("text", "") for i in issues
        ) or body[:200].decode("utf-8", "replace")
    except (ValueError, AttributeError):
        return body[:200].decode("utf-8", "replace")
