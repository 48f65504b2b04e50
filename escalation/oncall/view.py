"""`oncall` as data and as words: now, until when, next, for every schedule or one.

The data is the contract's shape (DESIGN.md, "on-call schedules"): `data.schedules[]`, each with
`name`, `on_call` (Slack user ids; null: unknown, as a gap of the rotations while the overrides
could not be read, `error` then says so), `until` (ISO8601, UTC; null: no change within the horizon
looked at) and `next` {`on_call`, `at`}; added: `time_zone`, `group`, `source`, `note`, `error`.
`oncall week` gives `week_data`'s shape (each schedule's `shifts`).
The words show times in the asker's zone (Slack's `users.info` `tz`; the terminal's: UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from commands.durations import hours_text
from escalation.oncall.directory import CalendarUnavailable, Directory
from escalation.oncall.rotation import to_local, to_utc
from escalation.oncall.shifts import overlaps
from escalation.oncall.spans import local_span


async def oncall_data(directory: Directory, at: datetime, schedule: str | None = None) -> dict[str, Any]:
    """{"at": ISO8601, "schedules": [...]} for `schedule` (UnknownSchedule if it is not configured) or all."""
    names = [directory.schedule(schedule).name] if schedule else [s.name for s in directory.settings.schedules]
    out: list[dict[str, Any]] = []
    for name in names:
        sched = directory.schedule(name)
        entry: dict[str, Any] = {"name": name, "time_zone": sched.time_zone, "group": sched.group}
        try:
            now, reading = await directory.now(name, at)
        except CalendarUnavailable as err:  # unknown, never "nobody"
            entry.update(on_call=None, until=None, next=None, source="unknown", note="", error=str(err))
            out.append(entry)
            continue
        unread = bool(reading.note)  # the overrides were not read: a gap of the rotations may be covered
        entry.update(
            on_call=_seen(now.on_call, unread),
            until=now.until.isoformat() if now.until else None,
            next={"on_call": _seen(now.next_on_call, unread), "at": now.next_at.isoformat() if now.next_at else None},
            source="unknown" if unread and not now.on_call else now.source,
            note=reading.note,
            error=f"the rotations have nobody now, but an override may cover it: {reading.note}"
            if unread and not now.on_call
            else None,
        )
        out.append(entry)
    return {"at": at.isoformat(), "schedules": out}


def _seen(users: tuple[str, ...], unread: bool) -> list[str] | None:
    """The people, or None (unknown) for a gap of the rotations when the overrides were not read."""
    return None if unread and not users else list(users)


NO_CHANGE = "with no change for the next two weeks at least"  # the horizon looked at is 15 days or more


def until_words(until: datetime | None, zone: ZoneInfo, at: datetime) -> str:
    """How long the people on call now stay, as the end of a sentence: `until Tue 10 Mar 09:00 CET
    (in 2.5 h)`, or NO_CHANGE when nothing changes within the horizon (`until` None)."""
    if until is None:
        return NO_CHANGE
    t = until.astimezone(zone)
    left = (t - at).total_seconds()
    span = hours_text(left) if left < 48 * 3600 else f"{round(left / 86400)} days"
    return f"until {t:%a %d %b %H:%M} {t.tzname()} (in {span})"


def _people(users: list[str] | None) -> str:
    if users is None:
        return "unknown"
    return ", ".join(f"<@{u}>" for u in users) or "*nobody* (a gap)"


def oncall_words(data: dict[str, Any], zone: ZoneInfo | None) -> str:
    """One line per schedule: who now, until when, who next (mrkdwn; the terminal strips it).
    Times in `zone`, or (None) each schedule's own zone."""
    at = datetime.fromisoformat(data["at"])
    lines = []
    for s in data["schedules"]:
        local = zone or ZoneInfo(s["time_zone"])
        if s["error"]:
            lines.append(f"*{s['name']}*: coverage UNKNOWN: {s['error']}")
            continue
        until = datetime.fromisoformat(s["until"]) if s["until"] else None
        line = f"*{s['name']}*: {_people(s['on_call'])} now, {until_words(until, local, at)}"
        if s["next"]["at"]:
            line += f"; next {_people(s['next']['on_call'])}"
        if s["note"]:
            line += f"\n  :warning: {s['note']}"
        lines.append(line)
    shown = at.astimezone(zone or UTC)
    head = f"On call at {shown:%a %d %b %H:%M %Z}:"
    return "\n".join([head, *lines]) if lines else "No on-call schedules are configured ([[oncall.schedules]])."


async def week_data(directory: Directory, at: datetime, schedule: str | None = None) -> dict[str, Any]:
    """The final shifts of the seven local days from `at`: {"at", "schedules": [{"name", "time_zone",
    "from", "to", "shifts": [{"start", "end", "on_call", "source"}], "overlaps": [{"winner", "winner_user",
    "loser", "loser_user", "start", "end"}] (overrides over the same hours: the newer wins), "note",
    "error"}]} (ISO8601, UTC;
    `on_call` [] is a gap, null (source "unknown") a gap of the rotations while the overrides could
    not be read (`note` says so); `shifts` null and `error` set when coverage is unknown). UnknownSchedule
    for a name that is not configured."""
    names = [directory.schedule(schedule).name] if schedule else [s.name for s in directory.settings.schedules]
    out: list[dict[str, Any]] = []
    for name in names:
        sched = directory.schedule(name)
        end = to_utc(to_local(at, sched.zone) + timedelta(days=7), sched.zone)  # seven local days, whatever DST does
        entry: dict[str, Any] = {
            "name": name,
            "time_zone": sched.time_zone,
            "from": at.isoformat(),
            "to": end.isoformat(),
        }
        try:
            shifts, reading = await directory.shifts(name, at, end)
        except CalendarUnavailable as err:
            out.append({**entry, "shifts": None, "note": "", "error": str(err)})
            continue
        unread = bool(reading.note)
        rows = [
            {
                "start": sh.start.isoformat(),
                "end": sh.end.isoformat(),
                "on_call": _seen(sh.users, unread),
                "source": "unknown" if unread and not sh.users else sh.source,
            }
            for sh in shifts
        ]
        crossed = [
            {
                "winner": x.winner.id,
                "winner_user": x.winner.user,
                "loser": x.loser.id,
                "loser_user": x.loser.user,
                "start": x.start.isoformat(),
                "end": x.end.isoformat(),
            }
            for x in overlaps(reading.overrides, at, end)
        ]
        out.append({**entry, "shifts": rows, "overlaps": crossed, "note": reading.note, "error": None})
    return {"at": at.isoformat(), "schedules": out}


def week_words(data: dict[str, Any], zone: ZoneInfo | None) -> str:
    """`week_data` one shift a line, per schedule; times in `zone`, else each schedule's own."""
    at = datetime.fromisoformat(data["at"])
    out: list[str] = []
    for s in data["schedules"]:
        local = zone or ZoneInfo(s["time_zone"])
        if s["error"]:
            out.append(f"*{s['name']}*: coverage UNKNOWN: {s['error']}")
            continue
        out.append(f"*{s['name']}* ({local.key}), the week from {at.astimezone(local):%a %d %b %H:%M %Z}:")
        for sh in s["shifts"]:
            start, end = datetime.fromisoformat(sh["start"]), datetime.fromisoformat(sh["end"])
            hours = hours_text((end - start).total_seconds())  # real hours (one zone's wall clock would hide DST)
            who = "unknown (overrides not read)" if sh["on_call"] is None else _people(sh["on_call"])
            src = f" ({sh['source']})" if sh["source"].startswith("override") else ""
            out.append(f"  {local_span(start, end, local, ' - ')} ({hours}): {who}{src}")
        for o in s.get("overlaps") or []:
            span = local_span(datetime.fromisoformat(o["start"]), datetime.fromisoformat(o["end"]), local)
            out.append(
                f"  overrides #{o['winner']} (<@{o['winner_user']}>) and #{o['loser']} (<@{o['loser_user']}>) both cover "
                f"{span}: #{o['winner']} wins (the newer one)"
            )
        if s["note"]:
            out.append(f"  :warning: {s['note']}")
    return "\n".join(out) or "No on-call schedules are configured ([[oncall.schedules]])."
