"""Escalation settings: who is paged, where, and after how long. Runbook values as defaults."""

from __future__ import annotations

from pydantic import BaseModel, Field


class OnCall(BaseModel):
    """The runbook's on-call rotation."""

    primary: str = Field("@devops-oncall", description="Slack handle or <!subteam^ID> of primary")
    secondary: str = Field("@platform-oncall", description="Slack handle of the secondary")
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
    pager_webhook_url: str | None = Field(
        None, description="PagerDuty Events API v2 compatible URL for the manager step"
    )
    oncall: OnCall = Field(default_factory=OnCall)
    specialists: Specialists = Field(default_factory=Specialists)
