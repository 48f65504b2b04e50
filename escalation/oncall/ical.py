"""iCalendar in and out, through the maintained libraries (icalendar, recurring-ical-events,
x-wr-timezone): none of RFC 5545 is written here.

Out: `feed` makes a VCALENDAR of a schedule's final shifts, one VEVENT per shift (UTC times, a
stable UID per schedule and start, the people's Slack ids in `X-ALP-USERS`), for calendar clients.
In: `calendar_events` expands a calendar over a window as a calendar client shows it (RRULE,
EXDATE, RECURRENCE-ID moved occurrences, per-event TZID, Google's X-WR-TIMEZONE floating times;
floating times without it are in the schedule's zone), giving each occurrence's span and the words
that name its person (`who`: Slack ids, e-mail addresses, handles), matched to people in `people`.
A cancelled event or occurrence (STATUS:CANCELLED) is no shift; an event that ends before it starts
is a CalendarError naming it (the library would swap its ends silently).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events
import x_wr_timezone

from escalation.oncall.config import USER_ID
from escalation.oncall.rotation import Shift

PRODID = "-//alp//on-call schedules//EN"
SLACK_ID = re.compile(rf"\b{USER_ID}\b")  # the one rule (escalation.oncall.config)
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
HANDLE = re.compile(r"@([a-z0-9][a-z0-9._-]*)", re.IGNORECASE)


class CalendarError(ValueError):
    """A calendar that cannot be read (not iCalendar, no events component...): `str()` says why."""


def feed(name: str, zone: str, shifts: list[Shift], stamp: datetime) -> bytes:
    """The VCALENDAR of `shifts` (gaps left out). `stamp` is the DTSTAMP of every event."""
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"On call: {name}")
    cal.add("x-wr-timezone", zone)
    for sh in shifts:
        if not sh.users:
            continue
        ev = icalendar.Event()
        ev.add("uid", f"{name}-{sh.start.astimezone(UTC):%Y%m%dT%H%M%SZ}@alp")
        ev.add("dtstamp", stamp)
        ev.add("dtstart", sh.start.astimezone(UTC))
        ev.add("dtend", sh.end.astimezone(UTC))
        ev.add("summary", f"On call ({name}): " + ", ".join(sh.users))
        ev.add("description", f"{sh.source}; Slack: " + " ".join(f"<@{u}>" for u in sh.users))
        ev.add("x-alp-users", ",".join(sh.users))
        cal.add_component(ev)
    return bytes(cal.to_ical())


@dataclass(frozen=True)
class Occurrence:
    """One event occurrence over [start, end) (UTC); `who`: the words naming its people."""

    start: datetime
    end: datetime
    who: tuple[str, ...]
    summary: str


def _aware(value: date | datetime, zone: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        return (value if value.tzinfo is not None else value.replace(tzinfo=zone)).astimezone(UTC)
    return datetime.combine(value, time(), zone).astimezone(UTC)  # all-day: local midnight


def _who(ev: icalendar.Event) -> tuple[str, ...]:
    """Slack ids, e-mails and handles named by the event: X-ALP-USERS, attendees, summary, description."""
    if ev.get("x-alp-users"):
        return tuple(u for u in str(ev.get("x-alp-users")).split(",") if u)
    words: list[str] = []
    attendees = ev.get("attendee")
    for a in attendees if isinstance(attendees, list) else [attendees] if attendees else []:
        words.append(str(a).removeprefix("mailto:").removeprefix("MAILTO:"))
    text = f"{ev.get('summary', '')} {ev.get('description', '')}"
    words += SLACK_ID.findall(text) + EMAIL.findall(text)
    if not words:
        words += ["@" + h for h in HANDLE.findall(text)]
    if not words and str(ev.get("summary", "")).strip():
        words.append(str(ev.get("summary")).strip())  # "Alice Example": a name, matched as a handle
    return tuple(dict.fromkeys(words))


def _reversed(cal: icalendar.Calendar, zone: ZoneInfo, start: datetime, end: datetime, uids: set[str]) -> list[str]:
    """The events whose end (DTEND, or DTSTART + DURATION) is before their start, that touch
    [start, end) (a series: one with an occurrence there), in words. RFC 5545 requires the end to be
    later; recurring-ical-events would swap the two silently, and which one is wrong is not known."""
    out: list[str] = []
    for ev in cal.walk("VEVENT"):
        if ev.get("dtstart") is None or str(ev.get("status", "")).upper() == "CANCELLED":
            continue
        s = _aware(ev.decoded("dtstart"), zone)
        if ev.get("dtend") is not None:
            e = _aware(ev.decoded("dtend"), zone)
        elif ev.get("duration") is not None:
            e = s + ev.decoded("duration")
        else:
            continue
        touches = str(ev.get("uid")) in uids if ev.get("rrule") else e < end and s > start
        if e < s and touches:
            out.append(
                f"`{str(ev.get('uid', '?'))[:80]}` ({str(ev.get('summary', '')).strip()[:80]}) ends before it starts: "
                f"DTSTART {s:%Y-%m-%d %H:%M} UTC, its end {e:%Y-%m-%d %H:%M} UTC"
            )
    return out


def calendar_events(data: bytes, zone: str, start: datetime, end: datetime) -> list[Occurrence]:
    """Occurrences overlapping [start, end), sorted. CalendarError for a calendar that cannot be read."""
    try:
        cal = icalendar.Calendar.from_ical(data)
    except Exception as err:
        raise CalendarError(f"not an iCalendar file: {type(err).__name__}: {err}") from None
    if not isinstance(cal, icalendar.Calendar) or cal.name != "VCALENDAR":
        raise CalendarError("not an iCalendar file: no VCALENDAR")
    tz = ZoneInfo(zone)
    own = cal.get("x-wr-timezone")
    try:
        cal = x_wr_timezone.to_standard(cal) if own else x_wr_timezone.to_standard(cal, timezone=tz)
        found = recurring_ical_events.of(cal).between(start, end)
    except Exception as err:
        raise CalendarError(f"the calendar's events cannot be expanded: {type(err).__name__}: {err}") from None
    problems = _reversed(cal, tz, start, end, {str(ev.get("uid")) for ev in found})
    if problems:
        more = f" and {len(problems) - 3} more" if len(problems) > 3 else ""
        raise CalendarError(
            "an event that ends before it starts, so when it covers is not known (fix it in the calendar): "
            + "; ".join(problems[:3])
            + more
        )
    out: list[Occurrence] = []
    for ev in found:
        if str(ev.get("status", "")).upper() == "CANCELLED":  # a cancelled event or occurrence: no shift
            continue
        s = _aware(ev.decoded("dtstart"), tz)
        e = _aware(ev.decoded("dtend"), tz) if ev.get("dtend") else s + ev.decoded("duration", timedelta(0))
        if e > s:
            out.append(Occurrence(s, e, _who(ev), str(ev.get("summary", ""))))
    return sorted(out, key=lambda o: (o.start, o.end))


def occurrence_shifts(
    occurrences: list[Occurrence], people: dict[str, str], start: datetime, end: datetime
) -> list[Shift]:
    """The calendar as one layer of shifts over [start, end): at each moment, everyone whose event
    covers it (matched to Slack ids through `people`, word -> id); words no one matches are dropped
    (the caller reports them). Spans no event covers are left out (the layer has no shift there)."""
    occurrences = [o for o in occurrences if o.start < end and o.end > start]  # those of the window
    cuts = sorted({start, end} | {t for o in occurrences for t in (o.start, o.end) if start < t < end})
    shifts: list[Shift] = []
    for s, e in itertools.pairwise(cuts):
        users: list[str] = []
        for o in occurrences:
            if o.start <= s and o.end >= e:
                users += [people[w] for w in o.who if w in people]
        if users:
            users = list(dict.fromkeys(users))
            if shifts and shifts[-1].users == tuple(users) and shifts[-1].end == s:
                shifts[-1] = Shift(shifts[-1].start, e, shifts[-1].users, "calendar")
            else:
                shifts.append(Shift(s, e, tuple(users), "calendar"))
    return shifts
