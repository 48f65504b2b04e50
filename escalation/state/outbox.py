"""The page outbox: one row per incident step and event, delivered at least once and recorded once.

A step's row (`event_action` trigger) is inserted in the transaction that moves the ladder past it
(`Store.advance`). A pager step's PagerDuty `acknowledge` or `resolve` is a row of its own
(`queue_followups`), inserted in the transaction that acknowledges or resolves the incident, for
every trigger that may have reached the pager; it is claimed only while no attempt at that trigger
is on the wire, so it cannot overtake it.
Each delivery attempt is claimed by a conditional UPDATE that, in the same statement, checks the
incident is still triggered on the same escalation and no other attempt holds an unexpired lease;
success and failure are recorded only by the attempt that holds the claim. A process that dies
mid-attempt leaves a lease that expires after `lease_s`, and whoever leads then tries again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from escalation.model import Incident, IncidentStatus, PagerEvent
from escalation.state.db import aware, now
from escalation.state.rows import incident_of as _incident
from escalation.state.schema import TS, incidents, pages


@dataclass(frozen=True)
class PageKey:
    incident_id: int
    escalation_id: str
    step: int
    action: str = PagerEvent.TRIGGER.value  # escalation.model.PagerEvent: the page itself, or its pager alert's end

    def where(self) -> Any:
        return sa.and_(
            pages.c.incident_id == self.incident_id,
            pages.c.escalation_id == self.escalation_id,
            pages.c.step == self.step,
            pages.c.event_action == self.action,
        )


@dataclass(frozen=True)
class Attempt:
    key: PageKey
    number: int  # 1 for the first attempt
    incident: Incident  # as it was when the attempt was claimed
    failing_since: datetime | None
    claimed: float = field(default_factory=time.monotonic)  # this process's clock, before the claim was sent

    def holds(self, lease_s: float) -> bool:
        """Whether the claim is surely still this attempt's: a process paused (or stuck) past most of
        the lease must not send, since another may have taken the page over meanwhile."""
        return time.monotonic() - self.claimed < lease_s * 0.8


async def insert_page(conn: AsyncConnection, incident_id: int, escalation_id: str, step: int) -> None:
    at = now()
    await conn.execute(
        pages.insert().values(
            incident_id=incident_id,
            escalation_id=escalation_id,
            step=step,
            event_action=PagerEvent.TRIGGER.value,
            status="pending",
            claimed_at=at,
            next_attempt_at=at,
            attempts=0,
        )
    )


async def queue_followups(conn: AsyncConnection, incident_id: int, action: str, pager_steps: list[int]) -> None:
    """In the transaction that acknowledged or resolved the incident: a pending `action` event for
    every pager trigger of it that may have reached the pager (sent, or attempted), once per trigger.
    A resolve supersedes acknowledgements not yet on the wire."""
    if action not in (PagerEvent.ACKNOWLEDGE.value, PagerEvent.RESOLVE.value) or not pager_steps:
        return
    at = now()
    t, later = pages.alias("t"), pages.alias("later")
    owed = sa.select(
        t.c.incident_id,
        t.c.escalation_id,
        t.c.step,
        sa.literal(action),
        sa.literal("pending"),
        sa.literal(at, TS),
        sa.literal(at, TS),
        sa.literal(0),
    ).where(
        t.c.incident_id == incident_id,
        t.c.event_action == PagerEvent.TRIGGER.value,
        t.c.step.in_(pager_steps),
        sa.or_(t.c.status == "sent", t.c.attempts > 0),
        ~sa.exists(
            sa.select(later.c.step).where(
                later.c.incident_id == t.c.incident_id,
                later.c.escalation_id == t.c.escalation_id,
                later.c.step == t.c.step,
                later.c.event_action == action,
            )
        ),
    )
    cols = [
        "incident_id",
        "escalation_id",
        "step",
        "event_action",
        "status",
        "claimed_at",
        "next_attempt_at",
        "attempts",
    ]
    await conn.execute(pages.insert().from_select(cols, owed))
    if action == PagerEvent.RESOLVE.value:
        await conn.execute(
            pages.update()
            .where(
                pages.c.incident_id == incident_id,
                pages.c.event_action == PagerEvent.ACKNOWLEDGE.value,
                pages.c.status == "pending",
                sa.or_(pages.c.lease_until.is_(None), pages.c.lease_until < at),
            )
            .values(status="abandoned", error="superseded by resolve")
        )


def _active() -> Any:
    """The page's incident is still triggered on the page's escalation. On PostgreSQL the incident
    row is read FOR SHARE: an acknowledgement or resolution in flight is waited for, so it either
    sees this attempt (and owes the pager its end) or this claim sees it (and sends nothing)."""
    return sa.exists(
        sa.select(incidents.c.id)
        .where(
            incidents.c.id == pages.c.incident_id,
            incidents.c.status == IncidentStatus.TRIGGERED.value,
            incidents.c.escalation_id == pages.c.escalation_id,
        )
        .with_for_update(read=True)
    )


def _trigger_landed(at: datetime) -> Any:
    """No attempt at the page's trigger is on the wire: an acknowledge or resolve must not overtake it."""
    trigger = pages.alias("trigger")
    on_the_wire = sa.exists(
        sa.select(trigger.c.step).where(
            trigger.c.incident_id == pages.c.incident_id,
            trigger.c.escalation_id == pages.c.escalation_id,
            trigger.c.step == pages.c.step,
            trigger.c.event_action == PagerEvent.TRIGGER.value,
            trigger.c.lease_until >= at,
        )
    )
    return ~on_the_wire


class Outbox:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def due(self, at: datetime) -> list[PageKey]:
        """Pending pages whose next attempt is due and that no live attempt holds (an acknowledge or
        resolve: nor an attempt at its trigger, after which delivery starts it)."""
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(pages.c.incident_id, pages.c.escalation_id, pages.c.step, pages.c.event_action).where(
                        pages.c.status == "pending",
                        pages.c.next_attempt_at <= at,
                        sa.or_(pages.c.lease_until.is_(None), pages.c.lease_until < at),
                        sa.or_(pages.c.event_action == PagerEvent.TRIGGER.value, _trigger_landed(at)),
                    )
                )
            ).all()
        return [PageKey(*r) for r in rows]

    async def next_due(self) -> datetime | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(sa.func.min(sa.func.coalesce(pages.c.lease_until, pages.c.next_attempt_at))).where(
                        pages.c.status == "pending",
                        sa.or_(pages.c.event_action == PagerEvent.TRIGGER.value, _trigger_landed(now())),
                    )
                )
            ).one()
        return aware(row[0])

    async def claim(self, key: PageKey, lease_s: float) -> Attempt | None:
        """Take the next attempt at `key`, or None: another attempt holds it, it is done, its trigger
        is on the wire (an acknowledge or resolve), or the incident is no longer triggered on this
        escalation (a trigger: then the page is abandoned)."""
        at, started = now(), time.monotonic()
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    pages.update()
                    .where(
                        key.where(),
                        pages.c.status == "pending",
                        sa.or_(pages.c.lease_until.is_(None), pages.c.lease_until < at),
                        _active() if key.action == PagerEvent.TRIGGER.value else _trigger_landed(at),
                    )
                    .values(attempts=pages.c.attempts + 1, lease_until=at + timedelta(seconds=lease_s))
                    .returning(pages.c.attempts, pages.c.failing_since)
                )
            ).first()
            if row is None:
                if key.action != PagerEvent.TRIGGER.value:
                    return None
                await conn.execute(
                    pages.update()
                    .where(key.where(), pages.c.status == "pending", ~_active())
                    .values(status="abandoned", error="incident acknowledged, resolved or escalated again")
                )
                return None
            inc = (await conn.execute(incidents.select().where(incidents.c.id == key.incident_id))).mappings().one()
        return Attempt(key, row.attempts, _incident(inc), aware(row.failing_since), started)

    async def sent(self, attempt: Attempt) -> bool:
        """Record the delivery; False if this attempt had lost its claim (another one took over)."""
        async with self.engine.begin() as conn:
            res = await conn.execute(
                pages.update()
                .where(attempt.key.where(), pages.c.status == "pending", pages.c.attempts == attempt.number)
                .values(status="sent", sent_at=now(), lease_until=None, error=None)
            )
            return res.rowcount == 1

    async def failed(self, attempt: Attempt, error: str, retry_in_s: float) -> datetime | None:
        """Record a failed attempt and when to try again; returns since when the page has been
        failing (None if this attempt had lost its claim)."""
        at = now()
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    pages.update()
                    .where(attempt.key.where(), pages.c.status == "pending", pages.c.attempts == attempt.number)
                    .values(
                        lease_until=None,
                        next_attempt_at=at + timedelta(seconds=retry_in_s),
                        error=error[:2000],
                        failing_since=sa.func.coalesce(pages.c.failing_since, at),
                    )
                    .returning(pages.c.failing_since)
                )
            ).first()
        return aware(row[0]) if row else None

    async def abandon(self, attempt: Attempt, why: str) -> None:
        """Give up `attempt`'s row for good (there is nothing it could still achieve)."""
        async with self.engine.begin() as conn:
            await conn.execute(
                pages.update()
                .where(attempt.key.where(), pages.c.status == "pending", pages.c.attempts == attempt.number)
                .values(status="abandoned", lease_until=None, error=why[:2000])
            )

    async def of(self, incident_id: int) -> list[dict[str, Any]]:
        """The incident's pages: {incident_id, escalation_id, step, event_action, status, attempts, error, ...}."""
        async with self.engine.connect() as conn:
            rows = (
                (
                    await conn.execute(
                        pages.select()
                        .where(pages.c.incident_id == incident_id)
                        .order_by(pages.c.claimed_at, pages.c.step)
                    )
                )
                .mappings()
                .all()
            )
        return [dict(r) for r in rows]
