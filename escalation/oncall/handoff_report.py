"""The handoff report: at every shift change, in the schedule's channel and to the incoming and
outgoing people, what the next shift inherits. Data first (`HandoffReport`), words second.

Holds: who hands to whom and until when (local time), the open incidents and where each stands on
the ladder, remediation requests waiting for a second approval, overrides during the next shift,
gaps ahead in it, the silences active at the handoff (those that expire during the next shift
marked), the changes of the last shift (since the previous handoff report, at most `LAST_SHIFT_MAX`
back), and what
the caller's `health` hook judged CRITICAL or UNKNOWN now. The silences and changes come from the
caller's hooks (Alertmanager and `alp changes` live above escalation/); a hook that fails is a line
saying so, never a missing section. Claimed once per handoff across replicas (kind "report" in
`alp_oncall_handoffs`).
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
from escalation.oncall.spans import local_span
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
    last_shift_start: datetime | None = None  # when the outgoing shift began (its changes are listed)
    silences: list[Silence] = field(default_factory=list)
    silences_note: str = ""  # why silences are not known ("" when read)
    changes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Silence:
    """An Alertmanager silence active at the handoff: its matchers in words, its end, who and why."""

    matchers: str
    ends: datetime
    by: str
    comment: str


SilencesHook = Callable[[], Awaitable[list[Silence]]]  # raises with the reason when they cannot be read
ChangesHook = Callable[[datetime, datetime], Awaitable[list[str]]]  # (since, until) -> lines
LAST_SHIFT_MAX = timedelta(days=7)


def _ladder(inc: Incident) -> str:
    if inc.status is IncidentStatus.ACKNOWLEDGED:
        return f"acknowledged by <@{inc.acked_by}>"
    if inc.next_step < len(inc.ladder):
        due = f" at {inc.next_due_at:%H:%M} UTC" if inc.next_due_at else ""
        return f"next: {inc.ladder[inc.next_step].name}{due}"
    return "every rung paged"


def _silence(x: Silence, r: HandoffReport, zone: ZoneInfo) -> str:
    ends = x.ends.astimezone(zone)
    soon = r.until is None or x.ends <= r.until
    mark = " :hourglass: expires in this shift" if soon else ""
    why = f": {x.comment[:80]}" if x.comment else ""
    return f"`{x.matchers[:120]}` until {ends:%a %d %b %H:%M %Z}{mark} (by {x.by[:40]}{why})"


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
            + "; ".join(f"<@{o.user}> {local_span(o.start, o.end, zone)}" for o in r.overrides)
        )
    if r.gaps:
        lines.append(":warning: *Nobody on call*: " + "; ".join(local_span(s, e, zone) for s, e in r.gaps))
    if r.silences_note:
        lines.append(f"*Silences*: unknown ({r.silences_note})")
    else:
        lines.append("*Silences active*: " + ("; ".join(_silence(x, r, zone) for x in r.silences) or "none"))
    if r.last_shift_start is not None:
        since = r.last_shift_start.astimezone(zone)
        lines.append(
            f"*Changes in the last shift* (since {since:%a %d %b %H:%M %Z}): " + ("; ".join(r.changes) or "none seen")
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
    silences: SilencesHook | None = None,
    changes: ChangesHook | None = None,
    last_report: datetime | None = None,
) -> HandoffReport:
    """What the shift starting at `at` inherits (the incoming people are on call at `at`). The last
    shift's changes run from `last_report` (the previous handoff reported), else from the start of
    the outgoing shift; at most LAST_SHIFT_MAX back."""
    before, _ = await directory.shifts(schedule.name, at - LAST_SHIFT_MAX, at)
    now_on, reading = await directory.now(schedule.name, at)
    end = now_on.until or at + timedelta(days=1)
    shifts, _ = await directory.shifts(schedule.name, at, end)
    r = HandoffReport(
        schedule.name, schedule.time_zone, at, now_on.on_call, before[-1].users if before else (), now_on.until
    )
    r.last_shift_start = max(last_report or (before[-1].start if before else at), at - LAST_SHIFT_MAX)
    r.incidents = await asyncio.wait_for(Store(db).incidents(open_only=True, limit=20), timeout_s)
    r.approvals = await asyncio.wait_for(_approvals(db), timeout_s)
    r.overrides = [o for o in reading.overrides if o.schedule == schedule.name and o.start < end and o.end > at]
    r.gaps = [(s.start, s.end) for s in shifts if not s.users]
    if silences is None:
        r.silences_note = "no Alertmanager configured (ALP_ALERTMANAGER__URL)"
    else:
        try:
            r.silences = await asyncio.wait_for(silences(), timeout_s)
        except Exception as err:
            r.silences_note = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
    if changes is not None:
        try:
            r.changes = await changes(r.last_shift_start, at)
        except Exception as err:
            r.changes = [f"could not be read ({type(err).__name__}: {err})"]
    else:
        r.last_shift_start = None
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
