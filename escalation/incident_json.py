"""`alp --json incident list`: every incident, newest first, with the alert group it came from."""

from __future__ import annotations

import json

from escalation.state.alert_groups import AlertGroups
from escalation.state.db import Database
from escalation.state.store import Store


async def incidents_json(state_url: str, limit: int = 200) -> str:
    """{"incidents": [{id, ref, priority, status, summary, channel, opened_at, resolved_at,
    alert_group (Alertmanager groupKey or null), previous_incident (id or null)}]}."""
    db = Database(state_url)
    try:
        groups = await AlertGroups(db).keys_of_incidents()
        out = []
        for inc in await Store(db).incidents(open_only=False, limit=limit):
            key, previous = groups.get(inc.id, (None, None))
            out.append(
                {
                    "id": inc.id,
                    "ref": inc.ref,
                    "priority": inc.priority.value,
                    "status": inc.status.value,
                    "summary": inc.summary,
                    "channel": inc.channel,
                    "opened_at": inc.opened_at.isoformat(),
                    "resolved_at": inc.resolved_at.isoformat() if inc.resolved_at else None,
                    "alert_group": key,
                    "previous_incident": previous,
                }
            )
        return json.dumps({"incidents": out}, indent=2)
    finally:
        await db.close()
