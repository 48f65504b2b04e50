"""One layer of a schedule as shifts: turns at local wall-clock handoffs, cut to its restrictions.

Turns are counted in the schedule's local wall-clock time (a `1d` turn handing off at 09:00 hands
off at 09:00 local on both sides of a DST switch, so that shift is 23 or 25 hours long) and only
then turned into UTC with zoneinfo, so consecutive shifts share their boundary: no hour is left
uncovered or covered twice. A handoff at a local time a spring-forward skips (02:30) is read
with the offset before the switch (PEP 495, fold=0), so it happens at 03:30 new time; an ambiguous
fall-back time is its first occurrence. Times in and out are aware UTC datetimes; windows are half-open [start, end).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from escalation.oncall.config import DAYS, Layer


@dataclass(frozen=True)
class Shift:
    """Who is on call over [start, end) (UTC). `users` empty: nobody (a gap). `source` names the
    layer, override or calendar event it comes from."""

    start: datetime
    end: datetime
    users: tuple[str, ...]
    source: str = ""

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


def to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """A naive local wall-clock time in `zone` as UTC (fold=0 for skipped and repeated times)."""
    return local.replace(tzinfo=zone).astimezone(UTC)


def to_local(at: datetime, zone: ZoneInfo) -> datetime:
    """An aware time as naive local wall-clock time in `zone`."""
    return at.astimezone(zone).replace(tzinfo=None)


def rotation_shifts(layer: Layer, zone: ZoneInfo, start: datetime, end: datetime, label: str) -> list[Shift]:
    """The layer's turns that overlap [start, end), clipped to it, restrictions applied."""
    turns = list(_turns(layer, zone, start, end, label))
    if layer.days is None and layer.hours is None:
        return turns
    return _intersect(turns, list(_windows(layer, zone, start, end)))


def _turns(layer: Layer, zone: ZoneInfo, start: datetime, end: datetime, label: str) -> Iterator[Shift]:
    anchor = datetime.combine(layer.start, layer.handoff_time)
    turn = layer.turn_length
    first = max(0, (to_local(start, zone) - anchor) // turn - 1)  # one turn early: a DST hour cannot hide one
    k = first
    while True:
        s = to_utc(anchor + k * turn, zone)
        e = to_utc(anchor + (k + 1) * turn, zone)
        if s >= end:
            return
        if e > start and e > s:
            yield Shift(max(s, start), min(e, end), (layer.users[k % len(layer.users)],), label)
        k += 1


def _windows(layer: Layer, zone: ZoneInfo, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The restriction's windows (UTC) around [start, end): each allowed local day, within `hours`."""
    days = set(layer.days or DAYS)
    win = layer.window
    day = to_local(start, zone).date() - timedelta(days=1)
    last = to_local(end, zone).date() + timedelta(days=1)
    while day <= last:
        if DAYS[day.weekday()] in days:
            yield _window(day, win, zone)
        day += timedelta(days=1)


def _window(day: date, win: tuple[time, time] | None, zone: ZoneInfo) -> tuple[datetime, datetime]:
    if win is None:
        return to_utc(datetime.combine(day, time()), zone), to_utc(
            datetime.combine(day + timedelta(days=1), time()), zone
        )
    ws, we = win
    end_day = day if we > ws else day + timedelta(days=1)
    return to_utc(datetime.combine(day, ws), zone), to_utc(datetime.combine(end_day, we), zone)


def _intersect(shifts: list[Shift], windows: list[tuple[datetime, datetime]]) -> list[Shift]:
    out: list[Shift] = []
    i = j = 0
    while i < len(shifts) and j < len(windows):
        sh, (ws, we) = shifts[i], windows[j]
        s, e = max(sh.start, ws), min(sh.end, we)
        if s < e:
            out.append(Shift(s, e, sh.users, sh.source))
        if sh.end <= we:
            i += 1
        else:
            j += 1
    return out
