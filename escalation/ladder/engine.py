"""The escalation engine: open, page, acknowledge, escalate, resolve — the incident API bot/ uses.

The incident record is the source of truth: it holds the ladder's position (`next_step`), when the
next step is due (`next_due_at`), when an acknowledgement times out and when to remind. What falls
due is fired by the leader's reconciler (`escalation.ladder.reconciler`, the base of `Escalator`).
Every change is one conditional UPDATE, so timers, clicks and replicas racing end in one state;
pages go through the outbox (`escalation.state.outbox`).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from commands.runtime.clock import Clock
from escalation.config import EscalationSettings
from escalation.ladder.leader import Lease
from escalation.ladder.notify import Notifier
from escalation.ladder.recheck import RunCheck, superseded
from escalation.ladder.reconciler import Duty, Reconciler, no_changes
from escalation.ladder.recovery import JudgeRecovery
from escalation.ladder.recovery import judge_recovery as judge_items
from escalation.model import (
    CHECKLIST,
    Incident,
    IncidentStatus,
    Priority,
    Rung,
    TimelineEntry,
    TimelineKind,
    build_ladder,
    specialist_areas,
)
from escalation.oncall.paging import Gap
from escalation.state.audit import AuditLog
from escalation.state.db import Database
from escalation.state.effects import Effect, Kind
from escalation.state.outbox import PageKey
from escalation.state.store import Store
from escalation.state.timeline import add_entry_in_channel

log = logging.getLogger(__name__)


class Escalator(Reconciler):
    """The incident API over the leader's reconciler (its parts and events: `Reconciler.__init__`)."""

    def __init__(
        self,
        store: Store,
        cfg: EscalationSettings,
        notifier: Notifier,
        state_url: str = "",
        on_event: Callable[[str, dict[str, Any]], None] | None = None,
        recent_changes: Callable[[Incident], Awaitable[list[str]]] = no_changes,
        people: Callable[[Rung], Awaitable[tuple[Rung, str] | Gap]] | None = None,
        clock: Clock | None = None,
        run_check: RunCheck | None = None,
        lease: Lease | None = None,
        on_lead_gained: Sequence[Duty] = (),
        judge_recovery: JudgeRecovery | None = None,
    ) -> None:
        super().__init__(
            store,
            cfg,
            notifier,
            clock=clock,
            lease=lease,
            on_event=on_event,
            recent_changes=recent_changes,
            people=people,
            run_check=run_check,
            on_lead_gained=on_lead_gained,
        )
        self.audit = AuditLog(store.db)
        # The checklist items alp judges itself (escalation.ladder.recovery), on resolve; None: none.
        self.judge_recovery = judge_recovery

    @classmethod
    def connect(
        cls,
        state: str | Database,
        cfg: EscalationSettings,
        notifier: Notifier,
        on_event: Callable[[str, dict[str, Any]], None] | None = None,
        recent_changes: Callable[[Incident], Awaitable[list[str]]] = no_changes,
    ) -> Escalator:
        """An engine on the state database (ALP_STATE_URL, migrated to the newest schema on the way,
        or a `Database` already open, shared with e.g. `escalation.state.alert_groups`)."""
        return cls(
            Store(state),
            cfg,
            notifier,
            state if isinstance(state, str) else "",
            on_event=on_event,
            recent_changes=recent_changes,
        )

    async def close(self) -> None:
        """Release the state database's connections (after `stop`)."""
        await self.store.close()

    # ------------------------------------------------------------------ operations
    async def open(
        self,
        priority: Priority,
        summary: str,
        impact: str,
        services: list[str],
        channel: str,
        user: str,
        external_key: str | None = None,
        alert_episode: int | None = None,
    ) -> Incident:
        """A new incident, announced; a P0's first step is paged at once. `alert_episode`: the
        alert group episode that opens it, linked in the same transaction."""
        ladder = build_ladder(priority, self.cfg)  # frozen onto the incident
        inc = await self.store.create(
            priority,
            summary,
            impact,
            services,
            channel,
            user,
            ladder,
            uuid.uuid4().hex,
            CHECKLIST,
            external_key,
            alert_episode=alert_episode,
            held_s=self.owed.lease_s,
        )
        # owed with the incident, its first attempt ours: if this process dies, the leader retries it
        await self.owed.carry_out(inc.id, Kind.ANNOUNCE, Effect(inc.id, Kind.ANNOUNCE, 1))
        areas = specialist_areas(services, summary)
        if areas:
            channels = [getattr(self.cfg.specialists, a) for a in areas]
            await self.store.log(inc.id, "alp", TimelineKind.SPECIALISTS, f"specialists added: {', '.join(channels)}")
            await self._safely(self.notifier.specialists(inc, channels))
        inc = await self.store.get(inc.id) or inc
        if inc.next_due_at is not None and inc.next_due_at <= self.clock.now():
            inc = await self._advance(inc, timed=True) or inc
        self._wake.set()
        return inc

    async def open_for_key(
        self, key: str, priority: Priority, summary: str, impact: str, services: list[str], channel: str, user: str
    ) -> tuple[Incident, bool]:
        """The open incident for an external key (e.g. an Alertmanager group key), opening it if there
        is none: (incident, True if opened now). Idempotent, across replicas too."""
        existing = await self.store.open_for_key(key)
        if existing is not None:
            await self.settle(existing.id)  # a retry finishes what the first attempt owed
            return existing, False
        try:
            return await self.open(priority, summary, impact, services, channel, user, external_key=key), True
        except sa.exc.IntegrityError:  # another replica opened it a moment ago
            existing = await self.store.open_for_key(key)
            if existing is None:
                raise
            return existing, False

    async def settle(self, incident_id: int) -> None:
        """Carry out now what the incident still owes (its announcement, its checklist, its
        message's update, a line in its thread) unless an attempt is in flight: for a person's
        retry after an ambiguous failure (Slack's retry of a click, the same click on another replica)."""
        for kind, occasion in await self.owed.effects.pending(incident_id):
            await self.owed.carry_out(incident_id, kind, occasion=occasion)

    async def owes(self, incident_id: int) -> list[str]:
        """What the incident still owes ("announce", "checklist", "update", "say"): not carried out yet."""
        return list(dict.fromkeys(k.value for k, _ in await self.owed.effects.pending(incident_id)))

    async def acknowledge(self, incident_id: int, user: str, how: str = "") -> bool:
        """Triggered -> acknowledged by `user`; `how`: what counted as the acknowledgement, if not the button.
        What it owes (the pager's acknowledge, the message's update, its line in the thread) is
        stored with it and carried out once: here, or by a retry or whoever leads if this process dies."""
        said = f"acknowledged by <@{user}>{', ' + how.removeprefix('by ') if how else ''}; escalation stopped"
        line = f":white_check_mark: {said}"
        inc = await self.store.acknowledge(
            incident_id, user, self.cfg.ack_timeout_s, self.cfg.reminder_s, how, line, self.owed.lease_s
        )
        if inc is None:
            return False
        self._wake.set()  # the pager's alerts owe their acknowledge
        await self.owed.carry_out_change(inc, said=line)
        return True

    async def engaged(self, incident_id: int, user: str, how: str) -> bool:
        """Someone working the incident (confirming a remediation that ran, setting a silence) acknowledges
        it when `ack_on_engagement` is on (the default): the ladder stops instead of paging the next
        person, recorded as "acknowledged by confirming …". False if it was not triggered or it is off.
        Whoever may confirm an action may acknowledge (the Acknowledge button is open to the channel)."""
        if not self.cfg.ack_on_engagement or not user or user == "alp":
            return False
        return await self.acknowledge(incident_id, user, how)

    async def escalate_now(self, incident_id: int, user: str, from_step: int | None = None) -> str:
        """Page the next step now; what happened, for the user. `from_step` is the step the user saw
        next (the button carries it), so a double click or two people at once move one rung."""
        inc = await self.store.get(incident_id)
        if inc is None:
            return "no such incident"
        if inc.status is IncidentStatus.RESOLVED:
            return f"{inc.ref} is resolved"
        if from_step is not None and inc.status is IncidentStatus.TRIGGERED and inc.next_step != from_step:
            return f"{inc.ref} was escalated meanwhile (now past {inc.ladder[min(inc.next_step, len(inc.ladder)) - 1].name})"
        acked, ago = None, ""  # who acknowledged what this click re-opens, how long before
        if inc.status is IncidentStatus.ACKNOWLEDGED:
            step = min(inc.next_step, len(inc.ladder) - 1)
            acked = inc.acked_by or "someone"
            ago = f"{max(0.0, (self.clock.now() - (inc.acked_at or self.clock.now())).total_seconds()):.0f}s"
            line = f":rotating_light: <@{user}> re-opened paging ({ago} after <@{acked}> acknowledged it)"
            reopened = await self.store.reopen(
                incident_id, inc.version, uuid.uuid4().hex, step, line, self.owed.lease_s
            )
            if reopened is None:
                return f"{inc.ref} changed meanwhile; try again"
            inc = reopened
            await self.owed.carry_out_change(inc, said=line)
        elif inc.next_step >= len(inc.ladder):
            return f"{inc.ref}: every step of the ladder has been paged"
        if await self._advance(inc) is None:
            return f"{inc.ref} was escalated meanwhile"
        name = inc.ladder[inc.next_step].name
        await self.delivery.wait(PageKey(inc.id, inc.escalation_id or "", inc.next_step))
        await self.store.log(incident_id, user, TimelineKind.ESCALATE, f"escalated by hand to {name}")
        if acked is not None:  # the clicker may have seen it triggered: say what their click did
            return (
                f"{inc.ref} had been acknowledged by <@{acked}> {ago} before; your Escalate now re-opened "
                f"paging and paged {name}: the acknowledgement no longer stops the ladder"
            )
        return f"{inc.ref}: escalated to {name}"

    async def resolve(self, incident_id: int, user: str) -> bool:
        inc = await self.store.resolve(incident_id, user, held_s=self.owed.lease_s)
        if inc is None:
            return False
        self._wake.set()  # the pager's alerts owe their resolve
        await asyncio.gather(self.recheck(inc, "on resolve"), self._judge_recovery(inc, "on resolve"))
        # the message, then the checklist: owed with the resolve, their first attempts ours
        await self.owed.carry_out_change(inc)
        await self.owed.carry_out(inc.id, Kind.CHECKLIST, Effect(inc.id, Kind.CHECKLIST, 1))
        return True

    async def note(self, incident_id: int, user: str, text: str) -> None:
        await self.store.log(incident_id, user, TimelineKind.NOTE, text)
        inc = await self.store.get(incident_id)
        if inc:
            await self._safely(self.notifier.say(inc, f":memo: <@{user}>: ", text))

    async def record(self, incident_id: int, user: str, kind: str, text: str, data: dict[str, Any]) -> None:
        """A check or action run for the incident: its 'steps taken' and 'evidence'; a check's
        verdict updates the incident's messages (`verdict_recorded`)."""
        await self.store.log(incident_id, user, kind, text, data)
        if kind == TimelineKind.CHECK:
            await self.verdict_recorded(incident_id)

    async def record_in_channel(
        self, channel: str, user: str, kind: str, text: str, data: dict[str, Any]
    ) -> int | None:
        """`record` on the channel's open incident, if it has one (one statement): its id, or None."""
        found = await add_entry_in_channel(self.store.engine, channel, user, kind, text, data)
        if found is not None and kind == TimelineKind.CHECK:
            await self.verdict_recorded(found)
        return found

    async def _judge_recovery(self, inc: Incident, why: str) -> None:
        """The checklist items alp judges (`judge_recovery`), recorded and ticked before the checklist is posted."""
        if self.judge_recovery is None:
            return
        try:
            judged = await judge_items(self.store, inc, self.judge_recovery, why)
        except Exception as err:  # the state store: the resolve stands, the items stay for a person
            log.warning("%s: recording the recovery checklist's judgement failed: %s", inc.ref, err)
            return
        if judged:
            await self.verdict_recorded(inc.id)

    async def superseded(self, channel: str, target: str, read_at: datetime) -> str | None:
        """Why a remedy button under a `target` report read at `read_at` must not act (escalation.ladder.recheck)."""
        return await superseded(self.store, channel, target, read_at)

    # ------------------------------------------------------------------ reads, for bot/
    async def get(self, incident_id: int) -> Incident | None:
        return await self.store.get(incident_id)

    async def list_open(self, limit: int = 20) -> list[Incident]:
        return await self.store.incidents(open_only=True, limit=limit)

    async def open_in_channel(self, channel: str) -> Incident | None:
        """The newest unresolved incident announced in `channel`."""
        return await self.store.open_in_channel(channel)

    async def timeline(self, incident_id: int) -> list[TimelineEntry]:
        return await self.store.timeline(incident_id)

    async def tick(self, incident_id: int, item: str, done: bool, user: str) -> bool:
        """Tick or untick a checklist item; False if it is not one or the incident changed meanwhile."""
        return await self.store.tick(incident_id, item, done, user)

    async def pages_of(self, incident_id: int) -> list[dict[str, Any]]:
        return await self.outbox.of(incident_id)

    async def latest_audit(self, limit: int = 20) -> list[dict[str, Any]]:
        """Newest first: {id, at, actor, event, action, params, result, incident_id}."""
        return await self.audit.latest(limit)

    async def ping(self, timeout_s: float) -> str | None:
        """None when the state store answers, else why not."""
        return await self.store.ping(timeout_s)
