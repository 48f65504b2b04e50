"""A local PagerDuty Events API v2 receiver that checks events as PagerDuty documents them
(developer.pagerduty.com, "Send an Alert Event" / "Acknowledge or Resolve an Alert") and keeps the
alerts' states by dedup key, so a test can ask whether PagerDuty's incident has ended.

What it checks (an event failing a rule gets PagerDuty's 400 `invalid event` with the errors):
- `routing_key`: a non-empty string (the integration key); `event_action`: trigger, acknowledge or resolve;
- `dedup_key`: at most 255 characters, required for acknowledge and resolve;
- trigger: `payload` with `summary` (1..1024 characters), `source` (non-empty) and `severity`
  (critical, error, warning, info); `timestamp`, `component`, `group`, `class`, `custom_details`
  optional; nothing else in `payload`.
Answers: 202 `{"status": "success", "message": "Event processed", "dedup_key": …}`; scripted
answers (`answer_next`) let a test throttle (429 with `Retry-After`) or fail (500) the next events.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
PAYLOAD_FIELDS = {"summary", "source", "severity", "timestamp", "component", "group", "class", "custom_details"}


def problems(event: Any) -> list[str]:
    """What is wrong with `event` by PagerDuty's rules (empty: valid)."""
    if not isinstance(event, dict):
        return ["event must be a JSON object"]
    errs = []
    if not isinstance(event.get("routing_key"), str) or not event["routing_key"]:
        errs.append("'routing_key' is missing or blank")
    action = event.get("event_action")
    if action not in ACTIONS:
        errs.append(f"'event_action' must be one of {ACTIONS}")
    dedup = event.get("dedup_key")
    if dedup is not None and (not isinstance(dedup, str) or len(dedup) > 255):
        errs.append("'dedup_key' must be a string of at most 255 characters")
    if action in ("acknowledge", "resolve") and not dedup:
        errs.append(f"'dedup_key' is required for {action}")
    if action == "trigger":
        payload = event.get("payload")
        if not isinstance(payload, dict):
            return [*errs, "'payload' is missing"]
        summary = payload.get("summary")
        if not isinstance(summary, str) or not 1 <= len(summary) <= 1024:
            errs.append("'payload.summary' must be 1..1024 characters")
        if not isinstance(payload.get("source"), str) or not payload["source"]:
            errs.append("'payload.source' is missing")
        if payload.get("severity") not in SEVERITIES:
            errs.append(f"'payload.severity' must be one of {SEVERITIES}")
        if extra := set(payload) - PAYLOAD_FIELDS:
            errs.append(f"unknown payload fields {sorted(extra)}")
    return errs


@dataclass
class Received:
    at: float  # time.monotonic()
    event: dict[str, Any]
    status: int


@dataclass
class PagerDutyFake:
    """Events in arrival order (`received`, valid or not), the accepted ones (`events`) and each
    dedup key's alert state (`alerts`: triggered, acknowledged, resolved)."""

    received: list[Received] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    alerts: dict[str, str] = field(default_factory=dict)
    scripted: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    arrived: list[Received] = field(default_factory=list)  # as they arrive, before `delay_s`
    delay_s: float = 0.0  # how long each answer takes (a slow PagerDuty)
    url: str = ""
    _runner: web.AppRunner | None = None

    def answer_next(self, status: int, headers: dict[str, str] | None = None, times: int = 1) -> None:
        """The next `times` events are answered `status` (with `headers`) and not processed."""
        self.scripted += [(status, headers or {})] * times

    def actions(self, dedup_key: str) -> list[str]:
        return [e["event_action"] for e in self.events if e.get("dedup_key") == dedup_key]

    async def _enqueue(self, request: web.Request) -> web.Response:
        try:
            event = await request.json()
        except ValueError:
            event = None
        self.arrived.append(Received(time.monotonic(), event, 0))
        while self.delay_s > 0 and time.monotonic() - self.arrived[-1].at < self.delay_s:
            await asyncio.sleep(0.05)
        if self.scripted:
            status, headers = self.scripted.pop(0)
            self.received.append(Received(time.monotonic(), event, status))
            return web.json_response(
                {"status": "throttled" if status == 429 else "error"}, status=status, headers=headers
            )
        if errs := problems(event):
            self.received.append(Received(time.monotonic(), event, 400))
            return web.json_response(
                {"status": "invalid event", "message": "Event object is invalid", "errors": errs}, status=400
            )
        self.received.append(Received(time.monotonic(), event, 202))
        self.events.append(event)
        key = event.get("dedup_key") or f"pd-{len(self.events)}"
        state = self.alerts.get(key)
        if event["event_action"] == "trigger" and state in (None, "resolved"):
            self.alerts[key] = "triggered"
        elif event["event_action"] == "acknowledge" and state == "triggered":
            self.alerts[key] = "acknowledged"
        elif event["event_action"] == "resolve" and state in ("triggered", "acknowledged"):
            self.alerts[key] = "resolved"
        return web.json_response({"status": "success", "message": "Event processed", "dedup_key": key}, status=202)

    async def start(self) -> PagerDutyFake:
        app = web.Application()
        app.router.add_post("/v2/enqueue", self._enqueue)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/v2/enqueue"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
