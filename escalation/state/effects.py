"""Side effects an incident's state change owes (`alp_effects`): posting its announcement, its
recovery checklist, updating its message. Each is written in the same transaction as the change
that owes it (`owe`), so a process that dies (or a store that fails) right after the change cannot
drop it: the process that made the change carries it out at once, and whoever leads carries out
any left pending (`due`), as the page outbox (`escalation.state.outbox`) does for pages. An
attempt is claimed with a lease; a failed one is retried after a back-off. Created by migration
r0008_durability.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from escalation.state.db import now
from escalation.state.schema import effects


class Kind(StrEnum):
    ANNOUNCE = "announce"  # the incident's message in its channel (with its buttons)
    CHECKLIST = "checklist"  # the recovery checklist in the incident's thread, once resolved


@dataclass(frozen=True)
class Effect:
    incident_id: int
    kind: Kind
    attempt: int  # 1 for the first attempt

    def where(self) -> Any:
        return sa.and_(
            effects.c.incident_id == self.incident_id,
            effects.c.kind == self.kind.value,
            effects.c.attempts == self.attempt,
        )


async def owe(conn: AsyncConnection, incident_id: int, kind: Kind, held_s: float) -> Effect:
    """Within the state change's transaction: the incident now owes `kind` (once per incident), and
    the caller holds its first attempt for `held_s` seconds (no reconciler pass takes it meanwhile)."""
    at = now()
    await conn.execute(
        effects.insert().values(
            incident_id=incident_id,
            kind=kind.value,
            status="pending",
            attempts=1,
            next_attempt_at=at,
            lease_until=at + timedelta(seconds=held_s),
            created_at=at,
        )
    )
    return Effect(incident_id, kind, 1)


class Effects:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def due(self, at: datetime) -> list[tuple[int, Kind]]:
        """(incident id, kind) of pending effects whose next attempt is due and that no live attempt holds."""
        c = effects.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(c.incident_id, c.kind)
                .where(
                    c.status == "pending", c.next_attempt_at <= at, sa.or_(c.lease_until.is_(None), c.lease_until < at)
                )
                .order_by(c.id)
            )
            return [(int(r[0]), Kind(r[1])) for r in rows]

    async def claim(self, incident_id: int, kind: Kind, lease_s: float) -> Effect | None:
        """The next attempt at the incident's `kind`, or None: done, or held by a live attempt."""
        at = now()
        c = effects.c
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    effects.update()
                    .where(
                        c.incident_id == incident_id,
                        c.kind == kind.value,
                        c.status == "pending",
                        sa.or_(c.lease_until.is_(None), c.lease_until < at),
                    )
                    .values(attempts=c.attempts + 1, lease_until=at + timedelta(seconds=lease_s))
                    .returning(c.attempts)
                )
            ).first()
        return Effect(incident_id, kind, int(row[0])) if row else None

    async def done(self, effect: Effect) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                effects.update()
                .where(effect.where())
                .values(status="done", done_at=now(), lease_until=None, error=None)
            )

    async def failed(self, effect: Effect, error: str, retry_in_s: float) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                effects.update()
                .where(effect.where())
                .values(lease_until=None, next_attempt_at=now() + timedelta(seconds=retry_in_s), error=error[:2000])
            )

    async def pending(self, incident_id: int) -> list[Kind]:
        """What the incident still owes."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(effects.c.kind).where(effects.c.incident_id == incident_id, effects.c.status == "pending")
            )
            return [Kind(r[0]) for r in rows]
