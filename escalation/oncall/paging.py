"""A ladder rung that names a schedule, resolved at the moment it is paged.

The frozen `Rung` names its schedule; `resolve` returns the rung to page (the group's
mention, and the people on call as the users to DM) or a `Gap` when nobody is on call, which the
delivery says in the thread before moving to the next rung at once. A rung whose schedule is not
configured is paged as configured (the fixed mention and `*_users`), as before schedules existed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from escalation.model import IncidentStatus, Rung
from escalation.oncall.directory import CalendarUnavailable, Directory, UnknownSchedule
from escalation.state.db import Database, now
from escalation.state.schema import incidents


@dataclass(frozen=True)
class Gap:
    """Nobody is on call on `schedule` (until `until`, None: not within the horizon), or its
    coverage is unknown (`unknown`: a calendar that could not be read)."""

    schedule: str
    until: datetime | None
    next_on_call: tuple[str, ...] = ()
    unknown: str = ""

    def text(self, step: str) -> str:
        if self.unknown:
            return (
                f"nobody could be paged for {step}: schedule `{self.schedule}`'s coverage is unknown ({self.unknown})"
            )
        when = f" until {self.until:%Y-%m-%d %H:%M} UTC" if self.until else " for the next two weeks at least"
        who = f" (then {', '.join(f'<@{u}>' for u in self.next_on_call)})" if self.next_on_call else ""
        return f"nobody is on call for {step} on schedule `{self.schedule}`{when}{who}"


def group_mention(group: str | None, fallback: str) -> str:
    return f"<!subteam^{group}>" if group else fallback


async def resolve(directory: Directory | None, step: Rung, at: datetime | None = None) -> tuple[Rung, str] | Gap:
    """The step to page at `at` (default now) and a note on what it rests on, or a Gap."""
    if directory is None or not step.schedule:
        return step, ""
    try:
        schedule = directory.schedule(step.schedule)
    except UnknownSchedule:
        return step, ""  # not configured: today's fixed rung
    try:
        who, reading = await directory.now(schedule.name, at or now())
    except CalendarUnavailable as err:
        return Gap(schedule.name, None, unknown=str(err))
    if not who.on_call:
        return Gap(schedule.name, who.next_at, who.next_on_call)
    people = " ".join(f"<@{u}>" for u in who.on_call)
    mention = f"{group_mention(schedule.group, step.mention)} ({people})"
    return dataclasses.replace(step, mention=mention, dm_users=who.on_call), reading.note


async def next_rung_due_now(db: Database, incident_id: int, escalation_id: str, next_step: int) -> bool:
    """After a gap: the rung after it is due now (one conditional UPDATE, only on the same
    escalation and while it is still triggered and at that rung), and no warning of it is left
    due (`remind_at`: the gap's line said "moving on to … now"). True if it changed."""
    async with db.engine.begin() as conn:
        res = await conn.execute(
            incidents.update()
            .where(
                incidents.c.id == incident_id,
                incidents.c.escalation_id == escalation_id,
                incidents.c.next_step == next_step,
                incidents.c.status == IncidentStatus.TRIGGERED.value,
                incidents.c.next_due_at.is_not(None),
            )
            .values(next_due_at=now(), remind_at=None, version=incidents.c.version + 1)
        )
    return bool(res.rowcount)
