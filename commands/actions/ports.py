"""What the remediation flow (`commands.actions.flow`) is given: its storage (`RequestLog`, in the
state store: escalation/state/request_log.py), who may (`Authorizer`: bot/remediation/notifier.py,
bot/remediation/terminal.py) and what people see (`FlowNotifier`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

from commands.actions.refusal import Closed
from commands.actions.registry import ActionSpec, Outcome, Preview, Risk
from commands.actions.request import ActionRequest, RequestStatus
from commands.report import Report

AlertsOf = Callable[[str], Awaitable[list[dict[str, Any]]]]
"""channel -> the alerts (Alertmanager webhook dicts with `fingerprint`) behind the incident open there:
their rule expressions judge recovery in a remedy's re-check."""


class RequestLog(Protocol):
    """Requests and the audit log in the state store (escalation/state/request_log.py)."""

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
        """A new request in PENDING, expiring `ttl_s` seconds from now."""

    async def get(self, request_id: int) -> ActionRequest | None: ...

    async def move(
        self, request_id: int, from_status: tuple[RequestStatus, ...], to_status: RequestStatus, **values: Any
    ) -> ActionRequest | None:
        """One conditional update: the request in its new state, or None if it was no longer in
        `from_status` (someone else moved it first)."""

    async def set_message(self, request_id: int, ts: str) -> None:
        """Where the request's confirmation was posted (its message id)."""

    async def heartbeat(self, request_id: int, run_by: str, until: datetime) -> bool:
        """`run_by` still runs the request until `until`; False if it no longer does."""

    async def stale_runs(self, at: datetime) -> list[ActionRequest]:
        """Running requests whose process stopped vouching for them before `at`."""

    async def interrupt(self, request_id: int, at: datetime, outcome: dict[str, Any]) -> ActionRequest | None:
        """running -> interrupted if still stale at `at` (once): the request, or None."""

    async def audit(
        self, actor: str, event: str, action: str, params: dict[str, Any], result: str, channel: str
    ) -> None:
        """One audit row (already masked), tied to the open incident of `channel` if there is one."""

    async def record_step(
        self, channel: str, actor: str, text: str, data: dict[str, Any], kind: str = "action"
    ) -> None:
        """An action run in `channel` (or the check that verified it, `kind` "check") joins the
        steps taken of its open incident, if any; a remediation that ran acknowledges it."""


class Authorizer(Protocol):
    two_person: bool  # whether destructive actions need a second person here

    async def allowed(self, user: str, risk: Risk) -> bool:
        """Whether `user` may run (confirm, approve, cancel) actions of `risk` now."""


class FlowNotifier(Protocol):
    """What people see of a request; each call may fail only by returning (or NotDelivered)."""

    async def previewed(self, spec: ActionSpec, params: dict[str, Any], pre: Preview) -> None:
        """The preview, as soon as it is known (before any refusal)."""

    async def requested(self, spec: ActionSpec, req: ActionRequest) -> str | None:
        """Show the request and how to confirm it; its message id, if any. Raise NotDelivered."""

    async def posted(self, spec: ActionSpec, req: ActionRequest) -> None:
        """Once the message id is stored: anything more to show with it (the whole preview)."""

    async def awaiting_approval(self, spec: ActionSpec, req: ActionRequest) -> None: ...

    async def closed(self, spec: ActionSpec, req: ActionRequest, how: Closed, by: str) -> None: ...

    async def finished(self, spec: ActionSpec, req: ActionRequest, outcome: Outcome) -> None:
        """The outcome beside the request (`req.undo` says whether it can be undone)."""

    async def verified(self, spec: ActionSpec, req: ActionRequest, report: Report) -> None:
        """The related check's report after the action."""

    async def interrupted(self, spec: ActionSpec, req: ActionRequest) -> None:
        """The run's process died mid-run: what it changed is unknown; it may be run again."""
