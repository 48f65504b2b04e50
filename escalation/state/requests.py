"""Remediation requests' storage (the remediation flow's state machine moves them)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from commands.runtime.clock import SYSTEM_CLOCK, Clock
from escalation.state.db import Database, aware
from escalation.state.schema import action_requests


class RequestTable:
    """Remediation requests: one row each, moved between states by conditional UPDATEs."""

    def __init__(self, db: Database, clock: Clock = SYSTEM_CLOCK) -> None:
        """`clock`: when a request is made and when it expires (commands/runtime/clock.py)."""
        self.engine = db.engine
        self.clock = clock

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
        at = self.clock.now()
        async with self.engine.begin() as conn:
            res = await conn.execute(
                action_requests.insert().values(
                    action=action,
                    params=params,
                    risk=risk,
                    requester=requester,
                    channel=channel,
                    status="pending",
                    created_at=at,
                    expires_at=at + timedelta(seconds=ttl_s),
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

    async def heartbeat(self, request_id: int, run_by: str, until: datetime) -> bool:
        """The process `run_by` still runs the request: vouch for it until `until`. False if the
        request is no longer its running one (interrupted by the leader meanwhile)."""
        async with self.engine.begin() as conn:
            res = await conn.execute(
                action_requests.update()
                .where(
                    action_requests.c.id == request_id,
                    action_requests.c.status == "running",
                    action_requests.c.run_by == run_by,
                )
                .values(run_until=until)
            )
            return res.rowcount == 1

    async def stale_runs(self, at: datetime) -> list[int]:
        """Ids of running requests whose process stopped vouching for them before `at`."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(action_requests.c.id).where(
                    action_requests.c.status == "running",
                    sa.or_(action_requests.c.run_until.is_(None), action_requests.c.run_until < at),
                )
            )
            return [int(r[0]) for r in rows]

    async def interrupt(self, request_id: int, at: datetime, outcome: dict[str, Any]) -> bool:
        """running -> interrupted, only if its process still has not vouched for it at `at` (once,
        whoever leads)."""
        async with self.engine.begin() as conn:
            res = await conn.execute(
                action_requests.update()
                .where(
                    action_requests.c.id == request_id,
                    action_requests.c.status == "running",
                    sa.or_(action_requests.c.run_until.is_(None), action_requests.c.run_until < at),
                )
                .values(status="interrupted", outcome=outcome, run_until=None)
            )
            return res.rowcount == 1

    async def set_message(self, request_id: int, ts: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(action_requests.update().where(action_requests.c.id == request_id).values(message_ts=ts))
