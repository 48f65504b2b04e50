"""Incidents as data: priority, status, the frozen ladder, timeline entries, the checklist."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from escalation.config import EscalationSettings


class Priority(StrEnum):
    P0 = "P0"
    P1 = "P1"
    P2 = "P2"


class IncidentStatus(StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class Rung:
    """One rung of the ladder: who is paged, how, and how long after the previous rung."""

    name: str  # primary, secondary, manager
    mention: str
    via: str  # "slack" (channel mention + DMs) or "pager" (webhook, the manager's phone)
    delay_s: float
    dm_users: tuple[str, ...] = ()
    schedule: str | None = None  # on-call schedule whose people are paged, when it is configured

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "mention": self.mention,
            "via": self.via,
            "delay_s": self.delay_s,
            "dm_users": list(self.dm_users),
            "schedule": self.schedule,
        }

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Rung:
        return Rung(
            d["name"], d["mention"], d["via"], float(d["delay_s"]), tuple(d.get("dm_users", ())), d.get("schedule")
        )


def build_ladder(priority: Priority, cfg: EscalationSettings) -> list[Rung]:
    """The runbook's ladder: primary -> secondary -> manager, first page by priority."""
    first = {Priority.P0: cfg.p0_first_page_s, Priority.P1: cfg.p1_first_page_s, Priority.P2: cfg.p2_first_page_s}[
        priority
    ]
    oc = cfg.oncall
    return [
        Rung("primary", oc.primary, "slack", first, tuple(oc.primary_users), oc.primary_schedule or None),
        Rung(
            "secondary",
            oc.secondary,
            "slack",
            cfg.step_wait_s,
            tuple(oc.secondary_users),
            oc.secondary_schedule or None,
        ),
        Rung("manager", f"{oc.manager} ({oc.manager_phone})", "pager", cfg.step_wait_s),
    ]


CHECKLIST = [
    "Verify all services are healthy",
    "Check monitoring dashboards",
    "Run smoke tests",
    "Verify user-facing functionality",
    "Clear any alerts",
    "Document the incident",
    "Schedule post-incident review",
]

SPECIALIST_KEYWORDS = {
    "database": ("database", "postgres", "db", "deadlock", "sql"),
    "security": ("security", "breach", "suspicious", "falco", "attack"),
    "ml": ("ml", "model", "prediction", "mlflow", "gpu", "ml-service"),
}


def specialist_areas(services: list[str], summary: str) -> list[str]:
    """Which specialist teams an incident needs, from its affected services and summary."""
    words = {w.strip(".,:;()").lower() for w in summary.split()} | {s.lower() for s in services}
    return [area for area, keys in SPECIALIST_KEYWORDS.items() if words & set(keys)]


@dataclass
class Incident:
    id: int
    priority: Priority
    summary: str
    impact: str
    services: list[str]
    status: IncidentStatus
    channel: str
    opened_by: str
    opened_at: datetime
    ladder: list[Rung]
    next_step: int = 0
    escalation_id: str | None = None
    message_ts: str | None = None
    acked_by: str | None = None
    acked_at: datetime | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    checklist: dict[str, bool] = field(default_factory=dict)
    version: int = 0
    next_due_at: datetime | None = None  # when ladder[next_step] is due; None: nothing due
    ack_due_at: datetime | None = None
    remind_at: datetime | None = None
    external_key: str | None = None

    @property
    def ref(self) -> str:
        return f"INC-{self.id}"


class PagerEvent(StrEnum):
    """PagerDuty Events API v2 `event_action`s alp sends (the payloads and the dedup key:
    `escalation.ladder.pager`): the manager's page opens an alert, alp's incident ends it."""

    TRIGGER = "trigger"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


class TimelineKind(StrEnum):
    """What a timeline entry records (stored as its value)."""

    OPENED = "opened"
    PAGE = "page"
    PAGE_FAILED = "page_failed"  # an attempt failed; retries go on while the incident is triggered
    PAGER_EVENT = "pager_event"  # the pager's alert acknowledged or resolved (PagerDuty Events v2)
    ACK = "ack"
    ESCALATE = "escalate"
    NOTE = "note"
    CHECK = "check"
    ACTION = "action"
    EVIDENCE = "evidence"
    RESOLVE = "resolve"
    RETRIGGER = "retrigger"
    REMINDER = "reminder"
    CHECKLIST = "checklist"
    SPECIALISTS = "specialists"
    ERROR = "error"


@dataclass
class TimelineEntry:
    at: datetime
    actor: str
    kind: str  # a TimelineKind value (checks and actions may record their own kinds)
    text: str
    data: dict[str, Any] = field(default_factory=dict)
