"""An incident's timeline: what happened, who did it, in order (pages, postmortems and `show` read it).

Entries are written in the transaction of the change they record (`escalation.store`), or alone
for notes, checks and actions."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from escalation.db import aware, now
from escalation.model import TimelineEntry
from escalation.schema import timeline


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


async def entries(conn: AsyncConnection, incident_id: int) -> list[TimelineEntry]:
    """The incident's entries, oldest first."""
    q = timeline.select().where(timeline.c.incident_id == incident_id).order_by(timeline.c.id)
    rows = (await conn.execute(q)).mappings().all()
    return [
        TimelineEntry(aware(r["at"]), r["actor"], r["kind"], r["text"], r["data"] or {})  # type: ignore[arg-type]
        for r in rows
    ]
