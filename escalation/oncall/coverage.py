"""`alp check oncall`'s judgement of coverage, from the final shifts: gaps in the next days per
schedule (DST switches included, each gap named in the schedule's local time), a calendar that
could not be read (UNKNOWN, never "nobody"), and the overrides that could not be read.

Rule (the issue's, and every anchor's): nobody paged is the worst outcome, so a gap now is
CRITICAL, a gap ahead a WARNING with its spans; evidence is the shifts looked at.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from commands.durations import hours_text
from commands.report import Finding, Severity, Table
from escalation.oncall.directory import CalendarUnavailable, Directory
from escalation.oncall.override_flow import dst_switches

AHEAD = timedelta(days=14)
SHOWN = 8


def _local(at: datetime, zone_name: str) -> str:
    return f"{at.astimezone(ZoneInfo(zone_name)):%a %d %b %H:%M %Z}"


async def coverage_findings(directory: Directory, at: datetime, ahead: timedelta = AHEAD) -> list[Finding]:
    """One finding per schedule: OK (covered throughout), WARNING (gaps ahead), CRITICAL (a gap now),
    UNKNOWN (its calendar could not be read)."""
    out: list[Finding] = []
    for s in directory.settings.schedules:
        probe = f"schedule {s.name}"
        try:
            shifts, reading = await directory.shifts(s.name, at, at + ahead)
        except CalendarUnavailable as err:
            out.append(
                Finding(severity=Severity.UNKNOWN, title=f"{s.name}: coverage unknown", detail=str(err), probe=probe)
            )
            continue
        gaps = [sh for sh in shifts if not sh.users]
        days = ahead.total_seconds() / 86400
        switches = [t for t, _ in dst_switches(s.zone, at, at + ahead)]
        dst = (
            f"; {len(switches)} DST switch(es) inside, at {', '.join(_local(t, s.time_zone) for t in switches)}"
            if switches
            else ""
        )
        note = f" ({reading.note})" if reading.note else ""
        if not gaps:
            people = sorted({u for sh in shifts for u in sh.users})
            out.append(
                Finding(
                    severity=Severity.OK,
                    title=f"{s.name}: covered for the next {days:g} days",
                    detail=f"{len(shifts)} shift(s), {len(people)} people{dst}{note}",
                    probe=probe,
                )
            )
            continue
        now_gap = gaps[0].start <= at
        hours = hours_text(sum(g.hours for g in gaps) * 3600)
        rows = [
            [_local(g.start, s.time_zone), _local(g.end, s.time_zone), hours_text(g.hours * 3600)] for g in gaps[:SHOWN]
        ]
        more = f"; {len(gaps) - SHOWN} more not shown" if len(gaps) > SHOWN else ""
        out.append(
            Finding(
                severity=Severity.CRITICAL if now_gap else Severity.WARNING,
                title=f"{s.name}: nobody on call {'now' if now_gap else f'for {hours} in the next {days:g} days'}",
                detail=f"{len(gaps)} gap(s), {hours} in all: a page to this rung then says so and moves on{more}{dst}{note}",
                probe=probe,
                evidence=[Table(columns=["from", "until", "for"], rows=rows)],
            )
        )
    return out
