"""The leader's reconciler: the timer side of the ladder.

The holder of an expiring lease (`escalation.ladder.leader`) reconciles at start, on taking the lead,
every `leader_poll_s` (when it renews the lease) and when APScheduler's job wakes it at the records'
next due time (`escalation.ladder.timers`): it fires every due step (`_advance`:
the **ladder's next step**, stored by `escalation.state.store.Store.advance`), ack timeout, reminder and
warning, posts announcements nobody made, and retries every due page. `Escalator`
(`escalation.ladder.engine`) builds the parts below and adds the incident API on top.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from commands.runtime.clock import Clock
from escalation.config import EscalationSettings
from escalation.ladder.delivery import Delivery
from escalation.ladder.leader import Lease
from escalation.ladder.notify import Notifier
from escalation.ladder.owed import OwedEffects
from escalation.ladder.pages import next_page
from escalation.ladder.recheck import RunCheck, recheck
from escalation.ladder.timers import LadderTimers
from escalation.model import Incident, IncidentStatus, Rung, TimelineKind
from escalation.oncall.paging import Gap
from escalation.state.outbox import Outbox, PageKey
from escalation.state.store import Store

log = logging.getLogger(__name__)


async def no_changes(_: Incident) -> list[str]:
    return []


Duty = Callable[[], Awaitable[object]]


class Reconciler:
    """Fires what falls due on the incidents, while this replica leads; events for metrics go to
    `on_event`: ("page", {step, result}) and ("fired", {lateness_s}) — seconds between a step's due
    time and its claim."""

    def __init__(
        self,
        store: Store,
        cfg: EscalationSettings,
        notifier: Notifier,
        *,
        clock: Clock | None = None,
        lease: Lease | None = None,
        on_event: Callable[[str, dict[str, Any]], None] | None = None,
        recent_changes: Callable[[Incident], Awaitable[list[str]]] = no_changes,
        people: Callable[[Rung], Awaitable[tuple[Rung, str] | Gap]] | None = None,
        run_check: RunCheck | None = None,
        on_lead_gained: Sequence[Duty] = (),
    ) -> None:
        """Its parts (outbox, delivery, owed side effects, the timer) built from these:
        `clock`: when steps, ack timeouts and reminders fall due (commands/runtime/clock.py), the store's by default;
        `lease`: the escalation lease (one per process, shared with whoever asks who leads), a new one by default;
        `recent_changes`: an incident -> the changes from one hour before it opened, one line each, for its
        pages and postmortem (commands.changes.incident_changes_hook);
        `people`: who a rung naming an on-call schedule pages when it fires (escalation.oncall.paging);
        `run_check`: a check by name and parameters -> its report (commands.runner.check_runner), so pages
        and resolutions re-run the incident's checks (escalation.ladder.recheck); None: they do not;
        `on_lead_gained`: run when this replica takes the lease (the handoff scheduler's wake-up)."""
        self.store, self.cfg, self.notifier, self.on_event = store, cfg, notifier, on_event
        self.clock = clock or store.clock
        self.outbox = Outbox(store.engine)
        self.lease = lease or Lease(store.db, cfg.leader_lease_s)
        self.recent_changes = recent_changes
        self.run_check = run_check
        self.on_lead_gained = tuple(on_lead_gained)
        self.owed = OwedEffects(store, cfg, notifier, self._show_newest)
        self.delivery = Delivery(
            store,
            self.outbox,
            cfg,
            notifier,
            self.emit,
            self._refresh,
            recent_changes,
            people,
            self._gap_moves_on,
            self.recheck,
            self.owed.announced,
        )
        self.timers = LadderTimers(self.soonest_due, lambda: self.leading, self.woken)
        # More work for whoever leads, run at each reconciler pass (e.g. the remediation flow's
        # `recover_interrupted`: runs whose process died), handed to `start`; each one's failure is logged.
        self.leader_duties: tuple[Duty, ...] = ()
        self._runs = False  # started with lead=True: delivers what its own users do, may lead
        self._loop: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._was_leading = False
        self._renewed = 0.0

    @property
    def leading(self) -> bool:
        return self.lease.held

    # ------------------------------------------------------------------ lifecycle
    async def start(self, lead: bool = True, leader_duties: Sequence[Duty] = ()) -> None:
        """Start reconciling. `lead=False` (the terminal `alp`) only records; the bot delivers.
        `leader_duties`: more work for whoever leads, at each pass (the remediation flow's
        `recover_interrupted`): given here, not at construction, because that flow is built on this
        engine (it acknowledges and records verdicts through it)."""
        if not lead:
            return
        self.leader_duties = tuple(leader_duties)
        self._runs = True
        self.timers.start()
        await self._tick()
        self._loop = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Let the reconciler finish the pass it is in (a database call is never cut off midway),
        let deliveries in flight finish, then give the lease up."""
        self._stopping = True
        self._wake.set()
        if self._loop:
            await self._loop
        await self.delivery.drain(timeout_s=5)
        self.timers.stop()
        if self._runs:
            await self.lease.release()

    async def _run(self) -> None:
        while not self._stopping:
            await self._sleep()
            if self._stopping:
                return
            try:
                await self._tick()
            except Exception:  # the loop must outlive any single failure (a database cut, a bug)
                log.exception("escalation reconciler failed")

    async def _sleep(self) -> None:
        """Until the lease is due for renewal (`leader_poll_s`) or something wakes the reconciler:
        APScheduler's job at the next due time (`escalation.ladder.timers`), or the incident API."""
        if self._stopping:
            return
        # until the clock has moved `leader_poll_s` or someone wakes the reconciler, whichever is first
        waits = [
            asyncio.ensure_future(self.clock.sleep(self.cfg.leader_poll_s)),
            asyncio.ensure_future(self._wake.wait()),
        ]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    async def soonest_due(self) -> datetime | None:
        """The records' soonest due time: a step, ack timeout, reminder or warning, a page retry."""
        times = [t for t in (await self.store.next_due(), await self.outbox.next_due()) if t is not None]
        return min(times) if times else None

    def woken(self, why: str) -> None:
        log.debug("reconciler woken: %s", why)
        self._wake.set()

    async def _tick(self) -> None:
        self._wake.clear()  # before the pass: a wake-up while it runs (the timer's job, the API) is kept
        loop = asyncio.get_running_loop()
        if not self.lease.held or loop.time() - self._renewed >= self.cfg.leader_poll_s:
            self._renewed = loop.time()
            await self.lease.acquire()
        gained = self.leading and not self._was_leading
        if gained:  # what fell due while nobody led is fired by this pass, at once
            log.info("leading the escalation (lease held by %s)", self.lease.holder)
        elif self._was_leading and not self.leading:
            log.warning("lost the escalation lease; reconciling stops until it is back")
            self.timers.clear()
        self._was_leading = self.leading
        if self.leading:
            await self.reconcile()
            if gained:
                for hook in self.on_lead_gained:
                    try:
                        await hook()
                    except Exception:
                        log.exception("on lease gain: %s failed", getattr(hook, "__qualname__", hook))
        try:
            await self.timers.rebuild()  # the job at the records' next due time (none unless leading)
        except Exception as err:
            log.warning("ladder timer not rebuilt: %s (the lease poll still reconciles)", err)

    def emit(self, kind: str, data: dict[str, Any]) -> None:
        if self.on_event is not None:
            self.on_event(kind, data)

    async def reconcile(self) -> None:
        """Do everything that is due: announcements, ack timeouts, reminders, steps, page retries."""
        # owed side effects first: an announcement a dead replica owed is posted before any page,
        # so the pages go into its thread
        await self.owed.carry_out_due(lambda: self.leading)
        due = await self.store.due(self.clock.now())
        for inc in due["announce"]:
            if self.leading:
                await self._announce(inc)
        for inc in due["ack_timeout"]:
            if self.leading:
                await self._ack_timeout(inc)
        for inc in due["reminder"]:
            if self.leading:
                await self._remind(inc)
        for inc in due["warning"]:
            if self.leading:
                await self._warn(inc)
        for inc in due["step"]:
            if self.leading:
                await self._advance(inc, timed=True)
        for key in await self.outbox.due(self.clock.now()):
            if self.leading:
                self.delivery.start(key)
        for duty in self.leader_duties:
            if self.leading:
                try:
                    await duty()
                except Exception:
                    log.exception("leader duty %s failed", getattr(duty, "__qualname__", duty))

    async def _advance(self, inc: Incident, timed: bool = False) -> Incident | None:
        """Move `inc` past its next step (once, whoever tries) and hand the step's page to delivery."""
        step = inc.next_step
        if inc.escalation_id is None or step >= len(inc.ladder):
            return None
        following, warn_at = await self._next_times(inc, step)
        new = await self.store.advance(inc.id, inc.escalation_id, step, following, warn_at)
        if new is None:
            return None
        if timed and inc.next_due_at is not None:
            self.emit("fired", {"lateness_s": max(0.0, (self.clock.now() - inc.next_due_at).total_seconds())})
        if self._runs:
            self.delivery.start(PageKey(inc.id, inc.escalation_id, step))
        else:
            self._wake.set()
        return new

    async def _next_times(self, inc: Incident, step: int) -> tuple[datetime | None, datetime | None]:
        """When the rung after `step` falls due and when the thread warns of it (the manager's phone,
        `manager_warning_s` before): one decision, so what the warning announces is what the ladder
        does. A rung with nobody on call (the answer its page gets: `Delivery.people`) is no wait:
        its gap line says "moving on to … now" and the next rung is made due then
        (`_gap_moves_on`), so no warning announces a later time."""
        if step + 1 >= len(inc.ladder):
            return None, None
        now = self.clock.now()
        following = now + timedelta(seconds=inc.ladder[step + 1].delay_s)
        warn = self.cfg.manager_warning_s
        if inc.ladder[step + 1].via != "pager" or warn <= 0 or await self._is_gap(inc.ladder[step]):
            return following, None
        return following, max(now, following - timedelta(seconds=warn))

    async def _is_gap(self, rung: Rung) -> bool:
        """Whether nobody is on call for `rung` now (a rung naming a schedule; the people its page gets)."""
        if self.delivery.people is None or not rung.schedule:
            return False
        try:
            return isinstance(await self.delivery.people(rung), Gap)
        except Exception as err:  # the page itself will tell; the warning stays as configured
            log.warning("who is on call for %s could not be read: %s", rung.name, err)
            return False

    async def _gap_moves_on(self, inc: Incident, step: int) -> None:
        """A rung with nobody on call (escalation.oncall.paging): the next rung is due now."""
        from escalation.oncall.paging import next_rung_due_now

        if inc.escalation_id and await next_rung_due_now(self.store.db, inc.id, inc.escalation_id, step + 1):
            self._wake.set()

    async def _announce(self, inc: Incident, claimed: bool = False) -> None:
        """Post the incident once, whoever tries; `claimed`: the announcement is already this caller's."""
        if not claimed and not await self.store.claim_announcement(inc.id):
            return
        try:
            where = await self.notifier.announce(inc)
        except Exception as err:
            log.warning("announcing %s failed: %s", inc.ref, err)
            await self.store.log(inc.id, "alp", TimelineKind.ERROR, f"announcement failed: {err}")
            return
        if where:
            new = await self.store.set_message(inc.id, where[1], where[0])
            if new is not None and new.version != inc.version:  # acked, paged... while it was being posted
                await self._refresh(new)
        else:  # this notifier cannot announce (the terminal): leave it to the bot
            await self.store.release_announcement(inc.id)

    async def _ack_timeout(self, inc: Incident) -> None:
        if inc.acked_at is None:
            return
        step = min(inc.next_step, len(inc.ladder) - 1)
        line = ":rotating_light: acknowledged but not resolved in time: escalation resumes"
        new = await self.store.retrigger(inc.id, inc.acked_at, uuid.uuid4().hex, step, line, self.owed.lease_s)
        if new is None:
            return
        await self.owed.carry_out_change(new, said=line)
        await self._advance(new)

    async def _remind(self, inc: Incident) -> None:
        if inc.remind_at is None or inc.acked_at is None:
            return
        new = await self.store.remind(inc.id, inc.remind_at, self.clock.now() + timedelta(seconds=self.cfg.reminder_s))
        if new is None:
            return
        hours = (self.clock.now() - inc.acked_at).total_seconds() / 3600
        await self.store.log(inc.id, "alp", TimelineKind.REMINDER, f"still acknowledged after {hours:.1f}h")
        await self._safely(
            self.notifier.say(
                new,
                f":alarm_clock: {inc.ref} acknowledged by <@{inc.acked_by}> {hours:.1f}h ago and still not resolved",
            )
        )

    async def _warn(self, inc: Incident) -> None:
        """The thread says, `manager_warning_s` before, that the manager's phone is next (once)."""
        if (
            inc.remind_at is None
            or await self.store.remind(inc.id, inc.remind_at, None, IncidentStatus.TRIGGERED) is None
        ):
            return
        text = f"{next_page(inc, self.clock.now())}: acknowledge now to stop the call"
        await self.store.log(inc.id, "alp", TimelineKind.REMINDER, f"warned: next page {text}")
        await self._safely(self.notifier.say(inc, f":telephone_receiver: Next page: {text}"))

    async def recheck(self, inc: Incident, why: str) -> int:
        """Run the incident's checks again (at most `page_recheck_s`), each verdict recorded with
        `why`; the incident's messages then show them. How many were recorded."""
        if self.run_check is None:
            return 0
        try:
            done = await recheck(self.store, inc, self.run_check, why, self.cfg.page_recheck_s)
        except Exception as err:  # a page or a resolution never fails for want of a fresh verdict
            log.warning("%s: re-running its checks %s failed: %s", inc.ref, why, err)
            return 0
        if done:
            await self.verdict_recorded(inc.id)
        return done

    async def verdict_recorded(self, incident_id: int) -> None:
        """A new verdict joined the incident: every message that shows its verdicts (the
        announcement or its alert group's message, the report messages it superseded) is updated."""
        inc = await self.store.get(incident_id)
        if inc is not None:
            await self._refresh(inc)

    async def _refresh(self, inc: Incident) -> None:
        """`_show_newest`, its failure logged (the message shows it at the next change)."""
        await self._safely(self._show_newest(inc))

    async def _show_newest(self, inc: Incident) -> None:
        """Update the announcement until it shows the newest state: another replica may change the
        incident while this one renders, and the last update must not be a stale one. Raises when
        Slack or the store fails (an owed update is then retried)."""
        for _ in range(5):
            await self.notifier.refresh(inc)
            latest = await self.store.get(inc.id)
            if latest is None or latest.version == inc.version:
                return
            inc = latest

    @staticmethod
    async def _safely(coro: Any) -> None:
        try:
            await coro
        except Exception as err:
            log.warning("notification failed: %s", err)
