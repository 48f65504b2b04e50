"""The remediation flow's storage (commands/actions/ports.py's `RequestLog`): its requests
(escalation/state/requests.py), the audit log, and the incident timeline's "action" steps."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from commands.actions.registry import Risk
from commands.actions.request import ActionRequest, RequestStatus, preview_of
from escalation.model import TimelineKind
from escalation.state.audit import AuditLog
from escalation.state.db import Database
from escalation.state.requests import RequestTable
from escalation.state.store import Store

# (incident id, who, how) -> whether it acknowledged the incident (Escalator.engaged)
Engaged = Callable[[int, str, str], Awaitable[bool]]


class StateRequestLog:
    """Requests as typed `ActionRequest`s, each move one conditional UPDATE; audit rows tied to
    the open incident of their channel."""

    def __init__(
        self,
        store: Store,
        on_engaged: Engaged | None = None,
        on_verdict: Callable[[int], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self.on_engaged = on_engaged  # the bot's Escalator.engaged: a remediation that ran acknowledges
        self.on_verdict = on_verdict  # the bot's Escalator.verdict_recorded: the re-check after it updates messages
        self.requests = RequestTable(store.db, store.clock)
        self.audit_log = AuditLog(store.db)

    @classmethod
    def connect(cls, state_url: str) -> StateRequestLog:
        """The log in the state store at `state_url` (the terminal)."""
        return cls(Store(Database(state_url, pooled=False)))

    async def close(self) -> None:
        await self.store.close()

    async def create(
        self,
        action: str,
        params: dict[str, Any],
        risk: Risk,
        requester: str,
        channel: str,
        ttl_s: float,
        preview: dict[str, Any],
        thread_ts: str | None = None,
    ) -> ActionRequest:
        rid = await self.requests.create(action, params, risk.value, requester, channel, ttl_s, preview, thread_ts)
        req = await self.get(rid)
        assert req is not None
        return req

    async def get(self, request_id: int) -> ActionRequest | None:
        row = await self.requests.get(request_id)
        return None if row is None else _request(row)

    async def move(
        self, request_id: int, from_status: tuple[RequestStatus, ...], to_status: RequestStatus, **values: Any
    ) -> ActionRequest | None:
        if not await self.requests.move(request_id, tuple(s.value for s in from_status), to_status.value, **values):
            return None
        return await self.get(request_id)

    async def heartbeat(self, request_id: int, run_by: str, until: datetime) -> bool:
        return await self.requests.heartbeat(request_id, run_by, until)

    async def stale_runs(self, at: datetime) -> list[ActionRequest]:
        found = [await self.get(i) for i in await self.requests.stale_runs(at)]
        return [r for r in found if r is not None]

    async def interrupt(self, request_id: int, at: datetime, outcome: dict[str, Any]) -> ActionRequest | None:
        if not await self.requests.interrupt(request_id, at, outcome):
            return None
        return await self.get(request_id)

    async def set_message(self, request_id: int, ts: str) -> None:
        await self.requests.set_message(request_id, ts)

    async def audit(
        self, actor: str, event: str, action: str, params: dict[str, Any], result: str, channel: str
    ) -> None:
        inc = await self.store.open_in_channel(channel) if channel else None
        await self.audit_log.record(actor, event, action, params, result, inc.id if inc else None)

    async def record_step(
        self, channel: str, actor: str, text: str, data: dict[str, Any], kind: str = TimelineKind.ACTION
    ) -> None:
        inc = await self.store.open_in_channel(channel) if channel else None
        if inc is None:
            return
        await self.store.log(inc.id, actor, kind, text, data)
        if self.on_verdict is not None and kind == TimelineKind.CHECK:
            await self.on_verdict(inc.id)
        if self.on_engaged is not None and kind == TimelineKind.ACTION and data.get("ok"):
            await self.on_engaged(inc.id, actor, f"by confirming {text.partition(':')[0]}")


def _request(row: dict[str, Any]) -> ActionRequest:
    return ActionRequest(
        id=row["id"],
        action=row["action"],
        params=dict(row["params"]),
        risk=Risk(row["risk"]),
        requester=row["requester"],
        channel=row["channel"],
        status=RequestStatus(row["status"]),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        preview=preview_of(row["preview"]),
        confirmed_by=row["confirmed_by"],
        approver=row["approver"],
        approval_deadline=row["approval_deadline"],
        outcome=row["outcome"],
        message_ts=row["message_ts"],
        thread_ts=row["thread_ts"],
    )
