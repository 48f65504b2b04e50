"""The bot's state store: incidents, their timeline, and the audit log.

SQLAlchemy Core over SQLite (one replica, the default) or PostgreSQL (several replicas); the schema
is migrated by Alembic at start-up (`migrate`). Every state change is one conditional UPDATE that
returns the new row (UPDATE ... RETURNING), so two clicks, two replicas or a stale timer cannot both
win: the loser's UPDATE matches no row and gets None. The page outbox is in `escalation.outbox`,
the leader's lease in `escalation.leader`, remediation requests in `escalation.requests`.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from escalation.db import aware, migrate, now, sqlalchemy_url
from escalation.model import Incident, Priority, Status, Step, TimelineEntry, TimelineKind
from escalation.requests import ActionRequests
from escalation.schema import audit, incidents, timeline


class Store:
    """Reads and conditional writes of incidents, timelines and audit records."""

    def __init__(self, state_url: str) -> None:
        url = sqlalchemy_url(state_url)
        options: dict[str, Any] = {"future": True, "pool_pre_ping": True}
        if url.startswith("sqlite"):
            options["connect_args"] = {"timeout": 30}
        self.url = url
        self.engine: Engine = sa.create_engine(url, **options)
        migrate(self.engine)

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def close(self) -> None:
        self.engine.dispose()

    async def ping(self, timeout_s: float) -> str | None:
        """None when the store answers, else why not."""

        def select_one() -> None:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))

        try:
            await asyncio.wait_for(asyncio.to_thread(select_one), timeout_s)
            return None
        except TimeoutError:
            return f"no answer within {timeout_s:g}s"
        except sa.exc.SQLAlchemyError as err:
            return f"{type(err).__name__}: {str(err).splitlines()[0]}"

    # ------------------------------------------------------------------ incidents
    def create(
        self,
        priority: Priority,
        summary: str,
        impact: str,
        services: list[str],
        channel: str,
        opened_by: str,
        ladder: list[Step],
        escalation_id: str,
        checklist: list[str],
        external_key: str | None = None,
    ) -> Incident:
        """A new triggered incident whose first step is due `ladder[0].delay_s` from now.
        With `external_key`: raises sqlalchemy.exc.IntegrityError if an open incident has that key."""
        opened = now()
        with self.engine.begin() as conn:
            row = (
                conn.execute(
                    incidents.insert()
                    .values(
                        priority=priority.value,
                        summary=summary,
                        impact=impact,
                        services=services,
                        status=Status.TRIGGERED.value,
                        channel=channel,
                        opened_by=opened_by,
                        opened_at=opened,
                        ladder=[s.as_dict() for s in ladder],
                        next_step=0,
                        next_due_at=opened + timedelta(seconds=ladder[0].delay_s),
                        escalation_id=escalation_id,
                        announced=False,
                        checklist=dict.fromkeys(checklist, False),
                        version=0,
                        external_key=external_key,
                    )
                    .returning(*incidents.c)
                )
                .mappings()
                .one()
            )
            self._log(
                conn,
                row["id"],
                opened_by,
                TimelineKind.OPENED,
                f"opened {priority.value}: {summary}",
                {"impact": impact, "services": services, **({"key": external_key} if external_key else {})},
            )
        return _incident(row)

    def get(self, incident_id: int) -> Incident | None:
        with self.engine.connect() as conn:
            row = conn.execute(incidents.select().where(incidents.c.id == incident_id)).mappings().first()
        return _incident(row) if row else None

    def incidents(self, open_only: bool = True, limit: int = 20) -> list[Incident]:
        q = incidents.select().order_by(incidents.c.id.desc()).limit(limit)
        if open_only:
            q = q.where(incidents.c.status != Status.RESOLVED.value)
        with self.engine.connect() as conn:
            return [_incident(r) for r in conn.execute(q).mappings()]

    def _newest_open(self, where: Any) -> Incident | None:
        q = (
            incidents.select()
            .where(where, incidents.c.status != Status.RESOLVED.value)
            .order_by(incidents.c.id.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(q).mappings().first()
        return _incident(row) if row else None

    def open_in_channel(self, channel: str) -> Incident | None:
        """The newest unresolved incident announced in `channel`."""
        return self._newest_open(incidents.c.channel == channel)

    def open_for_key(self, key: str) -> Incident | None:
        """The unresolved incident opened for an external key (e.g. an Alertmanager group key)."""
        return self._newest_open(incidents.c.external_key == key)

    def _transition(
        self, incident_id: int, where: Any, actor: str, kind: TimelineKind, text: str, **values: Any
    ) -> Incident | None:
        """One conditional UPDATE plus its timeline entry, in one transaction; the new incident,
        or None when the condition no longer held."""
        with self.engine.begin() as conn:
            row = (
                conn.execute(
                    incidents.update()
                    .where(incidents.c.id == incident_id, where)
                    .values(version=incidents.c.version + 1, **values)
                    .returning(*incidents.c)
                )
                .mappings()
                .first()
            )
            if row is None:
                return None
            self._log(conn, incident_id, actor, kind, text)
        return _incident(row)

    def acknowledge(self, incident_id: int, user: str, ack_timeout_s: float, reminder_s: float) -> Incident | None:
        """Triggered -> acknowledged; the ladder stops, the ack timeout and first reminder are set."""
        at = now()
        return self._transition(
            incident_id,
            incidents.c.status == Status.TRIGGERED.value,
            user,
            TimelineKind.ACK,
            "acknowledged; escalation stopped",
            status=Status.ACKNOWLEDGED.value,
            acked_by=user,
            acked_at=at,
            escalation_id=None,
            next_due_at=None,
            ack_due_at=at + timedelta(seconds=ack_timeout_s) if ack_timeout_s else None,
            remind_at=at + timedelta(seconds=reminder_s),
        )

    def resolve(self, incident_id: int, user: str) -> Incident | None:
        return self._transition(
            incident_id,
            incidents.c.status != Status.RESOLVED.value,
            user,
            TimelineKind.RESOLVE,
            "resolved",
            status=Status.RESOLVED.value,
            resolved_by=user,
            resolved_at=now(),
            escalation_id=None,
            next_due_at=None,
            ack_due_at=None,
            remind_at=None,
        )

    def retrigger(self, incident_id: int, acked_at: datetime, escalation_id: str, step: int) -> Incident | None:
        """Acknowledged too long without resolution: back to triggered with `step` due now.
        Matches only the acknowledgement the timeout was set for (a newer ack makes it stale)."""
        return self._transition(
            incident_id,
            sa.and_(
                incidents.c.status == Status.ACKNOWLEDGED.value,
                incidents.c.acked_at == acked_at,
                incidents.c.ack_due_at <= now(),
            ),
            "alp",
            TimelineKind.RETRIGGER,
            "acknowledged but not resolved in time: escalation resumes",
            **self._resumed(escalation_id, step),
        )

    def reopen(self, incident_id: int, version: int, escalation_id: str, step: int) -> Incident | None:
        """Acknowledged -> triggered by hand (escalate now), only from the state the user saw."""
        return self._transition(
            incident_id,
            sa.and_(incidents.c.status == Status.ACKNOWLEDGED.value, incidents.c.version == version),
            "alp",
            TimelineKind.RETRIGGER,
            "escalated while acknowledged",
            **self._resumed(escalation_id, step),
        )

    @staticmethod
    def _resumed(escalation_id: str, step: int) -> dict[str, Any]:
        return {
            "status": Status.TRIGGERED.value,
            "escalation_id": escalation_id,
            "next_step": step,
            "next_due_at": now(),
            "ack_due_at": None,
            "remind_at": None,
        }

    def advance(self, incident_id: int, escalation_id: str, step: int, next_due_at: datetime | None) -> Incident | None:
        """Move the ladder past `step` (only on the active escalation, only once): the step's page
        goes into the outbox in the same transaction (`escalation.outbox`)."""
        from escalation.outbox import insert_page

        with self.engine.begin() as conn:
            row = (
                conn.execute(
                    incidents.update()
                    .where(
                        incidents.c.id == incident_id,
                        incidents.c.escalation_id == escalation_id,
                        incidents.c.status == Status.TRIGGERED.value,
                        incidents.c.next_step == step,
                    )
                    .values(next_step=step + 1, next_due_at=next_due_at, version=incidents.c.version + 1)
                    .returning(*incidents.c)
                )
                .mappings()
                .first()
            )
            if row is None:
                return None
            insert_page(conn, incident_id, escalation_id, step)
        return _incident(row)

    def remind(self, incident_id: int, due: datetime, next_at: datetime) -> Incident | None:
        """Take the reminder due at `due` (once, whoever tries) and set the next one."""
        with self.engine.begin() as conn:
            row = (
                conn.execute(
                    incidents.update()
                    .where(
                        incidents.c.id == incident_id,
                        incidents.c.status == Status.ACKNOWLEDGED.value,
                        incidents.c.remind_at == due,
                    )
                    .values(remind_at=next_at)
                    .returning(*incidents.c)
                )
                .mappings()
                .first()
            )
        return _incident(row) if row else None

    def due(self, at: datetime) -> dict[str, list[Incident]]:
        """What the reconciler has to do at `at`: "announce", "step", "ack_timeout", "reminder"."""
        c = incidents.c
        acked = c.status == Status.ACKNOWLEDGED.value
        wheres = {
            "announce": sa.and_(c.announced.is_(False), c.status != Status.RESOLVED.value),
            "step": sa.and_(c.status == Status.TRIGGERED.value, c.next_due_at <= at),
            "ack_timeout": sa.and_(acked, c.ack_due_at <= at),
            "reminder": sa.and_(acked, c.remind_at <= at),
        }
        with self.engine.connect() as conn:
            return {
                k: [_incident(r) for r in conn.execute(incidents.select().where(w).order_by(c.id)).mappings()]
                for k, w in wheres.items()
            }

    def next_due(self) -> datetime | None:
        """The earliest step, ack timeout or reminder due on any open incident."""
        c = incidents.c
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(sa.func.min(c.next_due_at), sa.func.min(c.ack_due_at), sa.func.min(c.remind_at)).where(
                    c.status != Status.RESOLVED.value
                )
            ).one()
        times = [aware(t) for t in row if t is not None]
        return min(times) if times else None  # type: ignore[type-var]

    def claim_announcement(self, incident_id: int) -> bool:
        with self.engine.begin() as conn:
            res = conn.execute(
                incidents.update()
                .where(incidents.c.id == incident_id, incidents.c.announced.is_(False))
                .values(announced=True)
            )
            return res.rowcount == 1

    def release_announcement(self, incident_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(incidents.update().where(incidents.c.id == incident_id).values(announced=False))

    def set_message(self, incident_id: int, ts: str, channel: str) -> Incident | None:
        with self.engine.begin() as conn:
            row = (
                conn.execute(
                    incidents.update()
                    .where(incidents.c.id == incident_id)
                    .values(message_ts=ts, channel=channel)
                    .returning(*incidents.c)
                )
                .mappings()
                .first()
            )
        return _incident(row) if row else None

    def tick(self, incident_id: int, item: str, done: bool, user: str) -> bool:
        inc = self.get(incident_id)
        if inc is None or item not in inc.checklist:
            return False
        checklist = {**inc.checklist, item: done}
        return (
            self._transition(
                incident_id,
                incidents.c.version == inc.version,
                user,
                TimelineKind.CHECKLIST,
                f"{'ticked' if done else 'unticked'}: {item}",
                checklist=checklist,
            )
            is not None
        )

    # ------------------------------------------------------------------ timeline and audit
    def log(self, incident_id: int, actor: str, kind: str, text: str, data: dict[str, Any] | None = None) -> None:
        with self.engine.begin() as conn:
            self._log(conn, incident_id, actor, kind, text, data)

    @staticmethod
    def _log(
        conn: Connection, incident_id: int, actor: str, kind: str, text: str, data: dict[str, Any] | None = None
    ) -> None:
        conn.execute(
            timeline.insert().values(
                incident_id=incident_id,
                at=now(),
                actor=actor,
                kind=str(kind),
                text=text,
                data=json.loads(json.dumps(data or {}, default=str)),
            )
        )

    def timeline(self, incident_id: int) -> list[TimelineEntry]:
        with self.engine.connect() as conn:
            rows = (
                conn.execute(timeline.select().where(timeline.c.incident_id == incident_id).order_by(timeline.c.id))
                .mappings()
                .all()
            )
        return [
            TimelineEntry(aware(r["at"]), r["actor"], r["kind"], r["text"], r["data"] or {})  # type: ignore[arg-type]
            for r in rows
        ]

    def record_audit(
        self,
        actor: str,
        event: str,
        action: str,
        params: dict[str, Any],
        result: str = "",
        incident_id: int | None = None,
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                audit.insert().values(
                    at=now(),
                    actor=actor,
                    event=event,
                    action=action,
                    params=params,
                    result=result,
                    incident_id=incident_id,
                )
            )

    def latest_audit(self, limit: int = 20) -> list[dict[str, Any]]:
        """The newest audit records first, each {id, at, actor, event, action, params, result, incident_id}."""
        with self.engine.connect() as conn:
            rows = conn.execute(audit.select().order_by(audit.c.id.desc()).limit(limit)).mappings().all()
        return [dict(r) for r in rows]


def _incident(row: Any) -> Incident:
    return Incident(
        id=row["id"],
        priority=Priority(row["priority"]),
        summary=row["summary"],
        impact=row["impact"] or "",
        services=list(row["services"] or []),
        status=Status(row["status"]),
        channel=row["channel"],
        opened_by=row["opened_by"],
        opened_at=aware(row["opened_at"]),  # type: ignore[arg-type]
        ladder=[Step.from_dict(s) for s in row["ladder"]],
        next_step=row["next_step"],
        escalation_id=row["escalation_id"],
        message_ts=row["message_ts"],
        acked_by=row["acked_by"],
        acked_at=aware(row["acked_at"]),
        resolved_by=row["resolved_by"],
        resolved_at=aware(row["resolved_at"]),
        checklist=dict(row["checklist"] or {}),
        version=row["version"],
        next_due_at=aware(row["next_due_at"]),
        ack_due_at=aware(row["ack_due_at"]),
        remind_at=aware(row["remind_at"]),
        external_key=row["external_key"],
    )


__all__ = ["ActionRequests", "Store", "aware", "migrate", "now", "sqlalchemy_url"]
