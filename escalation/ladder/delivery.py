"""Delivering a step's page from the outbox: one attempt at a time, retried until it is delivered
or the incident stops being triggered on that escalation.

Each attempt is claimed in the outbox (which re-checks the incident in the same statement), is
bounded by `page_attempt_timeout_s`, and is recorded as sent or failed only by its own claim. A
failed attempt is tried again after `page_backoff_s`, doubling up to `page_backoff_max_s`; after
`page_retries + 1` failures the incident's thread says since when the page has been failing.
The manager's page carries a PagerDuty `dedup_key` per incident step, so a repeated attempt is one
alert; a Slack page is looked for in the incident's thread before an attempt that follows another.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from escalation.config import EscalationSettings
from escalation.ladder.notify import Notifier
from escalation.ladder.pager import pager_payload, send_pager
from escalation.ladder.pages import build_page
from escalation.model import Incident, TimelineKind
from escalation.state.outbox import Attempt, Outbox, PageKey
from escalation.state.store import Store

log = logging.getLogger(__name__)


class ClaimLost(Exception):
    """This process was paused or stuck past its attempt's lease: another may be sending the page."""


def dedup_key(inc: Incident, key: PageKey) -> str:
    """Stable per incident, escalation and step: a retry of the same page is the same alert."""
    return f"alp-{inc.ref}-{key.escalation_id[:8]}-{key.step}"


class Delivery:
    def __init__(
        self,
        store: Store,
        outbox: Outbox,
        cfg: EscalationSettings,
        notifier: Notifier,
        emit: Callable[[str, dict[str, Any]], None],
        refresh: Callable[[Incident], Awaitable[None]],
        changes: Callable[[Incident], Awaitable[list[str]]],
    ) -> None:
        self.store, self.outbox, self.cfg, self.notifier = store, outbox, cfg, notifier
        self.emit, self.refresh, self.changes = emit, refresh, changes
        self._tasks: dict[PageKey, asyncio.Task[None]] = {}
        # The incident's checks run again before its page is built (Escalator.recheck; bounded there).
        self.recheck: Callable[[Incident, str], Awaitable[int]] | None = None

    @property
    def lease_s(self) -> float:
        return 2 * self.cfg.page_attempt_timeout_s

    def start(self, key: PageKey) -> None:
        """Attempt `key` in the background (once at a time in this process)."""
        if key in self._tasks:
            return
        task = asyncio.create_task(self.attempt(key))
        self._tasks[key] = task
        task.add_done_callback(lambda _: self._tasks.pop(key, None))

    async def wait(self, key: PageKey) -> None:
        """Until the attempt at `key` in flight here (if any) has finished."""
        task = self._tasks.get(key)
        if task is not None:
            await asyncio.wait([task])

    async def drain(self, timeout_s: float) -> None:
        """Let attempts in flight finish (a clean stop), then cancel what is left."""
        tasks = list(self._tasks.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout_s)
            for t in pending:
                t.cancel()

    async def attempt(self, key: PageKey) -> None:
        try:
            inc = await self.store.get(key.incident_id)
            if inc is None:
                return
            changes = await self._changes(inc)  # before the claim: the lease covers the send only
            if self.recheck is not None and key.step < len(inc.ladder):  # the page says what is true now
                await self.recheck(inc, f"before paging {inc.ladder[key.step].name}")
            claimed = await self.outbox.claim(key, self.lease_s)
            if claimed is None:
                return
            await self._attempt(claimed, changes)
        except Exception:  # the lease expires and the next leader's reconciler tries again
            log.exception("delivering step %s of incident %s", key.step, key.incident_id)

    async def _changes(self, inc: Incident) -> list[str]:
        """Recent changes for the page's evidence; a page never waits long for them."""
        try:
            return await asyncio.wait_for(self.changes(inc), self.cfg.page_attempt_timeout_s)
        except Exception as err:
            log.warning("%s: recent changes left out of the page: %s", inc.ref, err)
            return []

    async def _attempt(self, attempt: Attempt, changes: list[str]) -> None:
        inc, step = attempt.incident, attempt.key.step
        rung = inc.ladder[step]
        try:
            await asyncio.wait_for(self._send(attempt, changes), self.cfg.page_attempt_timeout_s)
        except ClaimLost:
            log.warning("%s: the attempt at %s outlived its lease; leaving the page to the leader", inc.ref, rung.name)
            return
        except Exception as err:
            error = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
            log.warning("paging %s for %s failed (attempt %s): %s", rung.name, inc.ref, attempt.number, error)
            await self._failed(attempt, error)
            return
        if not await self.outbox.sent(attempt):
            return  # another attempt took over (this one outlived its lease): it records the outcome
        self.emit("page", {"step": rung.name, "result": "sent"})
        await self.store.log(
            inc.id,
            "alp",
            TimelineKind.PAGE,
            f"paged {rung.name} {rung.mention}",
            {"step": step, "attempts": attempt.number},
        )
        if attempt.failing_since is not None and attempt.number > self.cfg.page_retries + 1:
            await self._say(inc, f":white_check_mark: page to {rung.name} delivered after {attempt.number} attempts")
        await self.refresh(await self.store.get(inc.id) or inc)

    async def _send(self, attempt: Attempt, changes: list[str]) -> None:
        inc, key = attempt.incident, attempt.key
        rung = inc.ladder[key.step]
        page = build_page(inc, rung, await self.store.timeline(inc.id), changes=changes)
        if not attempt.holds(self.lease_s):
            raise ClaimLost()
        if rung.via == "pager":
            if not self.cfg.pager_webhook_url:
                raise RuntimeError("no pager webhook configured (escalation.pager_webhook_url)")
            payload = pager_payload(page, self.cfg.pager_routing_key, inc.ref)
            payload["dedup_key"] = dedup_key(inc, key)
            await send_pager(self.cfg.pager_webhook_url, payload, timeout_s=self.cfg.page_attempt_timeout_s)
            await self._say(inc, f":pager: paged {rung.mention} by phone")
            return
        if attempt.number > 1 and await self.notifier.already_paged(inc, rung, page):
            log.warning("%s: the page to %s was already in the thread; not posting it again", inc.ref, rung.name)
            return
        if not attempt.holds(self.lease_s):
            raise ClaimLost()
        await self.notifier.page(inc, rung, page)

    async def _failed(self, attempt: Attempt, error: str) -> None:
        inc, rung = attempt.incident, attempt.incident.ladder[attempt.key.step]
        retry_in = min(self.cfg.page_backoff_max_s, self.cfg.page_backoff_s * 2 ** (attempt.number - 1))
        since = await self.outbox.failed(attempt, error, retry_in)
        self.emit("page", {"step": rung.name, "result": "failed"})
        if since is None or attempt.number != self.cfg.page_retries + 1:
            return
        await self.store.log(
            inc.id,
            "alp",
            TimelineKind.PAGE_FAILED,
            f"paging {rung.name} failing since {_hhmm(since)} ({attempt.number} attempts): {error}; still retrying",
            {"step": attempt.key.step},
        )
        await self._say(
            inc,
            f":warning: page to {rung.name} failing since {_hhmm(since)} ({error}); "
            f"retrying every {self.cfg.page_backoff_max_s:g}s at most while the incident stays triggered",
        )

    async def _say(self, inc: Incident, text: str) -> None:
        try:
            await self.notifier.say(inc, text)
        except Exception as err:
            log.warning("notification failed: %s", err)


def _hhmm(at: datetime) -> str:
    return f"{at:%H:%M} UTC"
