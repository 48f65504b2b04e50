"""The manager's step: a PagerDuty Events API v2 compatible webhook (the runbook says phone)."""

from __future__ import annotations

from typing import Any

import aiohttp

from escalation.ladder.pages import Page


def pager_payload(page: Page, routing_key: str, incident_ref: str) -> dict[str, Any]:
    """An Events API v2 `trigger` event; the dedup key keeps retries one alert."""
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": f"alp-{incident_ref}",
        "payload": {
            "summary": page.incident[:1024],
            "source": "alp",
            "severity": "critical",
            "component": "adaptive-learning-platform",
            "custom_details": page.fields(),
        },
    }


async def send_pager(url: str, payload: dict[str, Any], timeout_s: float = 10) -> None:
    """POST the event; raise on anything but 2xx."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session,
        session.post(url, json=payload) as resp,
    ):
        if resp.status >= 300:
            raise RuntimeError(f"pager webhook answered HTTP {resp.status}: {(await resp.text())[:200]}")
