"""Side effects an incident's state change owes (`alp_effects`): posting its announcement, its
recovery checklist, updating its message, a line in its thread (the acknowledgement's). Each is
written in the same transaction as the change that owes it (`owe`), so a process that dies (or a
store that fails) right after the change cannot drop it: the process that made the change carries
it out at once, and whoever leads carries out any left pending (`due`), as the page outbox
(`escalation.state.outbox`) does for pages. An attempt is claimed with a lease; a failed one is
retried after a back-off. The announcement and the checklist are owed once per incident
(`occasion` ""); an update and a line once per change (`occasion` "v<version>", the incident's
version after the change, `changed`). Created by migration r0008_durability, per change by r0009.
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
    UPDATE = "update"  # the message shows the incident's newest state (whichever change's attempt does it)
    SAY = "say"  # a line in the incident's thread (`text`), e.g. who acknowledged it


def changed(version: int) -> str:
    """The occasion of an effect owed by the change that brought the incident to `version`."""
    return f"v{version}"


@dataclass(frozen=True)
class Effect:
    incident_id: int
    kind: Kind
    attempt: int  # 1 for the first attempt
    occasion: str = ""  # "" (once per incident) or `changed(version)`
    text: str | None = None  # the line a SAY posts

    def where(self) -> Any:
        return sa.and_(
            effects.c.incident_id == self.incident_id,
            effects.c.kind == self.kind.value,
            effects.c.occasion == self.occasion,
            effects.c.attempts == self.attempt,
        )


async def owe(
    conn: AsyncConnection, incident_id: int, kind: Kind, held_s: float, occasion: str = "", text: str | None = None
) -> Effect:
    """Within the state change's transaction: the incident now owes `kind` (once per incident and
    `occasion`), and the caller holds its first attempt for `held_s` seconds (no reconciler pass
    takes it meanwhile)."""
    at = now()
    await conn.execute(
        effects.insert().values(
            incident_id=incident_id,
            kind=kind.value,
            occasion=occasion,
            text=text,
            status="pending",
            attempts=1,
            next_attempt_at=at,
            lease_until=at + timedelta(seconds=held_s),
            created_at=at,
        )
    )
    return Effect(incident_id, kind, 1, occasion, text)


class Effects:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def due(self, at: datetime) -> list[tuple[int, Kind, str]]:
        """(incident id, kind, occasion) of pending effects whose next attempt is due and that no
        live attempt holds, oldest first (an announcement before what is said in its thread)."""
        c = effects.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(c.incident_id, c.kind, c.occasion)
                .where(
                    c.status == "pending", c.next_attempt_at <= at, sa.or_(c.lease_until.is_(None), c.lease_until < at)
                )
                .order_by(c.id)
            )
            return [(int(r[0]), Kind(r[1]), str(r[2])) for r in rows]

    async def claim(self, incident_id: int, kind: Kind, lease_s: float, occasion: str = "") -> Effect | None:
        """The next attempt at the incident's `kind` owed on `occasion`, or None: done, or held by a live attempt."""
        at = now()
        c = effects.c
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    effects.update()
                    .where(
                        c.incident_id == incident_id,
                        c.kind == kind.value,
                        c.occasion == occasion,
                        c.status == "pending",
                        sa.or_(c.lease_until.is_(None), c.lease_until < at),
                    )
                    .values(attempts=c.attempts + 1, lease_until=at + timedelta(seconds=lease_s))
                    .returning(c.attempts, c.text)
                )
            ).first()
        return Effect(incident_id, kind, int(row[0]), occasion, row[1]) if row else None

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

    async def pending(self, incident_id: int) -> list[tuple[Kind, str]]:
        """What the incident still owes: (kind, occasion), oldest first."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(effects.c.kind, effects.c.occasion)
                .where(effects.c.incident_id == incident_id, effects.c.status == "pending")
                .order_by(effects.c.id)
            )
            return [(Kind(r[0]), str(r[1])) for r in rows]
