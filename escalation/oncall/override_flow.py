"""Overrides as a judged change: previewed, authorized when applied, stored as absolute UTC
intervals, audited (shown in `alp changes`), undoable. Slack-free: the bot and the terminal
render the preview and ask; this module decides.

The preview says who gains and who loses which hours (from the final shifts without and with the
override), and every DST switch inside the span in the schedule's and each person's zone. Who
may apply an override: the person who covers, anyone who loses hours to it, or a schedule admin.
An undo that would newly leave nobody on call for part of the span is refused with the gap; one that
reopens a gap of the rotation itself (the override had filled it) is done and says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from commands.durations import hours_text
from escalation.oncall.config import SLACK_USER_ID
from escalation.oncall.directory import CalendarUnavailable, Directory
from escalation.oncall.overrides import OverrideStore
from escalation.oncall.rotation import Shift
from escalation.oncall.shifts import Override, final_shifts, layer_shifts
from escalation.oncall.spans import local_span
from escalation.state.audit import AuditLog
from escalation.state.db import now

ACTION = "oncall-override"
MAX_SPAN = timedelta(days=90)
SAID_PAST = timedelta(minutes=1)  # a start this far back is said in the preview (less: the time it took to ask)


@dataclass(frozen=True)
class OverrideAsk:
    """`user` to cover `schedule` over [start, end) (UTC), asked by `requester`."""

    schedule: str
    user: str
    start: datetime
    end: datetime
    requester: str
    reason: str = ""

    def __post_init__(self) -> None:  # absolute UTC instants, whatever offset they were typed with
        object.__setattr__(self, "start", self.start.astimezone(UTC))
        object.__setattr__(self, "end", self.end.astimezone(UTC))

    def as_dict(self) -> dict[str, str]:
        return {
            "schedule": self.schedule,
            "user": self.user,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "requester": self.requester,
            "reason": self.reason,
        }

    @staticmethod
    def from_dict(d: dict[str, str]) -> OverrideAsk:
        return OverrideAsk(
            d["schedule"],
            d["user"],
            datetime.fromisoformat(d["start"]),
            datetime.fromisoformat(d["end"]),
            d["requester"],
            d.get("reason", ""),
        )


@dataclass
class Preview:
    """What an override changes: `losers` user -> [(start, end)], the gainer's hours, DST notes."""

    ask: OverrideAsk
    time_zone: str
    losers: dict[str, list[tuple[datetime, datetime]]] = field(default_factory=dict)
    gap_hours: float = 0.0  # hours of the span nobody covered before (the override fills them)
    refusal: str | None = None
    unseen: bool = False  # refused because who is on call then could not be seen (a calendar)
    asked_start: datetime | None = None  # the start asked when it was in the past (`ask` starts now)
    overlapped: list[Override] = field(default_factory=list)  # stored overrides over some of the same hours

    @property
    def hours(self) -> float:
        return self.seconds / 3600

    @property
    def seconds(self) -> float:
        """The span's real length (UTC), DST switches included."""
        return (self.ask.end - self.ask.start).total_seconds()

    @property
    def involved(self) -> set[str]:
        return {self.ask.user, *self.losers}


@dataclass(frozen=True)
class Undone:
    """An undo's answer: `done`, or refused (`unseen`: because coverage could not be seen), in `text`."""

    done: bool
    text: str
    unseen: bool = False


def dst_switches(zone: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, timedelta]]:
    """Each change of `zone`'s UTC offset inside [start, end): (the instant, the change). Found by
    sampling every hour (no zone changes its offset twice in an hour), then the instant itself by
    halving the hour down to the second (offsets change on a whole second), whatever minute
    `start` is at."""
    out: list[tuple[datetime, timedelta]] = []
    step = timedelta(hours=1)
    t = start
    before = _offset(zone, start)
    while t < end:
        nxt = min(t + step, end)
        off = _offset(zone, nxt)
        if off != before:
            lo, hi = t, nxt  # the offset at lo is `before`, at hi `off`
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                lo, hi = (mid, hi) if _offset(zone, mid) == before else (lo, mid)
            switch = hi.replace(microsecond=0)
            if _offset(zone, switch) != off:
                switch += timedelta(seconds=1)
            if start < switch < end:
                out.append((switch, off - before))
            before = off
        t = nxt
    return out


def _offset(zone: ZoneInfo, at: datetime) -> timedelta:
    return at.astimezone(zone).utcoffset() or timedelta(0)


def switch_words(zone: ZoneInfo, at: datetime, change: timedelta) -> str:
    """A DST switch as a wall clock says it: `springs forward 1 h at Sun 28 Mar 02:00 CET (to 03:00
    CEST)`, `falls back 1 h at Sun 31 Oct 03:00 CEST (to 02:00 CET)`: the clock before, then after."""
    after = at.astimezone(zone)
    before = (at - timedelta(seconds=1)).astimezone(zone)
    wall = (at + (before.utcoffset() or timedelta(0))).replace(tzinfo=None)  # the old clock at the instant
    how = "springs forward" if change > timedelta(0) else "falls back"
    return (
        f"{how} {hours_text(abs(change.total_seconds()))} at {wall:%a %d %b %H:%M} {before.tzname()} "
        f"(to {after:%H:%M %Z})"
    )


def span_ended(end: datetime) -> str:
    """The refusal of a span that is over (the one wording, terminal and Slack)."""
    return f"that span ended already ({end.astimezone(UTC):%Y-%m-%d %H:%M} UTC): an override is for now or later"


async def preview(directory: Directory, ask: OverrideAsk) -> Preview:
    """The override's effect on the final shifts (with the overrides already stored). A start in
    the past is clipped to now (`asked_start` keeps it): hours that happened are not rewritten
    (README, "an override that is over stays as it happened"); a span that is over is refused."""
    schedule = directory.schedule(ask.schedule)
    p = Preview(ask, schedule.time_zone)
    if ask.end <= ask.start:
        p.refusal = f"the span is empty or backwards ({ask.start.isoformat()} .. {ask.end.isoformat()})"
        return p
    at = now()
    if ask.end <= at:
        p.refusal = span_ended(ask.end)
        return p
    if ask.start < at:
        p.asked_start = ask.start if at - ask.start >= SAID_PAST else None
        ask = p.ask = replace(ask, start=at)
    if ask.end - ask.start > MAX_SPAN:
        p.refusal = f"an override covers at most {MAX_SPAN.days} days; change the rotation for longer"
        return p
    try:
        before, reading = await directory.shifts(ask.schedule, ask.start, ask.end)
    except CalendarUnavailable as err:
        p.refusal = f"who is on call then is unknown, so the change cannot be shown: {err}"
        p.unseen = True
        return p
    p.overlapped = sorted(
        (o for o in reading.overrides if o.schedule == ask.schedule and o.start < ask.end and o.end > ask.start),
        key=lambda o: o.start,
    )  # a new override is the newest: it wins wherever it overlaps one (`shifts.final_shifts`)
    for sh in before:
        if not sh.users:
            p.gap_hours += sh.hours
        for u in sh.users:
            if u != ask.user:
                p.losers.setdefault(u, []).append((sh.start, sh.end))
    return p


def utc_span(start: datetime, end: datetime) -> str:
    """`2027-03-13 14:00-2027-03-15 13:00 UTC`: the instants in UTC, labelled so."""
    a, b = start.astimezone(UTC), end.astimezone(UTC)
    return f"{a:%Y-%m-%d %H:%M}-{b:%Y-%m-%d %H:%M} UTC"


def person_refusal(user: str) -> str | None:
    """None if `user` is a Slack user id (the one rule, escalation.oncall.config), else why not:
    an override for nobody would be a hole in which nobody is paged."""
    if SLACK_USER_ID.fullmatch(user):
        return None
    shown = f"`{user.strip()[:40]}`" if user.strip() else "nobody"
    return f"an override needs the Slack user who covers (a user id like U012AB3CD), not {shown}"


def authorization(p: Preview, clicker: str, admins: Sequence[str]) -> str | None:
    """None if `clicker` may apply `p`, else why not."""
    if clicker in p.involved or clicker in admins:
        return None
    who = ", ".join(f"<@{u}>" for u in sorted(p.involved))
    return f"only the people involved ({who}) or an admin of schedule `{p.ask.schedule}` may apply this override"


def _span(zone: ZoneInfo, s: datetime, e: datetime) -> str:
    return local_span(s, e, zone)


def preview_text(p: Preview, zones: dict[str, ZoneInfo]) -> str:
    """The preview in words, each person's hours in their own zone (else the schedule's)."""
    if p.refusal:
        return f":no_entry: {p.refusal}"
    sched_zone = ZoneInfo(p.time_zone)
    ask = p.ask
    gain = zones.get(ask.user, sched_zone)
    lines = [
        f"*Override on `{ask.schedule}`*: <@{ask.user}> covers {_span(gain, ask.start, ask.end)} ({hours_text(p.seconds)})",
    ]
    if p.asked_start is not None:
        lines.append(
            f"It starts from now ({ask.start.astimezone(gain):%H:%M}), not the past "
            f"{p.asked_start.astimezone(gain):%H:%M}: hours that happened stay as they were."
        )
    for user, spans in sorted(p.losers.items()):
        zone = zones.get(user, sched_zone)
        given = hours_text(sum((e - s).total_seconds() for s, e in spans))
        lines.append(f"<@{user}> gives up {given}: " + "; ".join(_span(zone, s, e) for s, e in spans))
    if p.gap_hours:
        lines.append(f"It fills {hours_text(p.gap_hours * 3600)} nobody covered.")
    for o in p.overlapped:
        zone = zones.get(o.user, sched_zone)
        lines.append(
            f"It overlaps override #{o.id} (<@{o.user}> {_span(zone, max(o.start, ask.start), min(o.end, ask.end))}): "
            f"this one wins those hours (the newer one wins; undo it and #{o.id} covers them again)"
        )
    seen: set[str] = set()
    for name, zone in [(p.time_zone, sched_zone), *[(str(z), z) for z in zones.values()]]:
        if name in seen:
            continue
        seen.add(name)
        for at, change in dst_switches(zone, ask.start, ask.end):
            lines.append(
                f":clock3: {name} {switch_words(zone, at, change)} inside this span ({hours_text(p.seconds)} of real time)"
            )
    return "\n".join(lines)


def _via(admin: bool) -> str:
    """Where a change was made, for the audit (`alp changes` says who and where)."""
    return "terminal" if admin else "slack"


async def apply(
    directory: Directory, store: OverrideStore, audit: AuditLog, ask: OverrideAsk, clicker: str, admin: bool = False
) -> Override | str:
    """Authorize `clicker` now (`admin`: the terminal, trusted with the state store), store and audit
    the override: the override, or the refusal in words."""
    p = await preview(directory, ask)
    ask = p.ask  # a start in the past clipped to now
    schedule = directory.schedule(ask.schedule)
    refusal = person_refusal(ask.user) or p.refusal or (None if admin else authorization(p, clicker, schedule.admins))
    params = {**ask.as_dict(), "by": clicker, "via": _via(admin)}
    if refusal:
        await audit.record(clicker, "refused", ACTION, params, refusal)
        return refusal
    o = await store.add(
        ask.schedule, ask.user, ask.start, ask.end, clicker, ",".join(sorted(p.losers)) or None, ask.reason
    )
    losers = ", ".join(sorted(p.losers)) or ("nobody (a gap)" if p.gap_hours else "nobody (their own hours)")
    await audit.record(
        clicker,
        "outcome",
        ACTION,
        {**params, "override": o.id},
        f"done: {ask.user} covers {ask.schedule} {utc_span(ask.start, ask.end)} "
        f"for {losers} (override #{o.id}; undo: oncall undo {o.id})",
    )
    return o


async def undo(
    directory: Directory, store: OverrideStore, audit: AuditLog, override_id: int, clicker: str, admin: bool = False
) -> Undone:
    """Undo override `override_id`: the people involved or an admin; refused for an override that is
    over, and if it would leave the hours still to come uncovered (the gap named). One that has
    started ends now: its past part stays as it happened, as its own override named in the reply,
    when it ran at least `KEPT_AT_LEAST` (`OverrideStore.cancel`); seconds of it are dropped."""
    found = await store.get(override_id)
    if found is None:
        return Undone(False, f"no override #{override_id}")
    o, cancelled_by = found
    if cancelled_by is not None:
        by = f"<@{cancelled_by}>" if cancelled_by[:1] in ("U", "W") and " " not in cancelled_by else cancelled_by
        return Undone(False, f"override #{override_id} was already undone by {by}")
    schedule = directory.schedule(o.schedule)
    involved = {o.user, o.created_by, *(o.replaces or "").split(",")} - {""}
    params = {"override": override_id, "schedule": o.schedule, "user": o.user, "by": clicker, "via": _via(admin)}
    if not admin and clicker not in involved and clicker not in schedule.admins:
        why = f"only the people involved ({', '.join(f'<@{u}>' for u in sorted(involved))}) or an admin may undo it"
        await audit.record(clicker, "refused", ACTION + "-undo", params, why)
        return Undone(False, why)
    start = max(o.start, now())
    if start >= o.end:  # what is over stays as it happened (the record and the audit agree)
        return Undone(
            False,
            f"override #{override_id} is over (it ended {o.end.astimezone(UTC):%Y-%m-%d %H:%M} UTC): history is not undone",
        )
    reading = await directory.read(start, o.end, o.schedule)
    try:
        opened, reopened = await asyncio.to_thread(_opened, directory, o, list(reading.overrides), start)
    except CalendarUnavailable as err:
        return Undone(
            False, f"undoing #{override_id} is refused while its schedule's coverage is unknown: {err}", unseen=True
        )
    if opened:
        g = opened[0]
        why = f"undoing #{override_id} would leave nobody on call {utc_span(g.start, g.end)}"
        await audit.record(clicker, "refused", ACTION + "-undo", params, why)
        return Undone(False, why)
    cancelled = await store.cancel(override_id, clicker)
    if cancelled is None:
        return Undone(False, f"override #{override_id} was undone meanwhile")
    kept = cancelled[1]
    if kept is not None:  # it has run a while: the past part stays as it happened (the store keeps it)
        said = (
            f"override #{override_id} undone from now: <@{o.user}> covered `{o.schedule}` {utc_span(o.start, start)} "
            f"(kept as it happened, as override #{kept}) and no longer covers the rest, "
            f"to {o.end.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        )
    else:
        said = f"override #{override_id} undone: <@{o.user}> no longer covers `{o.schedule}` then"
    if reopened:  # the schedule's own gap, which the override had filled
        spans = ", ".join(utc_span(g.start, g.end) for g in reopened)
        said += f"; nobody is on call {spans} again (a gap of the schedule itself, as before the override)"
    await audit.record(clicker, "outcome", ACTION + "-undo", params, f"done: {said}")
    return Undone(True, said)


def _opened(
    directory: Directory, o: Override, overrides: list[Override], start: datetime
) -> tuple[list[Shift], list[Shift]]:
    """What undoing `o` does to [start, o.end): (the gaps it would newly open, the schedule's own gaps
    it would reopen). Both are spans covered with `o` and by nobody without it; a span the rotation
    (or calendar) itself leaves empty was a gap before `o` filled it and is one again after the undo:
    not the undo's doing (README), said in its reply. Gaps there with and without `o` count for neither."""
    schedule = directory.schedule(o.schedule)
    if schedule.layers:
        layers = layer_shifts(schedule, start, o.end)
    elif directory.calendars is not None:
        layers = [list(directory.calendars(schedule, start, o.end))]
    else:
        layers = []
    with_o = final_shifts(layers, overrides, start, o.end)
    without = final_shifts(layers, [x for x in overrides if x.id != o.id], start, o.end)
    own_gaps = [(s.start, s.end) for s in final_shifts(layers, [], start, o.end) if not s.users]
    uncovered = _meet([(s.start, s.end) for s in without if not s.users], [(s.start, s.end) for s in with_o if s.users])
    reopened = _meet(uncovered, own_gaps)
    opened = [span for a, b in uncovered for span in _minus((a, b), reopened)]
    return [Shift(a, b, (), "gap") for a, b in opened], [Shift(a, b, (), "gap") for a, b in reopened]


Span = tuple[datetime, datetime]


def _meet(xs: list[Span], ys: list[Span]) -> list[Span]:
    """The spans where one of `xs` and one of `ys` overlap, in order."""
    return sorted((max(a, c), min(b, d)) for a, b in xs for c, d in ys if max(a, c) < min(b, d))


def _minus(span: Span, holes: list[Span]) -> list[Span]:
    """`span` without the (sorted) `holes`."""
    out, at = [], span[0]
    for a, b in holes:
        if a > at and at < span[1]:
            out.append((at, min(a, span[1])))
        at = max(at, b)
    if at < span[1]:
        out.append((at, span[1]))
    return out
