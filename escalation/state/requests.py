"""Remediation requests' storage (the remediation flow's state machine moves them)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from escalation.state.db import Database, aware, now
from escalation.state.schema import action_requests


class RequestTable:
    """Remediation requests: one row each, moved between states by conditional UPDATEs."""

    def __init__(self, db: Database) -> None:
        self.engine = db.engine

    async def create(
        self,
        action: str,
        params: dict[str, Any],
        risk: str,
        requester: str,
        channel: str,
        ttl_s: float,
        preview: dict[str, Any],
        thread_ts: str | None = None,
    ) -> int:
        async with self.engine.begin() as conn:
            res = await conn.execute(
                action_requests.insert().values(
                    action=action,
                    params=params,
                    risk=risk,
                    requester=requester,
                    channel=channel,
                    status="pending",
                    created_at=now(),
                    expires_at=datetime.fromtimestamp(now().timestamp() + ttl_s, UTC),
                    preview=json.loads(json.dumps(preview, default=str)),
                    thread_ts=thread_ts,
                )
            )
            return int(res.inserted_primary_key[0])  # type: ignore[index]

    async def get(self, request_id: int) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (
                (await conn.execute(action_requests.select().where(action_requests.c.id == request_id)))
                .mappings()
                .first()
            )
        if row is None:
            return None
        out = dict(row)
        for col in ("created_at", "expires_at", "approval_deadline"):
            out[col] = aware(out[col])
        return out

    async def move(self, request_id: int, from_status: tuple[str, ...], to_status: str, **values: Any) -> bool:
        """status: from -> to, only if it is still in `from_status` (so one click wins)."""
        async with self.engine.begin() as conn:
            res = await conn.execute(
                action_requests.update()
                .where(action_requests.c.id == request_id, action_requests.c.status.in_(from_status))
                .values(status=to_status, **values)
            )
            return res.rowcount == 1

    async def set_message(self, request_id: int, ts: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(action_requests.update().where(action_requests.c.id == request_id).values(message_ts=ts))
