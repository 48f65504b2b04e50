"""A remediation request as the flow moves it: its states, its record, and its one-line label."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from commands.actions.registry import Preview, Risk


class RequestStatus(StrEnum):
    """Where a request is; stored as its value (`alp_action_requests.status`)."""

    PENDING = "pending"  # previewed and posted, waiting for Confirm
    AWAITING_APPROVAL = "awaiting_approval"  # destructive, confirmed: waiting for a second person
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # not confirmed (or approved) in time: nothing ran


@dataclass(frozen=True)
class ActionRequest:
    """One stored request. `params` are validated and JSON-ready; `preview` is what was shown;
    `outcome` (once done or failed) is {ok, summary, before, after, details, undo}; times are UTC."""

    id: int
    action: str
    params: dict[str, Any]
    risk: Risk
    requester: str
    channel: str
    status: RequestStatus
    created_at: datetime
    expires_at: datetime
    preview: Preview
    confirmed_by: str | None = None
    approver: str | None = None
    approval_deadline: datetime | None = None
    outcome: dict[str, Any] | None = None
    message_ts: str | None = None
    thread_ts: str | None = None

    @property
    def target(self) -> str:
        """The lock key: what the action touches (its name when the preview names nothing)."""
        return self.preview.target or self.action

    @property
    def undo(self) -> tuple[str, dict[str, Any]] | None:
        """(action, params) that reverts a successful run; kept server-side, never in a button."""
        undo = (self.outcome or {}).get("undo")
        return (str(undo[0]), dict(undo[1])) if isinstance(undo, list | tuple) and len(undo) == 2 else None

    def row(self) -> dict[str, Any]:
        """The request as the renderers read it (`preview` as {lines, before, after, items, target})."""
        return {
            "id": self.id,
            "action": self.action,
            "params": self.params,
            "risk": self.risk.value,
            "requester": self.requester,
            "channel": self.channel,
            "status": self.status.value,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "preview": preview_json(self.preview),
            "confirmed_by": self.confirmed_by,
            "approver": self.approver,
            "approval_deadline": self.approval_deadline,
            "outcome": self.outcome,
            "message_ts": self.message_ts,
            "thread_ts": self.thread_ts,
        }


def preview_json(p: Preview) -> dict[str, Any]:
    """A preview as stored with its request (the refusal is never stored: refused ones are not)."""
    return {"lines": p.lines, "before": p.before, "after": p.after, "items": p.items, "target": p.target}


def preview_of(d: dict[str, Any]) -> Preview:
    """The stored preview back (see `preview_json`)."""
    return Preview(d["lines"], d["before"], d["after"], d["items"], None, d["target"])


def label(action: str, params: dict[str, Any]) -> str:
    """`scale deployment=user-service replicas=4`: an action and its set parameters, plain text."""

    def show(v: Any) -> str:
        if isinstance(v, dict):
            return " ".join(f"{k}={x}" for k, x in v.items())
        if isinstance(v, list):
            return ",".join(str(x) for x in v)
        return str(v)

    parts = [
        show(v) if k == "values" else f"{k}={show(v)}" for k, v in params.items() if v is not None and v is not False
    ]
    return " ".join([action, *parts])
