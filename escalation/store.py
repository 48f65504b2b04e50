"""The bot's state store: incidents, their timeline, pages sent, and the audit log.

SQLAlchemy Core over SQLite (one replica, the default) or PostgreSQL (several replicas).
Every state change is one conditional UPDATE, so two clicks, two replicas or a stale timer
cannot both win: the loser's UPDATE matches no row and it does nothing.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from escalation.model import Incident, Priority, Status, Step, TimelineEntry

metadata = sa.MetaData()

incidents = sa.Table(
    "alp_incidents",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("priority", sa.String(4), nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("impact", sa.Text, nullable=False, default=""),
    sa.Column("services", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("opened_by", sa.String(64), nullable=False),
    sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ladder", sa.JSON, nullable=False),
    sa.Column("next_step", sa.Integer, nullable=False, default=0),
    sa.Column("escalation_id", sa.String(40)),
    sa.Column("announced", sa.Boolean, nullable=False, default=False),
    sa.Column("message_ts", sa.String(32)),
    sa.Column("acked_by", sa.String(64)),
    sa.Column("acked_at", sa.DateTime(timezone=True)),
    sa.Column("resolved_by", sa.String(64)),
    sa.Column("resolved_at", sa.DateTime(timezone=True)),
    sa.Column("checklist", sa.JSON, nullable=False),
    sa.Column("version", sa.Integer, nullable=False, default=0),
)

timeline = sa.Table(
    "alp_timeline",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("incident_id", sa.Integer, sa.ForeignKey("alp_incidents.id"), nullable=False, index=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(24), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
)

pages = sa.Table(
    "alp_pages",
    metadata,
    sa.Column("incident_id", sa.Integer, nullable=False),
    sa.Column("escalation_id", sa.String(40), nullable=False),
    sa.Column("step", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending, sent, failed
    sa.Column("due_at", sa.DateTime(timezone=True)),
    sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("error", sa.Text),
    sa.PrimaryKeyConstraint("incident_id", "escalation_id", "step"),
)

audit = sa.Table(
    "alp_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("event", sa.String(32), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("result", sa.Text, nullable=False, default=""),
    sa.Column("incident_id", sa.Integer),
)

action_requests = sa.Table(
    "alp_action_requests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("risk", sa.String(16), nullable=False),
    sa.Column("requester", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("status", sa.String(24), nullable=False),  # pending, awaiting_approval, running, done, failed, ...
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("preview", sa.JSON, nullable=False),
    sa.Column("confirmed_by", sa.String(64)),
    sa.Column("approver", sa.String(64)),
    sa.Column("approval_deadline", sa.DateTime(timezone=True)),
    sa.Column("outcome", sa.JSON),
    sa.Column("message_ts", sa.String(32)),
    sa.Column("thread_ts", sa.String(32)),
)


def now() -> datetime:
    return datetime.now(UTC)


def sqlalchemy_url(state_url: str) -> str:
    """ALP_STATE_URL as SQLAlchemy wants it (PostgreSQL through psycopg 3)."""
    for prefix in ("postgresql://", "postgres://"):
        if state_url.startswith(prefix):
            return "postgresql+psycopg://" + state_url[len(prefix) :]
    return state_url


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything here is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class Store:
    """Reads and conditional writes of incidents, timelines, pages and audit records."""

    def __init__(self, state_url: str) -> None:
        url = sqlalchemy_url(state_url)
        options: dict[str, Any] = {"future": True, "pool_pre_ping": True}
        if url.startswith("sqlite"):
            options["connect_args"] = {"timeout": 30}
        self.url = url
        self.engine: Engine = sa.create_engine(url, **options)
        metadata.create_all(self.engine)

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
    ) -> Incident:
        with self.engine.begin() as conn:
            res = conn.execute(
                incidents.insert().values(
                    priority=priority.value,
                    summary=summary,
                    impact=impact,
                    services=services,
                    status=Status.TRIGGERED.value,
                    channel=channel,
                    opened_by=opened_by,
                    opened_at=now(),
                    ladder=[s.as_dict() for s in ladder],
                    next_step=0,
                    escalation_id=escalation_id,
                    announced=False,
                    checklist=dict.fromkeys(checklist, False),
                    version=0,
                )
            )
            incident_id = int(res.inserted_primary_key[0])  # type: ignore[index]
            self._log(
                conn,
                incident_id,
                opened_by,
                "opened",
                f"opened {priority.value}: {summary}",
                {"impact": impact, "services": services},
            )
        inc = self.get(incident_id)
        assert inc is not None
        return inc

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

    def open_in_channel(self, channel: str) -> Incident | None:
        """The newest unresolved incident announced in `channel`."""
        q = (
            incidents.select()
            .where(incidents.c.channel == channel, incidents.c.status != Status.RESOLVED.value)
            .order_by(incidents.c.id.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(q).mappings().first()
        return _incident(row) if row else None

    def _transition(self, incident_id: int, where: Any, actor: str, kind: str, text: str, **values: Any) -> bool:
        """One conditional UPDATE plus its timeline entry, in one transaction."""
        with self.engine.begin() as conn:
            res = conn.execute(
                incidents.update()
                .where(incidents.c.id == incident_id, where)
                .values(version=incidents.c.version + 1, **values)
            )
            if res.rowcount != 1:
                return False
            self._log(conn, incident_id, actor, kind, text)
        return True

    def acknowledge(self, incident_id: int, user: str) -> bool:
        return self._transition(
            incident_id,
            incidents.c.status == Status.TRIGGERED.value,
            user,
            "ack",
            "acknowledged; escalation stopped",
            status=Status.ACKNOWLEDGED.value,
            acked_by=user,
            acked_at=now(),
            escalation_id=None,
        )

    def resolve(self, incident_id: int, user: str) -> bool:
        return self._transition(
            incident_id,
            incidents.c.status != Status.RESOLVED.value,
            user,
            "resolve",
            "resolved",
            status=Status.RESOLVED.value,
            resolved_by=user,
            resolved_at=now(),
            escalation_id=None,
        )

    def retrigger(self, incident_id: int, acked_at: datetime, escalation_id: str) -> bool:
        """Acknowledged too long without resolution: back to triggered, ladder resumes.
        Matches only the acknowledgement the timer was set for (a newer ack makes it stale)."""
        with self.engine.connect() as conn:
            stored = conn.execute(
                sa.select(incidents.c.acked_at, incidents.c.status).where(incidents.c.id == incident_id)
            ).first()
        if not stored or stored.status != Status.ACKNOWLEDGED.value or _aware(stored.acked_at) != acked_at:
            return False
        return self._transition(
            incident_id,
            incidents.c.status == Status.ACKNOWLEDGED.value,
            "alp",
            "retrigger",
            "acknowledged but not resolved in time: escalation resumes",
            status=Status.TRIGGERED.value,
            escalation_id=escalation_id,
        )

    def rewind(self, incident_id: int, escalation_id: str, step: int) -> None:
        """Point the ladder back at `step` (re-page the last rung after the ladder ran out)."""
        with self.engine.begin() as conn:
            conn.execute(
                incidents.update()
                .where(incidents.c.id == incident_id, incidents.c.escalation_id == escalation_id)
                .values(next_step=step)
            )

    def reopen(self, incident_id: int, escalation_id: str) -> bool:
        """Acknowledged -> triggered by hand (escalate now)."""
        return self._transition(
            incident_id,
            incidents.c.status == Status.ACKNOWLEDGED.value,
            "alp",
            "retrigger",
            "escalated while acknowledged",
            status=Status.TRIGGERED.value,
            escalation_id=escalation_id,
        )

    def claim_step(self, incident_id: int, escalation_id: str, step: int) -> Incident | None:
        """Take the right to page `step`: only for the active escalation, only once."""
        with self.engine.begin() as conn:
            res = conn.execute(
                incidents.update()
                .where(
                    incidents.c.id == incident_id,
                    incidents.c.escalation_id == escalation_id,
                    incidents.c.status == Status.TRIGGERED.value,
                    incidents.c.next_step == step,
                )
                .values(next_step=step + 1, version=incidents.c.version + 1)
            )
            if res.rowcount != 1:
                return None
            conn.execute(
                pages.insert().values(
                    incident_id=incident_id,
                    escalation_id=escalation_id,
                    step=step,
                    status="pending",
                    claimed_at=now(),
                    attempts=0,
                )
            )
        return self.get(incident_id)

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

    def set_message(self, incident_id: int, ts: str, channel: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(incidents.update().where(incidents.c.id == incident_id).values(message_ts=ts, channel=channel))

    def page_done(
        self, incident_id: int, escalation_id: str, step: int, ok: bool, attempts: int, error: str | None = None
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                pages.update()
                .where(pages.c.incident_id == incident_id, pages.c.escalation_id == escalation_id, pages.c.step == step)
                .values(status="sent" if ok else "failed", sent_at=now(), attempts=attempts, error=error)
            )

    def pending_pages(self, older_than_s: float) -> list[tuple[int, str, int]]:
        """Pages claimed but never finished (the process died while sending)."""
        cutoff = now().timestamp() - older_than_s
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(pages.c.incident_id, pages.c.escalation_id, pages.c.step, pages.c.claimed_at).where(
                    pages.c.status == "pending"
                )
            ).all()
        return [(r[0], r[1], r[2]) for r in rows if _aware(r[3]).timestamp() < cutoff]  # type: ignore[union-attr]

    def pages_of(self, incident_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = (
                conn.execute(pages.select().where(pages.c.incident_id == incident_id).order_by(pages.c.claimed_at))
                .mappings()
                .all()
            )
        return [dict(r) for r in rows]

    def tick(self, incident_id: int, item: str, done: bool, user: str) -> bool:
        inc = self.get(incident_id)
        if inc is None or item not in inc.checklist:
            return False
        checklist = {**inc.checklist, item: done}
        return self._transition(
            incident_id,
            incidents.c.version == inc.version,
            user,
            "checklist",
            f"{'ticked' if done else 'unticked'}: {item}",
            checklist=checklist,
        )

    # ------------------------------------------------------------------ timeline and audit
    def log(self, incident_id: int, actor: str, kind: str, text: str, data: dict[str, Any] | None = None) -> None:
        with self.engine.begin() as conn:
            self._log(conn, incident_id, actor, kind, text, data)

    @staticmethod
    def _log(conn: Any, incident_id: int, actor: str, kind: str, text: str, data: dict[str, Any] | None = None) -> None:
        conn.execute(
            timeline.insert().values(
                incident_id=incident_id,
                at=now(),
                actor=actor,
                kind=kind,
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
            TimelineEntry(_aware(r["at"]), r["actor"], r["kind"], r["text"], r["data"] or {})  # type: ignore[arg-type]
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
        with self.engine.connect() as conn:
            rows = conn.execute(audit.select().order_by(audit.c.id.desc()).limit(limit)).mappings().all()
        return [dict(r) for r in rows]


class ActionRequests:
    """Remediation requests: one row each, moved between states by conditional UPDATEs."""

    def __init__(self, store: Store) -> None:
        self.engine = store.engine

    def create(
        self,
        action: str,
        params: dict[str, Any],
        risk: str,
        requester: str,
        channel: str,
        ttl_s: float,
        preview: dict[str, Any],
        thread_ts: str | None = None,
    ) -> int:
        with self.engine.begin() as conn:
            res = conn.execute(
                action_requests.insert().values(
                    action=action,
                    params=params,
                    risk=risk,
                    requester=requester,
                    channel=channel,
                    status="pending",
                    created_at=now(),
                    expires_at=datetime.fromtimestamp(now().timestamp() + ttl_s, UTC),
                    preview=json.loads(json.dumps(preview, default=str)),
                    thread_ts=thread_ts,
                )
            )
            return int(res.inserted_primary_key[0])  # type: ignore[index]

    def get(self, request_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(action_requests.select().where(action_requests.c.id == request_id)).mappings().first()
        if row is None:
            return None
        out = dict(row)
        for col in ("created_at", "expires_at", "approval_deadline"):
            out[col] = _aware(out[col])
        return out

    def move(self, request_id: int, from_status: tuple[str, ...], to_status: str, **values: Any) -> bool:
        """status: from -> to, only if it is still in `from_status` (so one click wins)."""
        with self.engine.begin() as conn:
            res = conn.execute(
                action_requests.update()
                .where(action_requests.c.id == request_id, action_requests.c.status.in_(from_status))
                .values(status=to_status, **values)
            )
            return res.rowcount == 1

    def set_message(self, request_id: int, ts: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(action_requests.update().where(action_requests.c.id == request_id).values(message_ts=ts))


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
        opened_at=_aware(row["opened_at"]),  # type: ignore[arg-type]
        ladder=[Step.from_dict(s) for s in row["ladder"]],
        next_step=row["next_step"],
        escalation_id=row["escalation_id"],
        message_ts=row["message_ts"],
        acked_by=row["acked_by"],
        acked_at=_aware(row["acked_at"]),
        resolved_by=row["resolved_by"],
        resolved_at=_aware(row["resolved_at"]),
        checklist=dict(row["checklist"] or {}),
        version=row["version"],
    )
