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
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import sqlalchemy as sa

from escalation.oncall.config import Schedule
from escalation.oncall.directory import Directory
from escalation.state.db import Database, aware, now
from escalation.state.schema import oncall_handoffs as t

LOOK_BACK = timedelta(days=60)
log = logging.getLogger(__name__)


class GroupRefused(Exception):
    """The workspace refused a user-group call: `error` is Slack's code, `str()` what to do about it."""

    def __init__(self, error: str, advice: str) -> None:
        super().__init__(advice)
        self.error = error


class Groups(Protocol):
    """Slack user groups (the bot's implementation: `bot.oncall.groups.SlackGroups`)."""

    async def members(self, group: str) -> list[str]: ...

    async def set(self, group: str, users: list[str]) -> None: ...


@dataclass(frozen=True)
class SyncResult:
    """What one sync did: `status` is set, same, skipped (claimed elsewhere), drift (a hand edit put
    back between handoffs), gap, refused, failed. `drifted`: the group had been edited by hand."""

    schedule: str
    group: str
    status: str
    text: str
    users: tuple[str, ...] = ()
    drifted: bool = False


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

    async def _latest(self, schedule: str) -> tuple[datetime, str, tuple[str, ...], datetime | None] | None:
        """The newest sync row of `schedule`: (shift start, kind, people, when it was done or None)."""

        async def select() -> tuple[datetime, str, tuple[str, ...], datetime | None] | None:
            async with self.db.engine.connect() as conn:
                row = (
                    await conn.execute(
                        sa.select(t.c.at, t.c.kind, t.c.users, t.c.done_at)
                        .where(t.c.schedule == schedule, t.c.kind.like("sync:%"))
                        .order_by(t.c.claimed_at.desc())
                        .limit(1)
                    )
                ).first()
            return None if row is None else (aware(row.at) or now(), row.kind, tuple(row.users), aware(row.done_at))

        return await asyncio.wait_for(select(), self.timeout_s)

    async def previous(self, schedule: str, kind: str, before: datetime) -> datetime | None:
        """The newest instant before `before` at which side effect `kind` of `schedule` was claimed."""

        async def select() -> datetime | None:
            async with self.db.engine.connect() as conn:
                found = await conn.execute(
                    sa.select(sa.func.max(t.c.at)).where(t.c.schedule == schedule, t.c.kind == kind, t.c.at < before)
                )
                return aware(found.scalar_one_or_none())

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
            drifted = await self.drift(schedule, group, since, users, latest[3])
            return drifted or SyncResult(
                schedule.name, group, "skipped", "already done by this or another replica", users
            )
        kind = sync_key(users, f"{latest[0].isoformat()}/{latest[1]}" if latest else "")
        if not await self.claim(schedule.name, since, kind, users):
            return SyncResult(schedule.name, group, "skipped", "already done by this or another replica", users)
        result = await self._apply(schedule, group, since, users)
        await self.done(schedule.name, since, kind, f"{result.status}: {result.text}")
        return result

    async def drift(
        self, schedule: Schedule, group: str, since: datetime, users: tuple[str, ...], synced: datetime | None
    ) -> SyncResult | None:
        """Between handoffs: a group that no longer holds the people on call (edited by hand) is put
        back, once per drift across replicas (claimed as kind `drift:…`, keyed by the members seen and
        the drift before it; a replica that read the members before another one put them back finds
        that drift and leaves it); None when the group is in step (or cannot be read)."""
        if not group or not users:
            return None
        read_at = now()
        if synced is None or synced > read_at:
            return None  # the shift's sync is still under way (another replica is setting the group)
        try:
            members = await self.groups.members(group)
        except Exception as err:  # the next sync says why; a read that fails is no drift
            log.debug("members of %s: %s", group, err)
            return None
        if sorted(members) == sorted(users):
            return None
        latest = await self._latest_drift(schedule.name, since)
        if latest is not None and sorted(latest[1]) == sorted(members) and (latest[2] is None or latest[2] > read_at):
            return None  # the drift another replica is putting back (or did, after this read)
        kind = (
            "drift:"
            + hashlib.sha256(f"{','.join(sorted(members))}|{latest[0] if latest else ''}".encode()).hexdigest()[:8]
        )
        if not await self.claim(schedule.name, since, kind, tuple(members)):
            return None
        try:
            await self.groups.set(group, list(users))
            result = SyncResult(
                schedule.name,
                group,
                "drift",
                f"drift: <!subteam^{group}> was edited by hand to {_who(tuple(members))}; put back to {_who(users)}, "
                "who the schedule has on call (change the schedule or make an override instead)",
                users,
                drifted=True,
            )
        except GroupRefused as err:
            result = SyncResult(
                schedule.name,
                group,
                "refused",
                f"drift seen ({_who(tuple(members))}), not put back: {err.error}: {err}",
                users,
                True,
            )
        except Exception as err:
            result = SyncResult(
                schedule.name, group, "failed", f"drift seen, not put back: {type(err).__name__}: {err}", users, True
            )
        await self.done(schedule.name, since, kind, f"{result.status}: {result.text}")
        return result

    async def _latest_drift(self, schedule: str, since: datetime) -> tuple[str, list[str], datetime | None] | None:
        """The newest drift row of this shift: (kind, members seen, when it was put back or None)."""

        async def select() -> tuple[str, list[str], datetime | None] | None:
            async with self.db.engine.connect() as conn:
                row = (
                    await conn.execute(
                        sa.select(t.c.kind, t.c.users, t.c.done_at)
                        .where(t.c.schedule == schedule, t.c.at == since, t.c.kind.like("drift:%"))
                        .order_by(t.c.claimed_at.desc())
                        .limit(1)
                    )
                ).first()
            return None if row is None else (row.kind, list(row.users), aware(row.done_at))

        return await asyncio.wait_for(select(), self.timeout_s)

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
        return SyncResult(schedule.name, group, "set", text, users, drift)

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
