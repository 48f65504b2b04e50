"""How the remediation flow answers other than with a request: a `Refusal` and its `Reason`, the
`Click` a refusal was for, how a request `Closed` without running, and `NotDelivered` (raised by a
`FlowNotifier` that could not show the confirmation). Data only: the caller words it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from commands.actions.registry import Risk
from commands.actions.request import ActionRequest


class NotDelivered(Exception):
    """The confirmation could not be shown where it was asked for; the message says why."""


class Reason(StrEnum):
    """Why the flow said no (nothing was changed in every case)."""

    INVALID = "invalid"  # unknown action or bad parameters (detail: the usage error)
    PREVIEW = "preview"  # the preview refused it: bounds, allowlists, a backend (detail: why)
    NOT_DELIVERED = "not_delivered"  # the confirmation could not be posted (detail: why)
    NO_REQUEST = "no_request"
    EXPIRED = "expired"  # not confirmed within the request's time to live
    APPROVAL_EXPIRED = "approval_expired"  # the second person came too late
    UNAUTHORIZED = "unauthorized"  # for `click`, at `risk`
    SELF_APPROVAL = "self_approval"  # the requester or confirmer tried to approve
    ALREADY = "already"  # the request moved on (double click, retry, someone else): `request` says where
    LOCKED = "locked"  # another action holds the target (detail: who)
    UNAVAILABLE = "unavailable"  # the lock's store (Redis) could not be reached (detail: the BackendError)


class Click(StrEnum):
    CONFIRM = "confirm"
    APPROVE = "approve"
    CANCEL = "cancel"


class Closed(StrEnum):
    """How a request ended without running."""

    EXPIRED = "expired"
    APPROVAL_EXPIRED = "approval_expired"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Refusal:
    """A no from the flow, as data: the caller words it (Slack mrkdwn, terminal text)."""

    reason: Reason
    detail: str = ""
    action: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    risk: Risk | None = None
    click: Click | None = None
    request: ActionRequest | None = None
