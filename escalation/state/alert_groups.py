"""Alertmanager alert groups: one row per episode of a group (firing ... resolved).

An episode holds what the bot knows of the group: its alerts by fingerprint, the Slack
message it keeps updating, the incident it opened (and the one before it, when the group
fires again later) and the silences made from its buttons. Its table is created by migration
0003 (`escalation.state.schema.alert_groups`). This table is the one place the
alert-group key is stored: incidents themselves are untouched (`incident_id` links them).

An alert is identified by its fingerprint and startsAt, not by the group key it arrives under
(`alp_alert_instances`, migration 0006): `instances` says which episode an alert belongs to and
whether it was seen resolved, so a late firing copy of a resolved alert opens nothing and a group
key changed by a reload (`group_by`) carries its episode over (`rekey`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from escalation.state.db import Database, now
from escalation.state.schema import alert_groups, alert_instances

AlertId = tuple[str, str]  # (fingerprint, startsAt)


@dataclass
class AlertGroup:
    id: int
    group_key: str
    status: str
    channel: str
    opened_at: datetime
    message_ts: str | None = None
    incident_id: int | None = None
    previous_incident_id: int | None = None
    alerts: dict[str, dict[str, Any]] = field(default_factory=dict)
    common_labels: dict[str, str] = field(default_factory=dict)
    route: dict[str, Any] = field(default_factory=dict)
    silences: list[str] = field(default_factory=list)
    notifications: int = 0

    def firing(self) -> list[dict[str, Any]]:
        return [a for a in self.alerts.values() if a.get("status") == "firing"]


class AlertGroups:
    """Episodes of alert groups, over the bot's state store (SQLite or PostgreSQL)."""

    def __init__(self, db: Database) -> None:
        self.engine = db.engine
        self._silences = asyncio.Lock()

    async def current(self, group_key: str) -> AlertGroup | None:
        """The group's latest episode (firing or resolved), if any."""
        q = alert_groups.select().where(alert_groups.c.group_key == group_key).order_by(alert_groups.c.id.desc())
        async with self.engine.connect() as conn:
            row = (await conn.execute(q.limit(1))).mappings().first()
        return _group(row) if row else None

    async def get(self, episode_id: int) -> AlertGroup | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(alert_groups.select().where(alert_groups.c.id == episode_id))).mappings().first()
        return _group(row) if row else None

    async def of_incident(self, incident_id: int) -> AlertGroup | None:
        q = alert_groups.select().where(alert_groups.c.incident_id == incident_id).order_by(alert_groups.c.id.desc())
        async with self.engine.connect() as conn:
            row = (await conn.execute(q.limit(1))).mappings().first()
        return _group(row) if row else None

    async def alerts_of_incident(self, incident_id: int) -> list[dict[str, Any]]:
        """The alerts (webhook dicts, each with its `fingerprint`) of the group that opened the incident."""
        group = await self.of_incident(incident_id)
        return [{**a, "fingerprint": fp} for fp, a in group.alerts.items()] if group else []

    async def keys_of_incidents(self) -> dict[int, tuple[str, int | None]]:
        """incident id -> (group key, previous incident id), for every alert-born incident."""
        q = sa.select(alert_groups.c.incident_id, alert_groups.c.group_key, alert_groups.c.previous_incident_id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(q.where(alert_groups.c.incident_id.is_not(None)))).all()
        return {int(r[0]): (str(r[1]), r[2]) for r in rows}

    async def start(self, group_key: str, channel: str, previous_incident_id: int | None) -> tuple[AlertGroup, bool]:
        """A new episode of the group (first time, or firing again after it resolved), and True;
        or the firing episode someone else started meanwhile, and False."""
        at = now()
        try:
            episode_id = await self._insert(group_key, channel, previous_incident_id, at)
        except sa.exc.IntegrityError:
            current = await self.current(group_key)
            assert current is not None
            return current, False
        group = await self.get(episode_id)
        assert group is not None
        return group, True

    async def _insert(self, group_key: str, channel: str, previous_incident_id: int | None, at: datetime) -> int:
        async with self.engine.begin() as conn:
            res = await conn.execute(
                alert_groups.insert().values(
                    group_key=group_key,
                    open_key=group_key,
                    status="firing",
                    channel=channel,
                    previous_incident_id=previous_incident_id,
                    alerts={},
                    common_labels={},
                    route={},
                    silences=[],
                    notifications=0,
                    opened_at=at,
                    updated_at=at,
                )
            )
            return int(res.inserted_primary_key[0])  # type: ignore[index]

    async def save(self, group: AlertGroup) -> None:
        """Write the episode as `group` holds it; its message and incident are never unset: a copy
        read before another task or replica recorded them (the announcement found again, the
        incident linked in its INSERT) keeps what that one wrote."""
        kept = {"message_ts": group.message_ts, "incident_id": group.incident_id}
        async with self.engine.begin() as conn:
            await conn.execute(
                alert_groups.update()
                .where(alert_groups.c.id == group.id)
                .values(
                    status=group.status,
                    open_key=group.group_key if group.status == "firing" else None,
                    channel=group.channel,
                    **{k: v for k, v in kept.items() if v is not None},
                    alerts=group.alerts,
                    common_labels=group.common_labels,
                    route=group.route,
                    silences=group.silences,
                    notifications=group.notifications,
                    updated_at=now(),
                )
            )

    async def set_message(self, episode_id: int, ts: str) -> None:
        """Record the episode's message (found again in the channel) and nothing else: a copy of the
        episode another task holds keeps its own changes."""
        async with self.engine.begin() as conn:
            await conn.execute(
                alert_groups.update().where(alert_groups.c.id == episode_id).values(message_ts=ts, updated_at=now())
            )

    async def add_silence(self, episode_id: int, silence_id: str) -> None:
        """Add a silence id to the episode (read, then written: one at a time in this process)."""
        async with self._silences:
            group = await self.get(episode_id)
            if group is not None and silence_id not in group.silences:
                group.silences = [*group.silences, silence_id]
                async with self.engine.begin() as conn:
                    await conn.execute(
                        alert_groups.update().where(alert_groups.c.id == episode_id).values(silences=group.silences)
                    )

    # ------------------------------------------------------------------ alerts by what identifies them
    async def instances(self, ids: list[AlertId]) -> dict[AlertId, tuple[int | None, str]]:
        """(fingerprint, startsAt) -> (episode id or None, firing/resolved) for the alerts known."""
        if not ids:
            return {}
        c = alert_instances.c
        keys = {(fp, starts[:64]) for fp, starts in ids}
        q = sa.select(c.fingerprint, c.starts_at, c.episode_id, c.status).where(
            c.fingerprint.in_({fp for fp, _ in keys})
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(q)).all()
        return {(r[0], r[1]): (r[2], r[3]) for r in rows if (r[0], r[1]) in keys}

    async def record_instances(self, episode_id: int | None, alerts: dict[AlertId, str]) -> None:
        """Remember each alert's episode and status, in one transaction; a resolved alert never goes
        back to firing. (Two replicas inserting the same alert at once: the loser tries again.)"""
        if not alerts:
            return
        for attempt in (1, 2):
            try:
                await self._record(episode_id, {(fp, starts[:64]): st for (fp, starts), st in alerts.items()})
                return
            except sa.exc.IntegrityError:
                if attempt == 2:
                    raise

    async def _record(self, episode_id: int | None, alerts: dict[AlertId, str]) -> None:
        c, at = alert_instances.c, now()
        known = await self.instances(list(alerts))
        async with self.engine.begin() as conn:
            for (fp, starts), status in alerts.items():
                values: dict[str, Any] = {"status": status, "updated_at": at}
                if episode_id is not None:
                    values["episode_id"] = episode_id
                if (fp, starts) not in known:
                    await conn.execute(
                        alert_instances.insert().values(
                            fingerprint=fp, starts_at=starts, **{"episode_id": None, **values}
                        )
                    )
                    continue
                where = [c.fingerprint == fp, c.starts_at == starts]
                if status == "firing":
                    where.append(c.status == "firing")
                await conn.execute(alert_instances.update().where(*where).values(**values))

    async def rekey(self, episode_id: int, group_key: str) -> AlertGroup | None:
        """The firing episode now comes under `group_key` (Alertmanager's group_by changed): its
        message and incident go with it. None when a firing episode already has that key."""
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    alert_groups.update()
                    .where(alert_groups.c.id == episode_id, alert_groups.c.status == "firing")
                    .values(group_key=group_key, open_key=group_key, updated_at=now())
                )
        except sa.exc.IntegrityError:
            return None
        return await self.get(episode_id)


def _group(row: Any) -> AlertGroup:
    opened = row["opened_at"]
    return AlertGroup(
        id=row["id"],
        group_key=row["group_key"],
        status=row["status"],
        channel=row["channel"],
        opened_at=opened,
        message_ts=row["message_ts"],
        incident_id=row["incident_id"],
        previous_incident_id=row["previous_incident_id"],
        alerts=dict(row["alerts"] or {}),
        common_labels=dict(row["common_labels"] or {}),
        route=dict(row["route"] or {}),
        silences=list(row["silences"] or []),
        notifications=row["notifications"],
    )
