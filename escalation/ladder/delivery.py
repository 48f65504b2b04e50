"""Delivering a step's page from the outbox: one attempt at a time, retried until it is delivered
or the incident stops being triggered on that escalation.

Each attempt is claimed in the outbox (which re-checks the incident in the same statement), is
bounded by `page_attempt_timeout_s`, and is recorded as sent or failed only by its own claim. A
failed attempt is tried again after `page_backoff_s`, doubling up to `page_backoff_max_s`; after
`page_retries + 1` failures the incident's thread says since when the page has been failing.
The manager's page carries a PagerDuty `dedup_key` per incident step (`escalation.ladder.pager`), so
a repeated attempt is one alert, and the same outbox and retries carry that alert's `acknowledge` and
`resolve` when alp's incident is acknowledged or resolved. A 429's `Retry-After` is waited out before
the next attempt. A Slack page is looked for in the incident's thread before an attempt that follows
another. A Slack page waits, bounded, for its incident's owed announcement (`OwedEffects.announced`),
so it goes into the thread; past the bound it is posted in the channel, saying why.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from escalation.config import EscalationSettings
from escalation.ladder.notify import Notifier
from escalation.ladder.pager import (
    ACKNOWLEDGE,
    RESOLVE,
    TRIGGER,
    PagerThrottled,
    dedup_key,
    lifecycle_event,
    send_pager,
    trigger_event,
)
from escalation.ladder.pages import build_page
from escalation.model import Incident, Rung, TimelineKind
from escalation.oncall.paging import Gap
from escalation.state.outbox import Attempt, Outbox, PageKey
from escalation.state.store import Store

log = logging.getLogger(__name__)


class ClaimLost(Exception):
    """This process was paused or stuck past its attempt's lease: another may be sending the page."""


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
        people: Callable[[Rung], Awaitable[tuple[Rung, str] | Gap]] | None = None,
        on_gap: Callable[[Incident, int], Awaitable[None]] | None = None,
        recheck: Callable[[Incident, str], Awaitable[int]] | None = None,
        announced: Callable[[Incident], Awaitable[Incident]] | None = None,
    ) -> None:
        self.store, self.outbox, self.cfg, self.notifier = store, outbox, cfg, notifier
        self.emit, self.refresh, self.changes = emit, refresh, changes
        self._tasks: dict[PageKey, asyncio.Task[None]] = {}
        # On-call schedules (escalation.oncall.paging): the rung's people now, or a Gap; and what
        # to do after a gap (the engine makes the next rung due at once). None: rungs as configured.
        self.people, self.on_gap = people, on_gap
        # The incident's checks run again before its page is built (Reconciler.recheck; bounded there).
        self.recheck = recheck
        # The incident once its owed announcement is recorded, waited for (bounded) before a Slack
        # page, which belongs in its thread (OwedEffects.announced). None: pages do not wait.
        self.announced = announced

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
            if key.action != TRIGGER:
                claimed = await self.outbox.claim(key, self.lease_s)
                if claimed is not None:
                    await self._pager_event(claimed)
                return
            changes = await self._changes(inc)  # before the claim: the lease covers the send only
            if self.recheck is not None and key.step < len(inc.ladder):  # the page says what is true now
                await self.recheck(inc, f"before paging {inc.ladder[key.step].name}")
            if self.announced is not None and key.step < len(inc.ladder) and inc.ladder[key.step].via != "pager":
                await self.announced(inc)  # its thread first; the claim below reads the incident again
            claimed = await self.outbox.claim(key, self.lease_s)
            if claimed is None:
                return
            await self._attempt(claimed, changes)
            if inc.ladder[key.step].via == "pager":  # an acknowledge/resolve may be waiting for this attempt
                for action in (ACKNOWLEDGE, RESOLVE):
                    self.start(PageKey(key.incident_id, key.escalation_id, key.step, action))
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
        rung, note = inc.ladder[step], ""
        if self.people is not None and rung.schedule:
            resolved = await self.people(rung)
            if isinstance(resolved, Gap):
                await self._gap(attempt, resolved)
                return
            rung, note = resolved
        try:
            await asyncio.wait_for(self._send(attempt, changes, rung), self.cfg.page_attempt_timeout_s)
        except ClaimLost:
            log.warning("%s: the attempt at %s outlived its lease; leaving the page to the leader", inc.ref, rung.name)
            return
        except Exception as err:
            error = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
            log.warning("paging %s for %s failed (attempt %s): %s", rung.name, inc.ref, attempt.number, error)
            await self._failed(attempt, error, _asked_wait(err))
            return
        if not await self.outbox.sent(attempt):
            return  # another attempt took over (this one outlived its lease): it records the outcome
        self.emit("page", {"step": rung.name, "result": "sent"})
        await self.store.log(
            inc.id,
            "alp",
            TimelineKind.PAGE,
            f"paged {rung.name} {rung.mention}",
            {"step": step, "attempts": attempt.number, "paged": list(rung.dm_users), "schedule": rung.schedule},
        )
        if note:
            await self._say(inc, f":warning: {rung.name}: {note}")
        if attempt.failing_since is not None and attempt.number > self.cfg.page_retries + 1:
            await self._say(inc, f":white_check_mark: page to {rung.name} delivered after {attempt.number} attempts")
        await self.refresh(await self.store.get(inc.id) or inc)

    async def _send(self, attempt: Attempt, changes: list[str], rung: Rung) -> None:
        inc, key = attempt.incident, attempt.key
        page = build_page(inc, rung, await self.store.timeline(inc.id), self.store.clock.now(), changes=changes)
        if not attempt.holds(self.lease_s):
            raise ClaimLost()
        if rung.via == "pager":
            if not self.cfg.pager_webhook_url:
                raise RuntimeError("no pager webhook configured (escalation.pager_webhook_url)")
            payload = trigger_event(page, self.cfg.pager_routing_key, dedup_key(inc.ref, key.escalation_id, key.step))
            await send_pager(self.cfg.pager_webhook_url, payload, timeout_s=self.cfg.page_attempt_timeout_s)
            await self._say(inc, f":pager: paged {rung.mention} by phone")
            return
        if attempt.number > 1 and await self.notifier.already_paged(inc, rung, page):
            log.warning("%s: the page to %s was already in the thread; not posting it again", inc.ref, rung.name)
            return
        if not attempt.holds(self.lease_s):
            raise ClaimLost()
        await self.notifier.page(inc, rung, page)

    async def _gap(self, attempt: Attempt, gap: Gap) -> None:
        """Nobody on call at this rung: never a silent page. Recorded as this step's outcome, said in
        the thread, and the next rung is made due now."""
        inc, step = attempt.incident, attempt.key.step
        rung = inc.ladder[step]
        if not await self.outbox.sent(attempt):
            return
        following = inc.ladder[step + 1].name if step + 1 < len(inc.ladder) else None
        text = gap.text(rung.name) + (f": moving on to {following} now" if following else ": no rung left to page")
        self.emit("page", {"step": rung.name, "result": "gap"})
        await self.store.log(
            inc.id, "alp", TimelineKind.PAGE, text, {"step": step, "paged": [], "schedule": gap.schedule, "gap": True}
        )
        await self._say(inc, f":warning: {text}")
        if following and self.on_gap is not None:
            await self.on_gap(inc, step)

    async def _pager_event(self, attempt: Attempt) -> None:
        """Send a pager alert's acknowledge or resolve (claimed in `attempt`) and record it."""
        inc, key = attempt.incident, attempt.key
        rung, dedup = inc.ladder[key.step], dedup_key(inc.ref, key.escalation_id, key.step)
        if not self.cfg.pager_webhook_url:
            await self.outbox.abandon(attempt, "no pager webhook configured: no pager alert to end")
            return
        try:
            if not attempt.holds(self.lease_s):
                raise ClaimLost()
            event = lifecycle_event(key.action, self.cfg.pager_routing_key, dedup)
            await send_pager(self.cfg.pager_webhook_url, event, timeout_s=self.cfg.page_attempt_timeout_s)
        except ClaimLost:
            return
        except Exception as err:
            error = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
            log.warning(
                "%s of %s's pager alert for %s failed (attempt %s): %s",
                key.action,
                rung.name,
                inc.ref,
                attempt.number,
                error,
            )
            await self._failed(attempt, error, _asked_wait(err))
            return
        if not await self.outbox.sent(attempt):
            return
        self.emit("page", {"step": rung.name, "result": key.action})
        done = "acknowledged" if key.action == "acknowledge" else "resolved"
        await self.store.log(
            inc.id,
            "alp",
            TimelineKind.PAGER_EVENT,
            f"{rung.name}'s pager alert {done}",
            {"step": key.step, "dedup_key": dedup},
        )
        await self._say(inc, f":pager: {rung.name}'s pager alert {done}")

    async def _failed(self, attempt: Attempt, error: str, asked_wait_s: float | None = None) -> None:
        """Record a failed attempt; the next is after the backoff, or after the wait the pager
        asked for (`Retry-After`) when that is longer."""
        inc, rung = attempt.incident, attempt.incident.ladder[attempt.key.step]
        retry_in = min(self.cfg.page_backoff_max_s, self.cfg.page_backoff_s * 2 ** (attempt.number - 1))
        retry_in = max(retry_in, asked_wait_s or 0.0)
        since = await self.outbox.failed(attempt, error, retry_in)
        self.emit("page", {"step": rung.name, "result": "failed"})
        if since is None or attempt.number != self.cfg.page_retries + 1:
            return
        if attempt.key.action != TRIGGER:
            await self._say(
                inc,
                f":warning: {attempt.key.action} of {rung.name}'s pager alert failing since {_hhmm(since)} ({error}); still retrying",
            )
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
            f":warning: page to {rung.name} failing since {_hhmm(since)}; "
            f"retrying every {self.cfg.page_backoff_max_s:g}s at most while the incident stays triggered. Error: ",
            error,
        )

    async def _say(self, inc: Incident, text: str, quote: str = "") -> None:
        try:
            await self.notifier.say(inc, text, quote)
        except Exception as err:
            log.warning("notification failed: %s", err)


def _asked_wait(err: Exception) -> float | None:
    """The wait a throttled pager asked for (`Retry-After`), if any."""
    return err.retry_after_s if isinstance(err, PagerThrottled) else None


def _hhmm(at: datetime) -> str:
    return f"{at:%H:%M} UTC"
