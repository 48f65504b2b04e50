"""The final shifts of a schedule: its layers, a later one covering an earlier one wherever it has a
shift, then the overrides on top (a newer override over an older one). Pure and Slack-free: UTC in,
UTC out, nothing read from anywhere, so the ladder, `alp oncall`, the feed and the checks agree.

The result over [start, end) is a list of consecutive shifts that tile the window exactly
(each starts where the one before ends); a span nobody covers is a shift with no users (a gap).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from escalation.oncall.config import Schedule
from escalation.oncall.rotation import Shift, rotation_shifts


@dataclass(frozen=True)
class Override:
    """`user` covers `schedule` over [start, end) (UTC), whoever the layers say. `id` orders them:
    a newer override wins where two overlap. `replaces` is who it was meant to relieve (informational)."""

    id: int
    schedule: str
    user: str
    start: datetime
    end: datetime
    created_by: str = ""
    replaces: str | None = None


@dataclass(frozen=True)
class Overlap:
    """Two overrides over the same hours [start, end) (UTC): `winner`, the newer, covers them."""

    winner: Override
    loser: Override
    start: datetime
    end: datetime


def overlaps(overrides: Sequence[Override], start: datetime, end: datetime) -> list[Overlap]:
    """Each pair of `overrides` covering the same hours within [start, end), by time: the newer
    (higher id) wins there, as `final_shifts` decides."""
    live = sorted((o for o in overrides if o.start < end and o.end > start and o.end > o.start), key=lambda o: o.id)
    out: list[Overlap] = []
    for older, newer in itertools.combinations(live, 2):
        lo, hi = max(older.start, newer.start, start), min(older.end, newer.end, end)
        if lo < hi and older.schedule == newer.schedule:
            out.append(Overlap(newer, older, lo, hi))
    return sorted(out, key=lambda x: (x.start, x.winner.id))


def layer_shifts(schedule: Schedule, start: datetime, end: datetime) -> list[list[Shift]]:
    """Each configured layer's shifts over [start, end), bottom layer first."""
    zone = schedule.zone
    return [
        rotation_shifts(layer, zone, start, end, layer.name or f"layer {i}")
        for i, layer in enumerate(schedule.layers, start=1)
    ]


def final_shifts(
    layers: Sequence[Sequence[Shift]], overrides: Sequence[Override], start: datetime, end: datetime
) -> list[Shift]:
    """Combine `layers` (each sorted, non-overlapping, bottom first) and `overrides` over [start, end).

    Sweeps the boundaries once: O((shifts + overrides) x layers). Adjacent pieces with the same
    people are merged, so a shift's end is the moment the people on call change."""
    if end <= start:
        return []
    cuts = {start, end}
    for shifts in layers:
        cuts.update(t for sh in shifts for t in (sh.start, sh.end) if start < t < end)
    live = [o for o in overrides if o.start < end and o.end > start and o.end > o.start]
    cuts.update(t for o in live for t in (o.start, o.end) if start < t < end)
    points = sorted(cuts)
    pos = [0] * len(layers)
    pieces: list[Shift] = []
    for s, e in itertools.pairwise(points):
        pieces.append(_piece(layers, pos, live, s, e))
    return _merge(pieces)


def _piece(
    layers: Sequence[Sequence[Shift]], pos: list[int], overrides: Sequence[Override], s: datetime, e: datetime
) -> Shift:
    over = [o for o in overrides if o.start <= s and o.end >= e]
    if over:
        top = max(over, key=lambda o: o.id)  # a row without a person (stored before apply refused it) is a gap
        return Shift(s, e, (top.user,) if top.user.strip() else (), f"override {top.id}")
    for i in range(len(layers) - 1, -1, -1):
        shifts = layers[i]
        while pos[i] < len(shifts) and shifts[pos[i]].end <= s:
            pos[i] += 1
        if pos[i] < len(shifts) and shifts[pos[i]].start <= s:
            sh = shifts[pos[i]]
            return Shift(s, e, sh.users, sh.source)
    return Shift(s, e, (), "gap")


def _merge(pieces: list[Shift]) -> list[Shift]:
    out: list[Shift] = []
    for p in pieces:
        if out and out[-1].users == p.users and out[-1].end == p.start:
            out[-1] = Shift(out[-1].start, p.end, p.users, out[-1].source)
        else:
            out.append(p)
    return out


def horizon(schedule: Schedule) -> timedelta:
    """How far ahead to look for the next change: two of the longest turns, at least 15 days."""
    longest = max((layer.turn_length for layer in schedule.layers), default=timedelta(days=7))
    return max(timedelta(days=15), 2 * longest + timedelta(days=1))


def schedule_shifts(
    schedule: Schedule,
    start: datetime,
    end: datetime,
    overrides: Sequence[Override] = (),
    imported: Sequence[Shift] | None = None,
) -> list[Shift]:
    """The final shifts of `schedule` over [start, end): its layers, or the `imported` calendar's
    shifts (an iCal schedule), with `overrides` on top."""
    layers: list[Sequence[Shift]] = [imported] if imported is not None else list(layer_shifts(schedule, start, end))
    return final_shifts(layers, [o for o in overrides if o.schedule == schedule.name], start, end)


@dataclass(frozen=True)
class OnCallNow:
    """Who is on call at `at`, until when, and who comes next (the `oncall` contract's fields).
    `until`/`next_at` None: no change within the horizon looked at."""

    schedule: str
    at: datetime
    on_call: tuple[str, ...]
    until: datetime | None
    next_on_call: tuple[str, ...]
    next_at: datetime | None
    source: str


def on_call_at(
    schedule: Schedule, at: datetime, overrides: Sequence[Override] = (), imported: Sequence[Shift] | None = None
) -> OnCallNow:
    """Now, until when, and next, for `schedule` at `at` (aware)."""
    end = at + horizon(schedule)
    shifts = schedule_shifts(schedule, at, end, overrides, imported)
    first = shifts[0]
    nxt = shifts[1] if len(shifts) > 1 else None
    return OnCallNow(
        schedule.name,
        at,
        first.users,
        first.end if nxt is not None else None,
        nxt.users if nxt is not None else (),
        nxt.start if nxt is not None else None,
        first.source,
    )
