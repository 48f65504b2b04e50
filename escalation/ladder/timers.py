"""APScheduler wakes the leader's reconciler when the ladder's next step falls due; the database
stays the truth.

One `AsyncIOScheduler` job, `ladder:next`, at the soonest due time the records hold (a step, an ack
timeout, a reminder or warning, a page retry: `Store.next_due` and `Outbox.next_due`). It is rebuilt
from the records after every reconcile pass (a pass moves the due times), whenever the incident API
wakes the reconciler (an incident opened, acknowledged, ...) and when this replica gains the lease;
it is removed when the lease is lost, so only the leader's scheduler runs it. The job only wakes the
reconciler, which reads what is due from the database and fires it, each step claimed once
(`Store.advance`): a late wake-up, a second replica or a restart neither loses nor repeats a page.
A step that fell due while no replica led has a run date in the past: the new leader's job runs at
once (`misfire_grace_time=None`), and the reconcile pass on lease gain fires it anyway.

Nothing is stored in APScheduler itself (in-memory job store): after a crash the records rebuild
the job. The lease is renewed by the reconciler's loop every `leader_poll_s`, which also
reconciles: a safety net should a job be lost, never the timer a page waits for.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from escalation.state.db import now

log = logging.getLogger(__name__)
JOB = "ladder:next"


class LadderTimers:
    """`due()` reads the soonest due time from the records (None: nothing due), `leading()` says
    whether this replica holds the lease, `wake(why)` wakes the reconciler."""

    def __init__(
        self,
        due: Callable[[], Awaitable[datetime | None]],
        leading: Callable[[], bool],
        wake: Callable[[str], None],
    ) -> None:
        self.due, self.leading, self.wake = due, leading, wake
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        self.planned: datetime | None = None  # the job's run date, as it stands

    def start(self) -> None:
        if not self.scheduler.running:
            self.scheduler.start()

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    async def rebuild(self) -> None:
        """The job at the soonest due time of the records, if this replica leads; none otherwise."""
        if not self.scheduler.running:
            return
        when = await self.due() if self.leading() else None
        if when is None:
            self.clear()
            return
        if when == self.planned and self.scheduler.get_job(JOB) is not None:
            return
        soonest = now() + timedelta(milliseconds=50)  # a due time in the past: at once, never a busy loop
        self.scheduler.add_job(
            self._fire,
            DateTrigger(run_date=max(when + timedelta(milliseconds=20), soonest)),
            args=[when],
            id=JOB,
            replace_existing=True,
            misfire_grace_time=None,  # late is still run (a step due while nobody led: at once)
            coalesce=True,
        )
        self.planned = when

    def clear(self) -> None:
        """No job (the lease is lost, or nothing is due)."""
        if self.scheduler.running and self.scheduler.get_job(JOB) is not None:
            self.scheduler.remove_job(JOB)
        self.planned = None

    async def _fire(self, when: datetime) -> None:
        self.planned = None
        if not self.leading():  # the lease went between the plan and the wake-up: the leader has its own
            log.debug("ladder timer for %s dropped: not the leader", when.isoformat())
            return
        log.info("ladder timer: due at %s, waking the reconciler (APScheduler)", when.isoformat())
        self.wake(f"due at {when.isoformat()}")
