"""Escalation state on the incident record, the page outbox, the leader's lease.

The due times that APScheduler kept in `alp_jobs` move onto the incidents; a triggered incident
whose step timer was lost (a crash between the timer's removal and the step's claim) becomes due
now, and a page left pending or failed on a still-active escalation is tried again.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("alp_incidents") as batch:
        batch.add_column(sa.Column("next_due_at", TS))
        batch.add_column(sa.Column("ack_due_at", TS))
        batch.add_column(sa.Column("remind_at", TS))
        batch.add_column(sa.Column("external_key", sa.String(200)))
    open_key = sa.text("external_key IS NOT NULL AND status <> 'resolved'")  # one open incident per key
    op.create_index(
        "ux_alp_incidents_open_key",
        "alp_incidents",
        ["external_key"],
        unique=True,
        postgresql_where=open_key,
        sqlite_where=open_key,
    )
    with op.batch_alter_table("alp_pages") as batch:
        batch.add_column(sa.Column("next_attempt_at", TS))
        batch.add_column(sa.Column("lease_until", TS))
        batch.add_column(sa.Column("failing_since", TS))
    op.create_table(
        "alp_leases",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("epoch", sa.Integer, nullable=False),
    )
    _move_timers()


def _move_timers() -> None:
    conn = op.get_bind()
    now = datetime.now(UTC)
    inc = sa.table(
        "alp_incidents",
        sa.column("id"),
        sa.column("status"),
        sa.column("ladder", sa.JSON),
        sa.column("next_step"),
        sa.column("escalation_id"),
        sa.column("next_due_at", TS),
        sa.column("ack_due_at", TS),
        sa.column("remind_at", TS),
    )
    pages = sa.table(
        "alp_pages",
        sa.column("incident_id"),
        sa.column("escalation_id"),
        sa.column("status"),
        sa.column("next_attempt_at", TS),
        sa.column("claimed_at", TS),
    )
    if sa.inspect(conn).has_table("alp_jobs"):
        for job_id, at in conn.execute(sa.text("SELECT id, next_run_time FROM alp_jobs")).all():
            kind, incident_id, token, step = ([*job_id.split(":"), "", "", "", ""])[:4]
            when = datetime.fromtimestamp(float(at), UTC) if at is not None else now
            if kind == "step":
                conn.execute(
                    inc.update()
                    .where(inc.c.id == int(incident_id), inc.c.escalation_id == token, inc.c.next_step == int(step))
                    .values(next_due_at=when)
                )
            elif kind in ("ack_timeout", "reminder"):
                column = "ack_due_at" if kind == "ack_timeout" else "remind_at"
                conn.execute(inc.update().where(inc.c.id == int(incident_id)).values({column: when}))
        op.drop_table("alp_jobs")
    for row in conn.execute(
        sa.select(inc.c.id, inc.c.ladder, inc.c.next_step).where(
            inc.c.status == "triggered", inc.c.next_due_at.is_(None)
        )
    ).all():
        ladder = row.ladder if isinstance(row.ladder, list) else json.loads(row.ladder)
        if row.next_step < len(ladder):  # a ladder whose timer was lost: due now
            conn.execute(inc.update().where(inc.c.id == row.id).values(next_due_at=now))
    active = sa.select(inc.c.id).where(
        inc.c.id == pages.c.incident_id, inc.c.status == "triggered", inc.c.escalation_id == pages.c.escalation_id
    )
    conn.execute(
        pages.update()
        .where(pages.c.status.in_(("pending", "failed")), sa.exists(active))
        .values(status="pending", next_attempt_at=now)
    )
    conn.execute(pages.update().where(pages.c.status == "pending", ~sa.exists(active)).values(status="abandoned"))
