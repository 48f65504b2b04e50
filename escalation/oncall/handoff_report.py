"""The handoff report: at every shift change, in the schedule's channel and to the incoming and
outgoing people, what the next shift inherits. Data first (`HandoffReport`), words second.

Holds: who hands to whom and until when (local time), the open incidents and where each stands on
the ladder, remediation requests waiting for a second approval, overrides during the next shift,
gaps ahead in it, and what the caller's `health` hook judged CRITICAL or UNKNOWN now. Claimed once
per handoff across replicas (kind "report" in `alp_oncall_handoffs`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from escalation.model import Incident, IncidentStatus
from escalation.oncall.config import Schedule
from escalation.oncall.directory import Directory
from escalation.oncall.shifts import Override
from escalation.state.db import Database
from escalation.state.schema import action_requests
from escalation.state.store import Store


@dataclass
class HandoffReport:
    schedule: str
    time_zone: str
    at: datetime
    incoming: tuple[str, ...]
    outgoing: tuple[str, ...]
    until: datetime | None
    incidents: list[Incident] = field(default_factory=list)
    approvals: list[dict[str, object]] = field(default_factory=list)
    overrides: list[Override] = field(default_factory=list)
    gaps: list[tuple[datetime, datetime]] = field(default_factory=list)
    health: list[str] = field(default_factory=list)


def _ladder(inc: Incident) -> str:
    if inc.status is IncidentStatus.ACKNOWLEDGED:
        return f"acknowledged by <@{inc.acked_by}>"
    if inc.next_step < len(inc.ladder):
        due = f" at {inc.next_due_at:%H:%M} UTC" if inc.next_due_at else ""
        return f"next: {inc.ladder[inc.next_step].name}{due}"
    return "every rung paged"


def _who(users: tuple[str, ...]) -> str:
    return ", ".join(f"<@{u}>" for u in users) or "nobody"


def report_text(r: HandoffReport) -> str:
    """The report in mrkdwn, times in the schedule's zone."""
    zone = ZoneInfo(r.time_zone)
    who = _who
    until = f" until {r.until.astimezone(zone):%a %d %b %H:%M %Z}" if r.until else ""
    lines = [
        f":arrows_counterclockwise: *Handoff on `{r.schedule}`*: {who(r.incoming)} takes over from {who(r.outgoing)}{until}"
    ]
    lines.append(
        "*Open incidents*: "
        + ("; ".join(f"{i.ref} [{i.priority.value}] {i.summary[:80]} ({_ladder(i)})" for i in r.incidents) or "none")
    )
    if r.approvals:
        lines.append(
            "*Waiting for a second approval*: "
            + "; ".join(f"#{a['id']} {a['action']} by <@{a['requester']}>" for a in r.approvals)
        )
    if r.overrides:
        lines.append(
            "*Overrides in this shift*: "
            + "; ".join(
                f"<@{o.user}> {o.start.astimezone(zone):%a %H:%M}-{o.end.astimezone(zone):%a %H:%M %Z}"
                for o in r.overrides
            )
        )
    if r.gaps:
        lines.append(
            ":warning: *Nobody on call*: "
            + "; ".join(f"{s.astimezone(zone):%a %H:%M}-{e.astimezone(zone):%a %H:%M %Z}" for s, e in r.gaps)
        )
    lines.append("*Checks now*: " + ("; ".join(r.health) if r.health else "nothing CRITICAL or UNKNOWN"))
    return "\n".join(lines)


async def build_report(
    directory: Directory,
    db: Database,
    schedule: Schedule,
    at: datetime,
    health: Callable[[], Awaitable[list[str]]] | None = None,
    timeout_s: float = 5.0,
) -> HandoffReport:
    """What the shift starting at `at` inherits (the incoming people are on call at `at`)."""
    before, _ = await directory.shifts(schedule.name, at - timedelta(seconds=1), at)
    now_on, reading = await directory.now(schedule.name, at)
    end = now_on.until or at + timedelta(days=1)
    shifts, _ = await directory.shifts(schedule.name, at, end)
    r = HandoffReport(
        schedule.name, schedule.time_zone, at, now_on.on_call, before[0].users if before else (), now_on.until
    )
    r.incidents = await asyncio.wait_for(Store(db).incidents(open_only=True, limit=20), timeout_s)
    r.approvals = await asyncio.wait_for(_approvals(db), timeout_s)
    r.overrides = [o for o in reading.overrides if o.schedule == schedule.name and o.start < end and o.end > at]
    r.gaps = [(s.start, s.end) for s in shifts if not s.users]
    if health is not None:
        try:
            r.health = await health()
        except Exception as err:
            r.health = [f"UNKNOWN: the health run failed ({type(err).__name__}: {err})"]
    return r


async def _approvals(db: Database) -> list[dict[str, object]]:
    async with db.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(action_requests.c.id, action_requests.c.action, action_requests.c.requester).where(
                    action_requests.c.status == "awaiting_approval"
                )
            )
        ).mappings()
        return [dict(r) for r in rows]
