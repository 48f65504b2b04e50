"""The bot's state store: incidents and their timeline.

SQLAlchemy Core on the asyncio engine of `escalation.state.db.Database` (SQLite, one replica, the default;
PostgreSQL, several), so a call that waits on the database never holds up the event loop. The schema
is migrated by Alembic when the database is opened. Every state change is one conditional UPDATE that
returns the new row (UPDATE ... RETURNING), so two clicks, two replicas or a stale timer cannot both
win: the loser's UPDATE matches no row and gets None. The reads are in `escalation.state.incident_reads`
(the base of `Store`), the page outbox is in `escalation.state.outbox`, the
leader's lease in `escalation.ladder.leader`, remediation requests in `escalation.state.requests`, the audit log
in `escalation.state.audit`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from escalation.model import Incident, IncidentStatus, PagerEvent, Priority, Rung, TimelineKind
from escalation.state.db import Database, aware, migrate, now, sqlalchemy_url
from escalation.state.effects import Kind, changed, owe
from escalation.state.incident_reads import IncidentReads
from escalation.state.outbox import insert_page
from escalation.state.rows import incident_of as _incident
from escalation.state.schema import alert_groups, incidents
from escalation.state.timeline import add_entry


class Store(IncidentReads):
    """Conditional writes of incidents and their timelines, over the reads of `IncidentReads`."""

    # ------------------------------------------------------------------ incidents
    async def create(
        self,
        priority: Priority,
        summary: str,
        impact: str,
        services: list[str],
        channel: str,
        opened_by: str,
        ladder: list[Rung],
        escalation_id: str,
        checklist: list[str],
        external_key: str | None = None,
        announcing: bool = False,
        alert_episode: int | None = None,
        held_s: float = 30.0,
    ) -> Incident:
        """A new triggered incident whose first step is due `ladder[0].delay_s` from now.
        With `external_key`: raises sqlalchemy.exc.IntegrityError if an open incident has that key.
        The announcement is owed in the same transaction (`escalation.state.effects`), its first
        attempt held by the caller for `held_s` seconds: the caller carries it out, or the leader
        if the caller dies. `announcing` is kept for callers of the
        flag (`announced` is set, so the older reconciler path leaves it to the owed effect).
        `alert_episode`: the alert group episode that opened it is linked in the same transaction."""
        opened = self.clock.now()
        async with self.engine.begin() as conn:
            row = (
                (
                    await conn.execute(
                        incidents.insert()
                        .values(
                            priority=priority.value,
                            summary=summary,
                            impact=impact,
                            services=services,
                            status=IncidentStatus.TRIGGERED.value,
                            channel=channel,
                            opened_by=opened_by,
                            opened_at=opened,
                            ladder=[s.as_dict() for s in ladder],
                            next_step=0,
                            next_due_at=opened + timedelta(seconds=ladder[0].delay_s),
                            escalation_id=escalation_id,
                            announced=True,
                            checklist=dict.fromkeys(checklist, False),
                            version=0,
                            external_key=external_key,
                        )
                        .returning(*incidents.c)
                    )
                )
                .mappings()
                .one()
            )
            await add_entry(
                conn,
                row["id"],
                opened_by,
                TimelineKind.OPENED,
                f"opened {priority.value}: {summary}",
                {"impact": impact, "services": services, **({"key": external_key} if external_key else {})},
            )
            await owe(conn, row["id"], Kind.ANNOUNCE, held_s)
            if alert_episode is not None:
                await conn.execute(
                    alert_groups.update().where(alert_groups.c.id == alert_episode).values(incident_id=row["id"])
                )
        return _incident(row)

    async def _transition(
        self,
        incident_id: int,
        where: Any,
        actor: str,
        kind: TimelineKind,
        text: str,
        pager_event: str | None = None,
        owes: tuple[Kind, float] | None = None,
        updated_s: float | None = None,
        line: str | None = None,
        **values: Any,
    ) -> Incident | None:
        """One conditional UPDATE plus its timeline entry, in one transaction; the new incident,
        or None when the condition no longer held. `pager_event` (acknowledge, resolve): the pager
        alerts of the incident's pages owe that event, queued in the same transaction; `owes`: the
        side effect owed once per incident (escalation/state/effects.py), recorded in it too;
        `updated_s`: the change owes the message's update, and `line` a line in the thread, both
        held by the caller for that many seconds (`Effect(..., 1, changed(new.version))`)."""
        from escalation.state.outbox import queue_followups

        async with self.engine.begin() as conn:
            row = await _update(conn, incident_id, where, version=incidents.c.version + 1, **values)
            if row is None:
                return None
            await add_entry(conn, incident_id, actor, kind, text)
            if pager_event is not None:
                pager_steps = [i for i, s in enumerate(row["ladder"]) if s.get("via") == "pager"]
                await queue_followups(conn, incident_id, pager_event, pager_steps)
            if owes is not None:
                await owe(conn, incident_id, *owes)
            if updated_s is not None:
                await owe(conn, incident_id, Kind.UPDATE, updated_s, changed(row["version"]))
                if line is not None:
                    await owe(conn, incident_id, Kind.SAY, updated_s, changed(row["version"]), line)
        return _incident(row)

    async def acknowledge(
        self,
        incident_id: int,
        user: str,
        ack_timeout_s: float,
        reminder_s: float,
        how: str = "",
        line: str | None = None,
        held_s: float = 30.0,
    ) -> Incident | None:
        """Triggered -> acknowledged; the ladder stops, the ack timeout and first reminder are set.
        `how`: what counted as the acknowledgement when it was not the button ("by confirming restart …").
        Owed in the same transaction: the pager's acknowledge, the message's update and `line` in
        the thread, the last two held by the caller for `held_s` seconds."""
        at = self.clock.now()
        return await self._transition(
            incident_id,
            incidents.c.status == IncidentStatus.TRIGGERED.value,
            user,
            TimelineKind.ACK,
            f"acknowledged{' ' + how if how else ''}; escalation stopped",
            pager_event=PagerEvent.ACKNOWLEDGE.value,
            updated_s=held_s,
            line=line,
            status=IncidentStatus.ACKNOWLEDGED.value,
            acked_by=user,
            acked_at=at,
            escalation_id=None,
            next_due_at=None,
            ack_due_at=at + timedelta(seconds=ack_timeout_s) if ack_timeout_s else None,
            remind_at=at + timedelta(seconds=reminder_s),
        )

    async def resolve(self, incident_id: int, user: str, held_s: float = 30.0) -> Incident | None:
        """-> resolved; the message's update and the recovery checklist are owed in the same
        transaction, their first attempts held by the caller for `held_s` seconds."""
        return await self._transition(
            incident_id,
            incidents.c.status != IncidentStatus.RESOLVED.value,
            user,
            TimelineKind.RESOLVE,
            "resolved",
            pager_event=PagerEvent.RESOLVE.value,
            owes=(Kind.CHECKLIST, held_s),
            updated_s=held_s,
            status=IncidentStatus.RESOLVED.value,
            resolved_by=user,
            resolved_at=self.clock.now(),
            escalation_id=None,
            next_due_at=None,
            ack_due_at=None,
            remind_at=None,
        )

    async def retrigger(
        self,
        incident_id: int,
        acked_at: datetime,
        escalation_id: str,
        step: int,
        line: str | None = None,
        held_s: float = 30.0,
    ) -> Incident | None:
        """Acknowledged too long without resolution: back to triggered with `step` due now.
        Matches only the acknowledgement the timeout was set for (a newer ack makes it stale).
        Owes the message's update and `line` in the thread, held by the caller for `held_s` seconds."""
        return await self._transition(
            incident_id,
            sa.and_(
                incidents.c.status == IncidentStatus.ACKNOWLEDGED.value,
                incidents.c.acked_at == acked_at,
                incidents.c.ack_due_at <= self.clock.now(),
            ),
            "alp",
            TimelineKind.RETRIGGER,
            "acknowledged but not resolved in time: escalation resumes",
            updated_s=held_s,
            line=line,
            **self._resumed(escalation_id, step),
        )

    async def reopen(
        self,
        incident_id: int,
        version: int,
        escalation_id: str,
        step: int,
        line: str | None = None,
        held_s: float = 30.0,
    ) -> Incident | None:
        """Acknowledged -> triggered by hand (escalate now), only from the state the user saw.
        Owes the message's update and `line` in the thread, held by the caller for `held_s` seconds."""
        return await self._transition(
            incident_id,
            sa.and_(incidents.c.status == IncidentStatus.ACKNOWLEDGED.value, incidents.c.version == version),
            "alp",
            TimelineKind.RETRIGGER,
            "escalated while acknowledged",
            updated_s=held_s,
            line=line,
            **self._resumed(escalation_id, step),
        )

    def _resumed(self, escalation_id: str, step: int) -> dict[str, Any]:
        return {
            "status": IncidentStatus.TRIGGERED.value,
            "escalation_id": escalation_id,
            "next_step": step,
            "next_due_at": self.clock.now(),
            "ack_due_at": None,
            "remind_at": None,
        }

    async def advance(
        self, incident_id: int, escalation_id: str, step: int, next_due_at: datetime | None, warn_at: datetime | None
    ) -> Incident | None:
        """Move the ladder past `step` (only on the active escalation, only once): the step's page
        goes into the outbox in the same transaction (`escalation.state.outbox`). `warn_at`: when the
        thread warns of the next step (the manager's phone); kept in `remind_at` while triggered."""

        async with self.engine.begin() as conn:
            row = await _update(
                conn,
                incident_id,
                sa.and_(
                    incidents.c.escalation_id == escalation_id,
                    incidents.c.status == IncidentStatus.TRIGGERED.value,
                    incidents.c.next_step == step,
                ),
                next_step=step + 1,
                next_due_at=next_due_at,
                remind_at=warn_at,
                version=incidents.c.version + 1,
            )
            if row is None:
                return None
            await insert_page(conn, incident_id, escalation_id, step)
        return _incident(row)

    async def remind(
        self,
        incident_id: int,
        due: datetime,
        next_at: datetime | None,
        status: IncidentStatus = IncidentStatus.ACKNOWLEDGED,
    ) -> Incident | None:
        """Take the reminder due at `due` (once, whoever tries) and set the next one; on a triggered
        incident (`status`) it is the warning before the manager's phone, taken once (`next_at` None)."""
        async with self.engine.begin() as conn:
            row = await _update(
                conn,
                incident_id,
                sa.and_(incidents.c.status == status.value, incidents.c.remind_at == due),
                remind_at=next_at,
            )
        return _incident(row) if row else None

    async def claim_announcement(self, incident_id: int) -> bool:
        async with self.engine.begin() as conn:
            res = await conn.execute(
                incidents.update()
                .where(incidents.c.id == incident_id, incidents.c.announced.is_(False))
                .values(announced=True)
            )
            return res.rowcount == 1

    async def release_announcement(self, incident_id: int) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(incidents.update().where(incidents.c.id == incident_id).values(announced=False))

    async def set_message(self, incident_id: int, ts: str, channel: str) -> Incident | None:
        async with self.engine.begin() as conn:
            row = await _update(conn, incident_id, sa.true(), message_ts=ts, channel=channel)
        return _incident(row) if row else None

    async def tick(self, incident_id: int, item: str, done: bool, user: str) -> bool:
        inc = await self.get(incident_id)
        if inc is None or item not in inc.checklist:
            return False
        checklist = {**inc.checklist, item: done}
        return (
            await self._transition(
                incident_id,
                incidents.c.version == inc.version,
                user,
                TimelineKind.CHECKLIST,
                f"{'ticked' if done else 'unticked'}: {item}",
                checklist=checklist,
            )
            is not None
        )

    # ------------------------------------------------------------------ timeline
    async def log(self, incident_id: int, actor: str, kind: str, text: str, data: dict[str, Any] | None = None) -> None:
        async with self.engine.begin() as conn:
            await add_entry(conn, incident_id, actor, kind, text, data)


async def _update(conn: AsyncConnection, incident_id: int, where: Any, **values: Any) -> RowMapping | None:
    """One conditional UPDATE of an incident: its new row, or None when `where` no longer held."""
    result = await conn.execute(
        incidents.update().where(incidents.c.id == incident_id, where).values(**values).returning(*incidents.c)
    )
    return result.mappings().first()


__all__ = ["Database", "Store", "aware", "migrate", "now", "sqlalchemy_url"]
