"""The escalation engine: open, page, acknowledge, escalate, resolve — with timers that survive.

Every ladder step is one dated APScheduler job in the state store. A job carries the
incident's escalation id; acknowledging or resolving clears that id, so a job that fires
late finds nothing to do. Claiming a step is a conditional UPDATE, so a step is paged once
however many timers or replicas try. Notifications go out after the state change is saved.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from escalation.config import EscalationSettings
from escalation.leader import Leadership, leadership_for
from escalation.model import CHECKLIST, Incident, Priority, Status, build_ladder, specialist_areas
from escalation.notify import Notifier
from escalation.pager import pager_payload, send_pager
from escalation.pages import build_page
from escalation.store import Store, now

log = logging.getLogger(__name__)

_ENGINE: Escalator | None = None


async def _no_changes(_: Incident) -> list[str]:
    return []


async def run_job(kind: str, incident_id: int, token: str, step: int = 0, due: float | None = None) -> None:
    """The target of every persisted job (a module-level name, so jobs survive restarts)."""
    if _ENGINE is None:
        log.error("escalation job %s for incident %s fired with no engine running", kind, incident_id)
        return
    if kind == "step" and due is not None:
        _ENGINE.fired.append((due, now().timestamp()))
        _ENGINE.emit("fired", {"lateness_s": max(0.0, now().timestamp() - due)})
    await _ENGINE.dispatch(kind, incident_id, token, step)


class Escalator:
    def __init__(
        self,
        store: Store,
        cfg: EscalationSettings,
        notifier: Notifier,
        state_url: str = "",
        leadership: Leadership | None = None,
        on_event: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self.on_event = on_event  # metrics hook: ("page", {step, result}), ("fired", {lateness_s})
        self.store = store
        self.cfg = cfg
        self.notifier = notifier
        self.leadership = leadership or leadership_for(store, state_url)
        self.leading = False
        self.scheduler = AsyncIOScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=store.engine, tablename="alp_jobs")},
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
            timezone=UTC,
        )
        self._lead_task: asyncio.Task[None] | None = None
        self.fired: list[tuple[float, float]] = []  # (due, fired) epoch seconds of each step timer
        # Changes from one hour before an incident opened until now, one line each, for its pages
        # and postmortem; the bot sets it (commands.changes.incident_change_lines).
        self.recent_changes: Callable[[Incident], Awaitable[list[str]]] = _no_changes

    @property
    def lateness(self) -> list[float]:
        """Seconds between each step's due time and its timer firing."""
        return [max(0.0, fired - due) for due, fired in self.fired]

    # ------------------------------------------------------------------ lifecycle
    async def start(self, lead: bool = True) -> None:
        """Start the timers. `lead=False` (the terminal `alp`) only writes jobs for the bot to run."""
        global _ENGINE
        _ENGINE = self
        self.scheduler.start(paused=True)
        if lead:
            await self._lead_once()
            self._lead_task = asyncio.create_task(self._lead_forever())

    async def stop(self) -> None:
        global _ENGINE
        if self._lead_task:
            self._lead_task.cancel()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self.leadership.release()
        if _ENGINE is self:
            _ENGINE = None

    async def _lead_once(self) -> None:
        if not self.leading and await self.leadership.try_lead():
            self.leading = True
            log.info("leading the escalation timers")
            self.scheduler.resume()
            await self.recover()
        elif self.leading and not await self.leadership.still_leading():
            self.leading = False
            log.warning("lost leadership; timers paused")
            self.scheduler.pause()
        if self.leading:
            self.scheduler.wakeup()  # pick up jobs other replicas (or the CLI) added

    async def _lead_forever(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.leader_poll_s)
            try:
                await self._lead_once()
            except Exception:  # the loop must outlive any single failure
                log.exception("leadership poll failed")

    def emit(self, kind: str, data: dict[str, Any]) -> None:
        if self.on_event is not None:
            self.on_event(kind, data)

    # ------------------------------------------------------------------ jobs
    def _schedule(self, kind: str, incident_id: int, token: str, step: int, at: datetime) -> None:
        self.scheduler.add_job(
            run_job,
            "date",
            run_date=at,
            args=[kind, incident_id, token, step, at.timestamp()],
            id=f"{kind}:{incident_id}:{token}:{step}",
            replace_existing=True,
        )

    def _unschedule(self, incident_id: int, kinds: tuple[str, ...] = ("step", "ack_timeout", "reminder")) -> None:
        for job in self.scheduler.get_jobs():
            kind, inc, *_ = job.id.split(":")
            if inc == str(incident_id) and kind in kinds:
                job.remove()

    def pending(self, incident_id: int) -> list[tuple[str, datetime]]:
        """(job id, when) of the incident's pending timers."""
        return sorted(
            ((j.id, j.next_run_time) for j in self.scheduler.get_jobs() if j.id.split(":")[1] == str(incident_id)),
            key=lambda x: x[1],
        )

    async def dispatch(self, kind: str, incident_id: int, token: str, step: int) -> None:
        handlers = {
            "step": self.fire_step,
            "ack_timeout": self.ack_timeout,
            "reminder": self.reminder,
            "announce": self.announce_job,
        }
        try:
            await handlers[kind](incident_id, token, step)
        except Exception:  # a failing step is recorded; it never kills the scheduler
            log.exception("escalation job %s failed for incident %s", kind, incident_id)
            self.store.log(incident_id, "alp", "error", f"{kind} step {step} failed; see the bot's log")

    # ------------------------------------------------------------------ operations
    async def open(
        self, priority: Priority, summary: str, impact: str, services: list[str], channel: str, user: str
    ) -> Incident:
        ladder = build_ladder(priority, self.cfg)  # frozen onto the incident
        token = uuid.uuid4().hex
        inc = self.store.create(priority, summary, impact, services, channel, user, ladder, token, CHECKLIST)
        self._schedule("announce", inc.id, token, 0, inc.opened_at)  # if this process cannot, the leader will
        self._schedule("step", inc.id, token, 0, inc.opened_at + timedelta(seconds=ladder[0].delay_s))
        await self._announce(inc)
        areas = specialist_areas(services, summary)
        if areas:
            channels = [getattr(self.cfg.specialists, a) for a in areas]
            self.store.log(inc.id, "alp", "specialists", f"specialists added: {', '.join(channels)}")
            await self._safely(self.notifier.specialists(inc, channels))
        return self.store.get(inc.id) or inc

    async def announce_job(self, incident_id: int, token: str, step: int = 0) -> None:
        inc = self.store.get(incident_id)
        if inc is not None:
            await self._announce(inc)

    async def _announce(self, inc: Incident) -> None:
        if not self.store.claim_announcement(inc.id):
            return
        try:
            where = await self.notifier.announce(inc)
        except Exception as err:
            log.warning("announcing %s failed: %s", inc.ref, err)
            self.store.log(inc.id, "alp", "error", f"announcement failed: {err}")
            return
        if where:
            self.store.set_message(inc.id, where[1], where[0])
        else:  # this notifier cannot announce (the terminal): leave it to the bot
            self.store.release_announcement(inc.id)

    async def fire_step(self, incident_id: int, token: str, step: int) -> None:
        inc = self.store.claim_step(incident_id, token, step)
        if inc is None:
            return  # stale (acked, resolved, escalated) or already paged
        await self._announce(inc)
        inc = await self._with_announcement(incident_id) or inc
        if step + 1 < len(inc.ladder):
            self._schedule("step", inc.id, token, step + 1, now() + timedelta(seconds=inc.ladder[step + 1].delay_s))
        await self._deliver(inc, token, step)

    async def _with_announcement(self, incident_id: int, wait_s: float = 5.0) -> Incident | None:
        """The incident once its announcement is posted (another task may be posting it right now),
        so pages go into its thread; after `wait_s` without one, as it is."""
        deadline = asyncio.get_running_loop().time() + wait_s
        while True:
            inc = self.store.get(incident_id)
            if inc is None or inc.message_ts or asyncio.get_running_loop().time() > deadline:
                return inc
            await asyncio.sleep(0.05)

    async def _deliver(self, inc: Incident, token: str, step: int) -> None:
        rung = inc.ladder[step]
        page = build_page(inc, rung, self.store.timeline(inc.id), changes=await self.recent_changes(inc))
        attempts, error = 0, None
        delay = self.cfg.page_backoff_s
        while attempts <= self.cfg.page_retries:
            attempts += 1
            try:
                if rung.via == "pager":
                    if not self.cfg.pager_webhook_url:
                        raise RuntimeError("no pager webhook configured (escalation.pager_webhook_url)")
                    await send_pager(
                        self.cfg.pager_webhook_url, pager_payload(page, self.cfg.pager_routing_key, inc.ref)
                    )
                    await self._safely(self.notifier.say(inc, f":pager: paged {rung.mention} by phone"))
                else:
                    await self.notifier.page(inc, rung, page)
                error = None
                break
            except Exception as err:
                error = f"{type(err).__name__}: {err}"
                log.warning("paging %s for %s failed (attempt %s): %s", rung.name, inc.ref, attempts, error)
                if attempts <= self.cfg.page_retries:
                    await asyncio.sleep(delay)
                    delay *= 2
        self.store.page_done(inc.id, token, step, error is None, attempts, error)
        self.emit("page", {"step": rung.name, "result": "sent" if error is None else "failed"})
        if error is None:
            self.store.log(
                inc.id, "alp", "page", f"paged {rung.name} {rung.mention}", {"step": step, "attempts": attempts}
            )
        else:
            self.store.log(
                inc.id,
                "alp",
                "page_failed",
                f"paging {rung.name} failed after {attempts} attempt(s): {error}",
                {"step": step},
            )
            await self._safely(self.notifier.say(inc, f":warning: could not page {rung.name}: {error}"))
        await self._safely(self.notifier.refresh(self.store.get(inc.id) or inc))

    async def acknowledge(self, incident_id: int, user: str) -> bool:
        if not self.store.acknowledge(incident_id, user):
            return False
        self._unschedule(incident_id)
        inc = self.store.get(incident_id)
        assert inc is not None and inc.acked_at is not None
        mark = inc.acked_at.isoformat()
        if self.cfg.ack_timeout_s:
            self._schedule(
                "ack_timeout", incident_id, mark, 0, inc.acked_at + timedelta(seconds=self.cfg.ack_timeout_s)
            )
        self._schedule("reminder", incident_id, mark, 0, inc.acked_at + timedelta(seconds=self.cfg.reminder_s))
        await self._safely(self.notifier.refresh(inc))
        await self._safely(self.notifier.say(inc, f":white_check_mark: acknowledged by <@{user}>; escalation stopped"))
        return True

    async def ack_timeout(self, incident_id: int, token: str, step: int = 0) -> None:
        new = uuid.uuid4().hex
        if not self.store.retrigger(incident_id, datetime.fromisoformat(token), new):
            return
        self._unschedule(incident_id, ("reminder",))
        inc = self.store.get(incident_id)
        assert inc is not None
        await self._safely(
            self.notifier.say(inc, ":rotating_light: acknowledged but not resolved in time: escalation resumes")
        )
        await self._resume(inc, new)

    async def _resume(self, inc: Incident, token: str) -> None:
        step = min(inc.next_step, len(inc.ladder) - 1)
        if step != inc.next_step:
            self.store.rewind(inc.id, token, step)
        await self.fire_step(inc.id, token, step)

    async def reminder(self, incident_id: int, token: str, step: int = 0) -> None:
        inc = self.store.get(incident_id)
        if (
            inc is None
            or inc.status is not Status.ACKNOWLEDGED
            or not inc.acked_at
            or inc.acked_at.isoformat() != token
        ):
            return
        hours = (now() - inc.acked_at).total_seconds() / 3600
        self.store.log(incident_id, "alp", "reminder", f"still acknowledged after {hours:.1f}h")
        await self._safely(
            self.notifier.say(
                inc,
                f":alarm_clock: {inc.ref} acknowledged by <@{inc.acked_by}> {hours:.1f}h ago and still not resolved",
            )
        )
        self._schedule("reminder", incident_id, token, 0, now() + timedelta(seconds=self.cfg.reminder_s))

    async def escalate_now(self, incident_id: int, user: str) -> str:
        """Page the next step now. Returns what happened, for the user."""
        inc = self.store.get(incident_id)
        if inc is None:
            return "no such incident"
        if inc.status is Status.RESOLVED:
            return f"{inc.ref} is resolved"
        if inc.next_step >= len(inc.ladder) and inc.status is Status.TRIGGERED:
            return f"{inc.ref}: every step of the ladder has been paged"
        self.store.log(incident_id, user, "escalate", "escalated by hand")
        if inc.status is Status.ACKNOWLEDGED:
            token = uuid.uuid4().hex
            if not self.store.reopen(incident_id, token):
                return f"{inc.ref} changed meanwhile; try again"
            self._unschedule(incident_id)
            await self._resume(self.store.get(incident_id) or inc, token)
            return f"{inc.ref}: escalated"
        assert inc.escalation_id is not None
        self._unschedule(incident_id, ("step",))
        await self.fire_step(incident_id, inc.escalation_id, inc.next_step)
        return f"{inc.ref}: escalated to {inc.ladder[inc.next_step].name}"

    async def resolve(self, incident_id: int, user: str) -> bool:
        if not self.store.resolve(incident_id, user):
            return False
        self._unschedule(incident_id, ("step", "ack_timeout", "reminder", "announce"))
        inc = self.store.get(incident_id)
        assert inc is not None
        await self._safely(self.notifier.refresh(inc))
        await self._safely(self.notifier.checklist(inc))
        return True

    async def note(self, incident_id: int, user: str, text: str) -> None:
        self.store.log(incident_id, user, "note", text)
        inc = self.store.get(incident_id)
        if inc:
            await self._safely(self.notifier.say(inc, f":memo: <@{user}>: {text[:300]}"))

    def record(self, incident_id: int, user: str, kind: str, text: str, data: dict[str, Any]) -> None:
        """A check or action run for the incident: its 'steps taken' and 'evidence'."""
        self.store.log(incident_id, user, kind, text, data)

    async def recover(self) -> None:
        """Pages claimed but never finished (the leader died mid-send): send them now."""
        for incident_id, token, step in self.store.pending_pages(older_than_s=5):
            inc = self.store.get(incident_id)
            if inc and inc.status is Status.TRIGGERED and inc.escalation_id == token:
                log.warning("re-sending step %s of %s after a restart", step, inc.ref)
                await self._deliver(inc, token, step)
            else:
                self.store.page_done(incident_id, token, step, False, 0, "abandoned: incident changed")

    @staticmethod
    async def _safely(coro: Any) -> None:
        try:
            await coro
        except Exception as err:
            log.warning("notification failed: %s", err)
