"""An incident's timeline: what happened, who did it, in order (pages, postmortems and `show` read it).

Entries are written in the transaction of the change they record (`escalation.state.store`), or alone
for notes, checks and actions."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from escalation.model import IncidentStatus, TimelineEntry
from escalation.state.db import aware, now
from escalation.state.schema import incidents, timeline


async def add_entry(
    conn: AsyncConnection, incident_id: int, actor: str, kind: str, text: str, data: dict[str, Any] | None = None
) -> None:
    """One entry on `conn`'s transaction; `data` is stored as JSON (anything else as its text)."""
    await conn.execute(
        timeline.insert().values(
            incident_id=incident_id,
            at=now(),
            actor=actor,
            kind=str(kind),
            text=text,
            data=json.loads(json.dumps(data or {}, default=str)),
        )
    )


async def add_entry_in_channel(
    engine: AsyncEngine, channel: str, actor: str, kind: str, text: str, data: dict[str, Any] | None = None
) -> int | None:
    """One entry on the newest unresolved incident of `channel`, found and written by one
    INSERT ... SELECT (a check run in an incident's channel costs one round trip, not two);
    the incident's id, or None when the channel has no open incident."""
    newest = (
        sa.select(
            incidents.c.id,
            sa.literal(now(), timeline.c.at.type),
            sa.literal(actor, timeline.c.actor.type),
            sa.literal(str(kind), timeline.c.kind.type),
            sa.literal(text, timeline.c.text.type),
            sa.literal(json.loads(json.dumps(data or {}, default=str)), timeline.c.data.type),
        )
        .where(incidents.c.channel == channel, incidents.c.status != IncidentStatus.RESOLVED.value)
        .order_by(incidents.c.id.desc())
        .limit(1)
    )
    insert = timeline.insert().from_select(["incident_id", "at", "actor", "kind", "text", "data"], newest)
    async with engine.begin() as conn:
        row = (await conn.execute(insert.returning(timeline.c.incident_id))).first()
    return int(row[0]) if row else None


async def entries(conn: AsyncConnection, incident_id: int) -> list[TimelineEntry]:
    """The incident's entries, oldest first."""
    q = timeline.select().where(timeline.c.incident_id == incident_id).order_by(timeline.c.id)
    rows = (await conn.execute(q)).mappings().all()
    return [
        TimelineEntry(aware(r["at"]), r["actor"], r["kind"], r["text"], r["data"] or {})  # type: ignore[arg-type]
        for r in rows
    ]
