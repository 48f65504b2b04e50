"""Remediation requests' storage (the remediation flow's state machine moves them)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from escalation.db import aware, now
from escalation.schema import action_requests

if TYPE_CHECKING:
    from escalation.store import Store


class ActionRequests:
    """Remediation requests: one row each, moved between states by conditional UPDATEs."""

    def __init__(self, store: Store) -> None:
        self.engine = store.engine

    def create(
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
        with self.engine.begin() as conn:
            res = conn.execute(
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

    def get(self, request_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(action_requests.select().where(action_requests.c.id == request_id)).mappings().first()
        if row is None:
            return None
        out = dict(row)
        for col in ("created_at", "expires_at", "approval_deadline"):
            out[col] = aware(out[col])
        return out

    def move(self, request_id: int, from_status: tuple[str, ...], to_status: str, **values: Any) -> bool:
        """status: from -> to, only if it is still in `from_status` (so one click wins)."""
        with self.engine.begin() as conn:
            res = conn.execute(
                action_requests.update()
                .where(action_requests.c.id == request_id, action_requests.c.status.in_(from_status))
                .values(status=to_status, **values)
            )
            return res.rowcount == 1

    def set_message(self, request_id: int, ts: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(action_requests.update().where(action_requests.c.id == request_id).values(message_ts=ts))
