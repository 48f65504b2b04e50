"""Slack user groups kept equal to who is on call, once per change across replicas.

Each sync is claimed first: one row in `alp_oncall_handoffs` keyed by the schedule, the instant the
people on call took over (the current shift's start) and a hash of who they are and of the sync row
it follows, inserted by whoever comes first; a second replica, a restart or a late wake-up either
loses that insert or finds the newest row already saying the same people since the same instant,
and does nothing. So a handoff missed while the bot was down is done once when it is back, and an
override (a new shift start) or its undo (back to people synced before) syncs again. A group edited by hand since alp last set it
is put back and the drift is said; a workspace that refuses the write is a finding naming why.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import sqlalchemy as sa

from escalation.oncall.config import Schedule
from escalation.oncall.directory import Directory
from escalation.state.db import Database, aware, now
from escalation.state.schema import oncall_handoffs as t

LOOK_BACK = timedelta(days=60)


class GroupRefused(Exception):
    """The workspace refused a user-group call: `error` is Slack's code, `str()` what to do about it."""

    def __init__(self, error: str, advice: str) -> None:
        super().__init__(advice)
        self.error = error


class Groups(Protocol):
    """Slack user groups (the bot's implementation: `bot.oncall_groups.SlackGroups`)."""

    async def members(self, group: str) -> list[str]: ...

    async def set(self, group: str, users: list[str]) -> None: ...


@dataclass(frozen=True)
class SyncResult:
    """What one sync did: `status` is set, same, skipped (claimed elsewhere), gap, refused, failed."""

    schedule: str
    group: str
    status: str
    text: str
    users: tuple[str, ...] = ()


def sync_key(users: tuple[str, ...], follows: str) -> str:
    """The claim's kind: the people, and the sync row this one follows (its schedule-wide identity)."""
    return "sync:" + hashlib.sha256(f"{','.join(users)}|{follows}".encode()).hexdigest()[:8]


async def current_shift(directory: Directory, schedule: Schedule, at: datetime) -> tuple[datetime, tuple[str, ...]]:
    """(since when, who) is on call at `at`; a shift older than LOOK_BACK is dated from that day's midnight UTC."""
    shifts, _ = await directory.shifts(schedule.name, at - LOOK_BACK, at + timedelta(seconds=1))
    last = shifts[-1]
    since = last.start.astimezone(UTC)
    if since <= at - LOOK_BACK:
        since = since.replace(hour=0, minute=0, second=0, microsecond=0)
    return since, last.users


class GroupSync:
    """Syncs of every schedule that names a `group`, claimed in the state store `db`."""

    def __init__(self, db: Database, directory: Directory, groups: Groups, holder: str, timeout_s: float = 5.0) -> None:
        self.db, self.directory, self.groups, self.holder, self.timeout_s = db, directory, groups, holder, timeout_s

    async def claim(self, schedule: str, since: datetime, kind: str, users: tuple[str, ...]) -> bool:
        """Insert the claim row of one side effect; False if someone (or this process) did already."""

        async def insert() -> bool:
            try:
                async with self.db.engine.begin() as conn:
                    await conn.execute(
                        t.insert().values(
                            schedule=schedule,
                            at=since,
                            kind=kind,
                            users=list(users),
                            claimed_by=self.holder,
                            claimed_at=now(),
                        )
                    )
                return True
            except sa.exc.IntegrityError:
                return False

        return await asyncio.wait_for(insert(), self.timeout_s)

    async def done(self, schedule: str, since: datetime, kind: str, result: str) -> None:
        async def update() -> None:
            async with self.db.engine.begin() as conn:
                await conn.execute(
                    t.update()
                    .where(t.c.schedule == schedule, t.c.at == since, t.c.kind == kind)
                    .values(done_at=now(), result=result[:2000])
                )

        await asyncio.wait_for(update(), self.timeout_s)

    async def _latest(self, schedule: str) -> tuple[datetime, str, tuple[str, ...]] | None:
        """The newest sync row of `schedule`: (shift start, kind, people)."""

        async def select() -> tuple[datetime, str, tuple[str, ...]] | None:
            async with self.db.engine.connect() as conn:
                row = (
                    await conn.execute(
                        sa.select(t.c.at, t.c.kind, t.c.users)
                        .where(t.c.schedule == schedule, t.c.kind.like("sync:%"))
                        .order_by(t.c.claimed_at.desc())
                        .limit(1)
                    )
                ).first()
            return None if row is None else (aware(row.at) or now(), row.kind, tuple(row.users))

        return await asyncio.wait_for(select(), self.timeout_s)

    async def last_set(self, schedule: str, before: datetime) -> tuple[str, ...] | None:
        """Who alp last set the group of `schedule` to (a sync done before `before`), if ever."""

        async def select() -> tuple[str, ...] | None:
            async with self.db.engine.connect() as conn:
                row = (
                    await conn.execute(
                        sa.select(t.c.users)
                        .where(
                            t.c.schedule == schedule,
                            t.c.kind.like("sync:%"),
                            t.c.result.like("set%"),
                            t.c.at < before,
                        )
                        .order_by(t.c.at.desc())
                        .limit(1)
                    )
                ).first()
            return None if row is None else tuple(row.users)

        return await asyncio.wait_for(select(), self.timeout_s)

    async def sync(self, schedule: Schedule, at: datetime | None = None) -> SyncResult:
        """Make `schedule.group` equal to who is on call at `at` (default now), once per change."""
        at = at or now()
        group = schedule.group or ""
        since, users = await current_shift(self.directory, schedule, at)
        latest = await self._latest(schedule.name)
        if latest is not None and latest[0] == since and latest[2] == users:
            return SyncResult(schedule.name, group, "skipped", "already done by this or another replica", users)
        kind = sync_key(users, f"{latest[0].isoformat()}/{latest[1]}" if latest else "")
        if not await self.claim(schedule.name, since, kind, users):
            return SyncResult(schedule.name, group, "skipped", "already done by this or another replica", users)
        result = await self._apply(schedule, group, since, users)
        await self.done(schedule.name, since, kind, f"{result.status}: {result.text}")
        return result

    async def _apply(self, schedule: Schedule, group: str, since: datetime, users: tuple[str, ...]) -> SyncResult:
        if not users:  # Slack keeps at least one member: the group stays, the gap is said
            return SyncResult(
                schedule.name, group, "gap", f"nobody is on call since {since:%Y-%m-%d %H:%M} UTC; group left as it is"
            )
        try:
            members = await self.groups.members(group)
            if sorted(members) == sorted(users):
                return SyncResult(schedule.name, group, "same", "already " + _who(users), users)
            previous = await self.last_set(schedule.name, since)
            drift = previous is not None and sorted(previous) != sorted(members)
            await self.groups.set(group, list(users))
        except GroupRefused as err:
            return SyncResult(schedule.name, group, "refused", f"{err.error}: {err}", users)
        except Exception as err:
            return SyncResult(schedule.name, group, "failed", f"{type(err).__name__}: {err}", users)
        text = f"set to {_who(users)} (was {_who(tuple(members))})"
        if drift:
            text += f"; drift: edited by hand since alp set it to {_who(previous or ())}"
        return SyncResult(schedule.name, group, "set", text, users)

    async def sync_all(self, at: datetime | None = None) -> list[SyncResult]:
        out = []
        for s in self.directory.settings.schedules:
            if s.group:
                try:
                    out.append(await self.sync(s, at))
                except Exception as err:  # one schedule's trouble (an unread calendar) is its own finding
                    out.append(SyncResult(s.name, s.group, "failed", f"{type(err).__name__}: {err}"))
        return out


def _who(users: tuple[str, ...]) -> str:
    return ", ".join(f"<@{u}>" for u in users) or "nobody"


async def last_results(db: Database, timeout_s: float = 5.0) -> dict[str, tuple[datetime, str]]:
    """Each schedule's latest sync: (when, result text)."""

    async def select() -> dict[str, tuple[datetime, str]]:
        async with db.engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(t.c.schedule, t.c.at, t.c.result).where(t.c.kind.like("sync:%")).order_by(t.c.at)
                )
            ).all()
        return {r.schedule: (aware(r.at) or now(), r.result) for r in rows}

    return await asyncio.wait_for(select(), timeout_s)
