"""Escalation settings: who is paged, where, and after how long. Runbook values as defaults."""

from __future__ import annotations

from pydantic import BaseModel, Field


class OnCall(BaseModel):
    """The runbook's on-call rotation."""

    primary: str = Field("@devops-oncall", description="Slack mention of the primary: <!subteam^ID> or <@U…>")
    secondary: str = Field("@platform-oncall", description="Slack mention of the secondary")
    primary_users: list[str] = Field(default_factory=list, description="Slack user IDs DMed at the primary step")
    secondary_users: list[str] = Field(default_factory=list, description="Slack user IDs DMed at the secondary step")
    primary_schedule: str = Field(
        "devops", description="On-call schedule paged at the primary rung when configured ('' : never)"
    )
    secondary_schedule: str = Field(
        "platform", description="On-call schedule paged at the secondary rung when configured ('' : never)"
    )
    manager: str = Field("Engineering Manager", description="Reached by phone via the pager webhook")
    manager_phone: str = Field("+1-XXX-XXX-XXXX", description="Shown in pages; dialled by the pager")


class Specialists(BaseModel):
    """Specialist channels, added to an incident by affected area."""

    database: str = "#database-support"
    security: str = "#security-incidents"
    ml: str = "#ml-support"


class EscalationSettings(BaseModel):
    """When each priority escalates, in seconds (runbook: P0 now, P1 30 min, P2 2 h)."""

    incident_channel: str = Field("#incidents", description="Where incidents are announced")
    p0_first_page_s: float = Field(0, ge=0, description="P0 pages immediately")
    p1_first_page_s: float = Field(30 * 60, ge=0, description="P1: escalate if unacked in 30 min")
    p2_first_page_s: float = Field(2 * 3600, ge=0, description="P2: escalate if unacked in 2 h")
    step_wait_s: float = Field(15 * 60, ge=0, description="Wait between ladder steps")
    ack_timeout_s: float = Field(
        4 * 3600, ge=0, description="Acked but unresolved this long: back to triggered (0: never)"
    )
    reminder_s: float = Field(24 * 3600, gt=0, description="Reminder interval for long-acknowledged incidents")
    page_retries: int = Field(
        3, ge=0, le=10, description="Failed attempts before the thread says the page is failing (retries go on)"
    )
    page_backoff_s: float = Field(2.0, ge=0, description="First retry delay; doubles each retry")
    page_backoff_max_s: float = Field(60.0, gt=0, description="Longest wait between retries of a failing page")
    page_attempt_timeout_s: float = Field(
        15.0, gt=0, description="One delivery attempt's limit; a crashed attempt is retried after twice this"
    )
    leader_poll_s: float = Field(
        2.0, gt=0, description="How often the leader renews its lease and reconciles, and a standby tries to lead"
    )
    leader_lease_s: float = Field(
        10.0, gt=0, description="A leader that stops renewing (dead, paused) is replaced after this long"
    )
    ack_on_engagement: bool = Field(
        True,
        description="A remediation confirmed or a silence set in a triggered incident acknowledges it (by that person)",
    )
    page_recheck_s: float = Field(
        10.0,
        ge=0,
        description="Before a page is sent, the incident's checks run again for at most this long (0: never), "
        "so the page says what is true now",
    )
    manager_warning_s: float = Field(
        120.0,
        ge=0,
        description="The incident's thread warns this long before the manager's phone is called (0: no warning)",
    )
    pager_webhook_url: str | None = Field(
        None, description="PagerDuty Events API v2 compatible URL for the manager step"
    )
    pager_routing_key: str = Field("alp", description="Events API v2 routing (integration) key")
    oncall: OnCall = Field(default_factory=OnCall)
    specialists: Specialists = Field(default_factory=Specialists)
