"""The schema as `create_all` made it before migrations existed (databases from then are stamped
with this revision at their first start-up, then upgraded).

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "alp_incidents",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("priority", sa.String(4), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("impact", sa.Text, nullable=False),
        sa.Column("services", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("opened_by", sa.String(64), nullable=False),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("ladder", sa.JSON, nullable=False),
        sa.Column("next_step", sa.Integer, nullable=False),
        sa.Column("escalation_id", sa.String(40)),
        sa.Column("announced", sa.Boolean, nullable=False),
        sa.Column("message_ts", sa.String(32)),
        sa.Column("acked_by", sa.String(64)),
        sa.Column("acked_at", TS),
        sa.Column("resolved_by", sa.String(64)),
        sa.Column("resolved_at", TS),
        sa.Column("checklist", sa.JSON, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "alp_timeline",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("alp_incidents.id"), nullable=False, index=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
    )
    op.create_table(
        "alp_pages",
        sa.Column("incident_id", sa.Integer, nullable=False),
        sa.Column("escalation_id", sa.String(40), nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("due_at", TS),
        sa.Column("claimed_at", TS, nullable=False),
        sa.Column("sent_at", TS),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.PrimaryKeyConstraint("incident_id", "escalation_id", "step"),
    )
    op.create_table(
        "alp_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("result", sa.Text, nullable=False),
        sa.Column("incident_id", sa.Integer),
    )
    op.create_table(
        "alp_action_requests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("risk", sa.String(16), nullable=False),
        sa.Column("requester", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("preview", sa.JSON, nullable=False),
        sa.Column("confirmed_by", sa.String(64)),
        sa.Column("approver", sa.String(64)),
        sa.Column("approval_deadline", TS),
        sa.Column("outcome", sa.JSON),
        sa.Column("message_ts", sa.String(32)),
        sa.Column("thread_ts", sa.String(32)),
    )
