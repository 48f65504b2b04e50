"""Overrides in the state store (`alp_oncall_overrides`): absolute UTC intervals, never rewritten.

An undo marks the row cancelled (who, when) and keeps it for the audit; undoing one that has
started also stores the part that happened as its own row (README: "an override that is over
stays as it happened"), so only the hours to come are removed. Every statement is bounded
by `timeout_s`; a store that does not answer raises TimeoutError for the caller to report.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa

from commands.runtime.clock import SYSTEM_CLOCK, Clock
from escalation.oncall.shifts import Override
from escalation.state.db import Database, aware, now
from escalation.state.schema import oncall_overrides as t

T = TypeVar("T")

# the past part of an undone override is kept only this long or longer: seconds of "cover" are not
# history worth a row (nor a handoff DM for it)
KEPT_AT_LEAST = timedelta(minutes=1)


def _override(row: Any) -> Override:
    return Override(
        id=row.id,
        schedule=row.schedule,
        user=row.user_id,
        start=aware(row.start_at) or now(),
        end=aware(row.end_at) or now(),
        created_by=row.created_by,
        replaces=row.replaces,
    )


class OverrideStore:
    """Overrides of every schedule, on the bot's `Database`."""

    def __init__(self, db: Database, timeout_s: float = 5.0, clock: Clock = SYSTEM_CLOCK) -> None:
        self.db, self.timeout_s, self.clock = db, timeout_s, clock

    async def _bounded(self, coro: Awaitable[T]) -> T:
        return await asyncio.wait_for(coro, self.timeout_s)

    async def add(
        self,
        schedule: str,
        user: str,
        start: datetime,
        end: datetime,
        created_by: str,
        replaces: str | None = None,
        reason: str = "",
    ) -> Override:
        """Store `user` covering `schedule` over [start, end) (aware times, kept as UTC). ValueError
        for an empty or backwards span."""
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("override times must carry a time zone")
        if end <= start:
            raise ValueError(f"an override must end after it starts ({start.isoformat()} .. {end.isoformat()})")
        start, end = start.astimezone(UTC), end.astimezone(UTC)  # SQLite keeps no offset: UTC in, UTC out

        async def insert() -> Override:
            async with self.db.engine.begin() as conn:
                row = (
                    await conn.execute(
                        t.insert()
                        .values(
                            schedule=schedule,
                            user_id=user,
                            start_at=start,
                            end_at=end,
                            replaces=replaces,
                            reason=reason,
                            created_by=created_by,
                            created_at=self.clock.now(),
                        )
                        .returning(*t.c)
                    )
                ).one()
            return _override(row)

        return await self._bounded(insert())

    async def overlapping(self, start: datetime, end: datetime, schedule: str | None = None) -> list[Override]:
        """Overrides in force (not undone) that overlap [start, end), oldest first."""
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        q = t.select().where(t.c.cancelled_at.is_(None), t.c.start_at < end, t.c.end_at > start).order_by(t.c.id)
        if schedule is not None:
            q = q.where(t.c.schedule == schedule)

        async def select() -> list[Override]:
            async with self.db.engine.connect() as conn:
                return [_override(r) for r in (await conn.execute(q)).all()]

        return await self._bounded(select())

    async def stamp(self) -> tuple[int, int]:
        """(the newest override's id, how many were undone): it changes whenever any process, the
        terminal's `alp oncall` included, stores or undoes an override (rows are never deleted)."""
        q = sa.select(sa.func.coalesce(sa.func.max(t.c.id), 0), sa.func.count(t.c.cancelled_at))

        async def select() -> tuple[int, int]:
            async with self.db.engine.connect() as conn:
                newest, undone = (await conn.execute(q)).one()
            return int(newest), int(undone)

        return await self._bounded(select())

    async def get(self, override_id: int) -> tuple[Override, str | None] | None:
        """The override and who undid it (None while it is in force), or None if there is no such id."""

        async def select() -> tuple[Override, str | None] | None:
            async with self.db.engine.connect() as conn:
                row = (await conn.execute(t.select().where(t.c.id == override_id))).first()
            return None if row is None else (_override(row), row.cancelled_by)

        return await self._bounded(select())

    async def cancel(self, override_id: int, by: str) -> tuple[Override, int | None] | None:
        """Undo an override still in force (one conditional UPDATE: two undos, one wins); None otherwise.
        If it has started at least `KEPT_AT_LEAST` ago, its past part [start, now) is kept in force as
        a new row (same person, `created_by`, `replaces`; reason "the part of #N before its undo"), in
        the same transaction. Returns (the undone override, the kept part's id or None)."""

        async def update() -> tuple[Override, int | None] | None:
            at = self.clock.now()
            async with self.db.engine.begin() as conn:
                row = (
                    await conn.execute(
                        t.update()
                        .where(t.c.id == override_id, t.c.cancelled_at.is_(None))
                        .values(cancelled_by=by, cancelled_at=at)
                        .returning(*t.c)
                    )
                ).first()
                kept: int | None = None
                if row is not None and (aware(row.start_at) or at) <= at - KEPT_AT_LEAST:
                    inserted = await conn.execute(
                        t.insert()
                        .values(
                            schedule=row.schedule,
                            user_id=row.user_id,
                            start_at=aware(row.start_at),
                            end_at=min(at, aware(row.end_at) or at),
                            replaces=row.replaces,
                            reason=f"the part of #{override_id} before its undo by {by}",
                            created_by=row.created_by,
                            created_at=at,
                        )
                        .returning(t.c.id)
                    )
                    kept = int(inserted.scalar_one())
            return None if row is None else (_override(row), kept)

        return await self._bounded(update())


async def overrides_between(db: Database, start: datetime, end: datetime) -> list[Override]:
    """Every schedule's overrides in force over [start, end) (a convenience for one read)."""
    return await OverrideStore(db).overlapping(start, end)


__all__ = ["OverrideStore", "overrides_between"]
