"""The audit log: who asked for, previewed, approved, refused or ran which remediation, with what
result, tied to the open incident of the channel it happened in (`alp audit`, `alp changes`)."""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta
from typing import Any

from escalation.state.db import Database, aware, now
from escalation.state.requests import RequestTable
from escalation.state.schema import audit


class AuditLog:
    """Audit records in the state database (the bot and the terminal `alp do` write the same log)."""

    def __init__(self, state: Database | str) -> None:
        """On the bot's `Database`, or on ALP_STATE_URL (opened, and migrated, here, for a one-shot
        command like the terminal's `alp do`: no connection is kept between calls)."""
        self.db = state if isinstance(state, Database) else Database(state, pooled=False)

    @classmethod
    async def latest_of(cls, state_url: str, limit: int = 20) -> list[dict[str, Any]]:
        """`latest(limit)` of the log at ALP_STATE_URL (`alp audit`)."""
        log = cls(state_url)
        try:
            return await log.latest(limit)
        finally:
            await log.close()

    async def close(self) -> None:
        await self.db.close()

    async def record(
        self,
        actor: str,
        event: str,
        action: str,
        params: dict[str, Any],
        result: str = "",
        incident_id: int | None = None,
    ) -> None:
        """One record: `event` is requested, dry-run, refused, approved, outcome..."""
        async with self.db.engine.begin() as conn:
            await conn.execute(
                audit.insert().values(
                    at=now(),
                    actor=actor,
                    event=event,
                    action=action,
                    params=params,
                    result=result,
                    incident_id=incident_id,
                )
            )

    async def latest(self, limit: int = 20) -> list[dict[str, Any]]:
        """The newest audit records first, each {id, at, actor, event, action, params, result, incident_id}."""
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(audit.select().order_by(audit.c.id.desc()).limit(limit))).mappings().all()
        return [dict(r) for r in rows]


async def changes_since(
    state_url: str, since: datetime, limit: int = 2000
) -> tuple[list[dict[str, Any]], dict[int, Any], str]:
    """`alp changes`' read of the state store (handed to checks as `CheckContext.audit_reader` by the bot and the terminal):
    audit records from `since` (and an hour before, so a request asked earlier and run inside the
    window is matched), the Slack requests they name, and how far back the records read go."""
    path = state_url.removeprefix("sqlite:///")
    if path != state_url and not os.path.exists(path):  # noqa: ASYNC240 (one stat) do not create a state store to read it
        return [], {}, f"no audit log ({path} does not exist)"
    db = Database(state_url, pooled=False)
    try:
        rows = await AuditLog(db).latest(limit)
        floor = since - timedelta(hours=1)
        rows = [r for r in rows if (aware(r["at"]) or floor) >= floor]
        requests: dict[int, Any] = {}
        reader = RequestTable(db)
        for r in rows:
            m = re.search(r"#(\d+)", r["result"] or "") if r["event"] == "requested" else None
            if m:
                req = await reader.get(int(m[1]))
                if req is not None:
                    requests[int(m[1])] = req
        reach = "the whole audit log" if len(rows) < limit else f"the latest {limit} audit records only"
        return rows, requests, reach
    finally:
        await db.close()
