"""The page outbox: one row per incident step, delivered at least once and recorded once.

A step's row is inserted in the transaction that moves the ladder past it (`Store.advance`).
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

from escalation.model import Incident, Status
from escalation.state.db import aware, now
from escalation.state.rows import incident_of as _incident
from escalation.state.schema import incidents, pages


@dataclass(frozen=True)
class PageKey:
    incident_id: int
    escalation_id: str
    step: int

    def where(self) -> Any:
        return sa.and_(
            pages.c.incident_id == self.incident_id,
            pages.c.escalation_id == self.escalation_id,
            pages.c.step == self.step,
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
            status="pending",
            claimed_at=at,
            next_attempt_at=at,
            attempts=0,
        )
    )


def _active() -> Any:
    """The page's incident is still triggered on the page's escalation."""
    return sa.exists(
        sa.select(incidents.c.id).where(
            incidents.c.id == pages.c.incident_id,
            incidents.c.status == Status.TRIGGERED.value,
            incidents.c.escalation_id == pages.c.escalation_id,
        )
    )


class Outbox:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def due(self, at: datetime) -> list[PageKey]:
        """Pending pages whose next attempt is due and that no live attempt holds."""
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(pages.c.incident_id, pages.c.escalation_id, pages.c.step).where(
                        pages.c.status == "pending",
                        pages.c.next_attempt_at <= at,
                        sa.or_(pages.c.lease_until.is_(None), pages.c.lease_until < at),
                    )
                )
            ).all()
        return [PageKey(*r) for r in rows]

    async def next_due(self) -> datetime | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(sa.func.min(sa.func.coalesce(pages.c.lease_until, pages.c.next_attempt_at))).where(
                        pages.c.status == "pending"
                    )
                )
            ).one()
        return aware(row[0])

    async def claim(self, key: PageKey, lease_s: float) -> Attempt | None:
        """Take the next attempt at `key`, or None: another attempt holds it, it is done, or the
        incident is no longer triggered on this escalation (then the page is abandoned)."""
        at, started = now(), time.monotonic()
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    pages.update()
                    .where(
                        key.where(),
                        pages.c.status == "pending",
                        sa.or_(pages.c.lease_until.is_(None), pages.c.lease_until < at),
                        _active(),
                    )
                    .values(attempts=pages.c.attempts + 1, lease_until=at + timedelta(seconds=lease_s))
                    .returning(pages.c.attempts, pages.c.failing_since)
                )
            ).first()
            if row is None:
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

    async def of(self, incident_id: int) -> list[dict[str, Any]]:
        """The incident's pages: {incident_id, escalation_id, step, status, attempts, error, ...}."""
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
