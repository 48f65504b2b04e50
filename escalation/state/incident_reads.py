"""Reads of the state store's incidents and their timelines: by id, by channel, by external key,
what the reconciler has to do and when the next thing falls due. `Store` (`escalation.state.store`)
adds the conditional writes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from commands.runtime.clock import SYSTEM_CLOCK, Clock
from escalation.model import Incident, IncidentStatus, TimelineEntry
from escalation.state.db import Database, aware
from escalation.state.rows import incident_of as _incident
from escalation.state.schema import incidents
from escalation.state.timeline import entries


class IncidentReads:
    """Reads of incidents and their timelines, on a `Database` (or ALP_STATE_URL, opened and migrated here)."""

    def __init__(self, state: Database | str, clock: Clock = SYSTEM_CLOCK) -> None:
        """On a `Database`, or on ALP_STATE_URL (opened, and migrated, here). `clock`: what "now" is
        for the timers a change sets and the conditions it checks (commands/runtime/clock.py)."""
        self.db = state if isinstance(state, Database) else Database(state)
        self.clock = clock

    @property
    def engine(self) -> AsyncEngine:
        return self.db.engine

    @property
    def is_postgres(self) -> bool:
        return self.db.is_postgres

    async def close(self) -> None:
        await self.db.close()

    async def ping(self, timeout_s: float) -> str | None:
        """None when the store answers, else why not."""
        return await self.db.ping(timeout_s)

    async def get(self, incident_id: int) -> Incident | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(incidents.select().where(incidents.c.id == incident_id))).mappings().first()
        return _incident(row) if row else None

    async def incidents(self, open_only: bool = True, limit: int = 20) -> list[Incident]:
        q = incidents.select().order_by(incidents.c.id.desc()).limit(limit)
        if open_only:
            q = q.where(incidents.c.status != IncidentStatus.RESOLVED.value)
        async with self.engine.connect() as conn:
            return [_incident(r) for r in (await conn.execute(q)).mappings()]

    async def _newest_open(self, where: Any, resolved_too: bool = False) -> Incident | None:
        if not resolved_too:
            where = sa.and_(where, incidents.c.status != IncidentStatus.RESOLVED.value)
        q = incidents.select().where(where).order_by(incidents.c.id.desc()).limit(1)
        async with self.engine.connect() as conn:
            row = (await conn.execute(q)).mappings().first()
        return _incident(row) if row else None

    async def open_in_channel(self, channel: str) -> Incident | None:
        """The newest unresolved incident announced in `channel`."""
        return await self._newest_open(incidents.c.channel == channel)

    async def newest_in_channel(self, channel: str) -> Incident | None:
        """The newest incident announced in `channel`, resolved or not."""
        return await self._newest_open(incidents.c.channel == channel, resolved_too=True)

    async def open_for_key(self, key: str) -> Incident | None:
        """The unresolved incident opened for an external key (e.g. an Alertmanager group key)."""
        return await self._newest_open(incidents.c.external_key == key)

    async def due(self, at: datetime) -> dict[str, list[Incident]]:
        """What the reconciler has to do at `at`: "announce", "step", "ack_timeout", "reminder", "warning"."""
        c = incidents.c
        acked = c.status == IncidentStatus.ACKNOWLEDGED.value
        wheres = {
            "announce": sa.and_(c.announced.is_(False), c.status != IncidentStatus.RESOLVED.value),
            "step": sa.and_(c.status == IncidentStatus.TRIGGERED.value, c.next_due_at <= at),
            "ack_timeout": sa.and_(acked, c.ack_due_at <= at),
            "reminder": sa.and_(acked, c.remind_at <= at),
            "warning": sa.and_(c.status == IncidentStatus.TRIGGERED.value, c.remind_at <= at),
        }
        async with self.engine.connect() as conn:
            return {
                k: [_incident(r) for r in (await conn.execute(incidents.select().where(w).order_by(c.id))).mappings()]
                for k, w in wheres.items()
            }

    async def next_due(self) -> datetime | None:
        """The earliest step, ack timeout or reminder due on any open incident."""
        c = incidents.c
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(sa.func.min(c.next_due_at), sa.func.min(c.ack_due_at), sa.func.min(c.remind_at)).where(
                        c.status != IncidentStatus.RESOLVED.value
                    )
                )
            ).one()
        times = [aware(t) for t in row if t is not None]
        return min(times) if times else None  # type: ignore[type-var]

    async def timeline(self, incident_id: int) -> list[TimelineEntry]:
        async with self.engine.connect() as conn:
            return await entries(conn, incident_id)
