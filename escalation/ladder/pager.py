"""The manager's step: PagerDuty's Events API v2 (the runbook says phone), and its incident lifecycle.

An alert is opened with a `trigger` and ended with `acknowledge` or `resolve` carrying the same
`dedup_key` (developer.pagerduty.com, Events API v2: "Send an Alert Event", "Acknowledge or
Resolve an Alert"). alp's dedup key is per incident, escalation and step (`dedup_key`), so every
attempt at one page is one alert, and a new escalation after an acknowledgement timed out is a new
one. An acknowledged incident owes its alerts an `acknowledge`, a resolved one a `resolve` (queued
by `escalation.state.outbox.queue_followups`). The event kinds are the shared vocabulary
`escalation.model.PagerEvent`, since the outbox in `escalation.state` stores them.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

import aiohttp

from escalation.ladder.pages import Page
from escalation.model import PagerEvent

TRIGGER, ACKNOWLEDGE, RESOLVE = (e.value for e in PagerEvent)
RETRY_AFTER_MAX_S = 600.0  # a longer Retry-After is taken as this (a pager asking for hours is misconfigured)


class PagerThrottled(RuntimeError):
    """HTTP 429: the pager asked to wait `retry_after_s` seconds (None: it did not say)."""

    def __init__(self, message: str, retry_after_s: float | None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def dedup_key(incident_ref: str, escalation_id: str, step: int) -> str:
    """The one dedup key of a page: stable per incident, escalation and step (at most 255 characters),
    e.g. `alp-INC-7-1a2b3c4d-2`; every event about that page carries it."""
    return f"alp-{incident_ref}-{escalation_id[:8]}-{step}"


def trigger_event(page: Page, routing_key: str, dedup: str) -> dict[str, Any]:
    """An Events API v2 `trigger`: summary (at most 1024 characters), source, severity, the page's
    six fields as custom details."""
    return {
        "routing_key": routing_key,
        "event_action": TRIGGER,
        "dedup_key": dedup,
        "payload": {
            "summary": page.incident[:1024] or "alp incident",
            "source": "alp",
            "severity": "critical",
            "component": "adaptive-learning-platform",
            "custom_details": page.fields(),
        },
    }


def lifecycle_event(action: str, routing_key: str, dedup: str) -> dict[str, Any]:
    """An Events API v2 `acknowledge` or `resolve` of the alert `dedup` (no payload: PagerDuty
    ignores one on these actions)."""
    if action not in (ACKNOWLEDGE, RESOLVE):
        raise ValueError(f"not a lifecycle action: {action}")
    return {"routing_key": routing_key, "event_action": action, "dedup_key": dedup}


def retry_after_s(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or an HTTP date), capped at
    `RETRY_AFTER_MAX_S`; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return min(max(0.0, seconds), RETRY_AFTER_MAX_S)


async def send_pager(url: str, payload: dict[str, Any], timeout_s: float = 10) -> None:
    """POST the event; raise `PagerThrottled` on 429, RuntimeError on anything else but 2xx."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session,
        session.post(url, json=payload) as resp,
    ):
        if resp.status == 429:
            wait = retry_after_s(resp.headers.get("Retry-After"))
            said = f" (Retry-After {wait:g}s)" if wait is not None else ""
            raise PagerThrottled(f"pager webhook answered HTTP 429{said}", wait)
        if resp.status >= 300:
            raise RuntimeError(f"pager webhook answered HTTP {resp.status}: {(await resp.text())[:200]}")
