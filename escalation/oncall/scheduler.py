"""APScheduler wakes the leader at handoffs; the database stays the truth.

An `AsyncIOScheduler` holds in-memory jobs only, one per schedule at its next handoff (the next
change of who is on call, overrides included), rebuilt from the records: at start, after every
wake-up, whenever an override is stored or undone here or elsewhere (`follow`: the leader's reconcile
pass reads the overrides' stamp, so the terminal's `alp oncall override --yes` is seen within
`leader_poll_s`), and every `rebuild_s` (a safety net). A handoff that fell due while no replica led is done by the new leader as soon as it
takes the lease (the server builds the escalator with `on_lead_gained=[wake("lease gained")]`). A job does nothing but wake: if this process does not hold the escalation lease,
the wake-up is dropped (the leader has the same job); if it does, `on_handoff` runs, and every side
effect it has is claimed once in the database (`escalation.oncall.groups`), so a second replica, a
restart or a late wake-up neither loses nor repeats it. Nothing is stored in APScheduler itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from escalation.oncall.directory import Directory
from escalation.oncall.overrides import OverrideStore
from escalation.state.db import now

log = logging.getLogger(__name__)
REBUILD = "rebuild"


class HandoffScheduler:
    """Jobs at each schedule's next handoff; `leading()` says whether this process leads."""

    def __init__(
        self,
        directory: Directory,
        leading: Callable[[], bool],
        on_handoff: Callable[[], Awaitable[object]],
        rebuild_s: float = 60.0,
    ) -> None:
        self.directory, self.leading, self.on_handoff, self.rebuild_s = directory, leading, on_handoff, rebuild_s
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        self.next: dict[str, datetime] = {}  # schedule -> its next handoff, as the jobs stand
        self._catch_up: asyncio.Task[None] | None = None

    async def start(self, ready: Callable[[], Awaitable[object]] | None = None, ready_s: float = 0.0) -> None:
        """Start the scheduler, catch up (a handoff missed while down is done now), plan the jobs.
        `ready`: what the catch-up waits for first, at most `ready_s` (the imported calendars' first
        read: a report asked of an unread calendar has nothing to say); the wait runs beside the
        start, which returns at once; a schedule still unread then is skipped (`on_handoff`'s rule)."""
        self.scheduler.start()
        self.scheduler.add_job(
            self.wake,
            IntervalTrigger(seconds=self.rebuild_s),
            args=["periodic"],
            id=REBUILD,
            coalesce=True,
            max_instances=1,
        )
        if ready is None:
            await self.wake("start")
            return
        self._catch_up = asyncio.create_task(self._wake_when(ready, ready_s))

    async def _wake_when(self, ready: Callable[[], Awaitable[object]], ready_s: float) -> None:
        try:
            await asyncio.wait_for(ready(), ready_s)
        except TimeoutError:
            log.warning("on-call catch-up: not everything was read within %gs; going on without it", ready_s)
        await self.wake("start")

    def stop(self) -> None:
        if self._catch_up is not None:
            self._catch_up.cancel()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    async def wake(self, why: str) -> None:
        """What every job runs: the leader does what is due (claimed once), then the jobs are rebuilt."""
        if self.leading():
            try:
                await self.on_handoff()
            except Exception:
                log.exception("on-call handoff (%s) failed", why)
        else:
            log.debug("handoff wake-up (%s) dropped: not the leader", why)
        await self.rebuild()

    def follow(self, store: OverrideStore) -> Callable[[], Awaitable[None]]:
        """A leader duty (`Escalator.leader_duties`): the reconcile pass, every `leader_poll_s`, is
        how the ladder sees what another process wrote (an incident opened by the terminal); the
        same pass reads the overrides' `stamp`, and an override stored or undone elsewhere (the
        terminal's `alp oncall override … --yes`, another replica) wakes the handoff work at once
        instead of at the next rebuild. One small bounded SELECT a pass; a failure waits for the next."""
        seen: list[tuple[int, int]] = []

        async def duty() -> None:
            try:
                stamp = await store.stamp()
            except Exception as err:
                log.debug("overrides' stamp not read: %s", err)
                return
            if seen and seen[0] != stamp:
                seen[0] = stamp
                await self.wake("override stored or undone")
            elif not seen:
                seen.append(stamp)  # the wake on start or on lease gain covers what came before

        return duty

    async def rebuild(self) -> None:
        """One date job per schedule at its next handoff, from the configuration and the overrides."""
        at = now()
        planned: dict[str, datetime] = {}
        for s in self.directory.settings.schedules:
            try:
                who, _ = await self.directory.now(s.name, at)
            except Exception as err:  # an unread calendar: nothing to plan for it yet
                log.debug("no handoff planned for %s: %s", s.name, err)
                continue
            if who.until is not None:
                planned[s.name] = who.until
        for job in self.scheduler.get_jobs():
            if job.id != REBUILD and job.id.removeprefix("handoff:") not in planned:
                job.remove()
        for name, when in planned.items():
            self.scheduler.add_job(
                self.wake,
                DateTrigger(run_date=when + timedelta(milliseconds=50)),
                args=[f"handoff of {name}"],
                id=f"handoff:{name}",
                replace_existing=True,
                misfire_grace_time=None,  # late is still done (and claimed once)
                coalesce=True,
            )
        self.next = planned
